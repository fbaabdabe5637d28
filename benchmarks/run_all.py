"""The benchmark suite: one entry point for `make bench` and `make bench-quick`.

Runs, one after the other (the machine's cores are shared by nothing else):

- headline.py: `model-search run examples/mnist1d.yaml` - the three candidates,
  accuracy over time, where the wall time went, memory, ensemble and
  distillation gains;
- fanout.py: trials per hour with 1 and 2 concurrent trainers and the
  pipeline's overhead on a 20-trial run;
- search_efficiency.py: each search algorithm against random search and
  KerasTuner on mnist1d;
- audio.py: a default search on two espeak-ng speech sets against a
  hand-written 2-D CNN and logistic regression (needs espeak-ng).

Each writes OUT/<name>.json and .md; then OUT/SUMMARY.md joins their tables, rendered
from the JSON (into benchmarks/results, `make results-docs` renders every table of the
docs too).

    .venv/bin/python benchmarks/run_all.py            # everything, full size (many hours: search efficiency)
    .venv/bin/python benchmarks/run_all.py --quick    # cut-down versions in under 10 minutes, to benchmarks/results/quick
    .venv/bin/python benchmarks/run_all.py --only headline fanout
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import results_docs  # noqa: E402 - benchmarks/ is not a package

STEPS = {
    # name: (script, full arguments, quick arguments)
    "headline": ("headline.py", ["--seeds", "0", "1", "2"], ["--quick"]),
    "fanout": ("fanout.py", [], ["--quick", "--trials-per-trainer", "1"]),
    # At full size, one one-thread run per core: small models leave a second core idle.
    "search_efficiency": ("search_efficiency.py", ["--jobs", str(os.cpu_count() or 1)],
                          ["--methods", "beam", "random", "kt_random", "--seeds", "0", "--budget", "6", "--epochs", "2",
                           "--transfer-pairs", "1"]),
    # Needs espeak-ng (.ci/install_espeak.sh) to speak its data sets.
    "audio": ("audio.py", [], ["--tasks", "keywords", "--seeds", "0", "--search-args",
                               "--rounds 1 --trials-per-trainer 1 --epochs 2 --distill-epochs 1"]),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", choices=list(STEPS), default=list(STEPS))
    parser.add_argument("--out", help="results folder (default benchmarks/results, or benchmarks/results/quick)")
    parser.add_argument("--summary-only", action="store_true", help="only rewrite SUMMARY.md from the parts' results")
    args = parser.parse_args(argv)
    out = Path(args.out or (HERE / "results" / ("quick" if args.quick else "")))
    out.mkdir(parents=True, exist_ok=True)
    durations: dict[str, float] = {}
    failed = []
    for name in [] if args.summary_only else args.only:
        script, full, quick = STEPS[name]
        command = [sys.executable, str(HERE / script), *(quick if args.quick else full), "--out", str(out / name)]
        print(f"== {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        started = time.monotonic()
        result = subprocess.run(command, stdout=subprocess.DEVNULL)
        durations[name] = time.monotonic() - started
        print(f"== {name}: {'done' if result.returncode == 0 else f'FAILED ({result.returncode})'} "
              f"in {durations[name]:.0f} s", file=sys.stderr, flush=True)
        if result.returncode != 0:
            failed.append(name)
    if durations:
        (out / "durations.json").write_text(json.dumps({k: round(v, 1) for k, v in durations.items()}, indent=1) + "\n")
    if out.resolve() == results_docs.RESULTS:
        results_docs.main([])  # the committed results: SUMMARY.md and every table of the docs
    else:
        (out / "SUMMARY.md").write_text(results_docs.summary(out, list(STEPS), args.quick))
    print(f"wrote {out / 'SUMMARY.md'} ({sum(durations.values()):.0f} s)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
