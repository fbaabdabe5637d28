"""The disk a study uses before and after `model-search gc`, by category.

Three measurements, each in a fresh run directory, with `du -sb`:

- `gc`: the 2x2x2 digits study run with `--keep all` (nothing removed at the
  end of the run: what every run left before the retention setting), then
  `model-search gc --output DIR` with the default retention (best-10);
- `gc_after_second_run`: the same, after a second run of the study (16 trials,
  so best-10 has trials to remove);
- `run_default`: the study run with the default setting, which applies the
  retention at the end of the run, then `gc` (which finds nothing left).

Usage: .venv/bin/python benchmarks/gc_disk.py [--out benchmarks/results/gc_disk.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_run  # noqa: E402 - benchmarks/ is not a package

STUDY = ["--dataset", "digits", "--rounds", "2", "--trainers", "2", "--trials-per-trainer", "2", "--epochs", "1",
         "--distill-epochs", "1"]


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], check=True, capture_output=True, text=True).stdout.split()[0])


def command(args: list[str], shown: list[str]) -> dict:
    """Runs `model-search ARGS` (as `python -m pipeline.cli`); `shown` is how the report writes it."""
    started = time.monotonic()
    done = subprocess.run(study_run.cli(*args), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(shown)} failed:\n{done.stderr[-3000:]}")
    return {"command": " ".join(shown), "seconds": round(time.monotonic() - started, 1), "stdout": done.stdout}


def measure(directory: Path, runs: list[list[str]]) -> dict:
    steps = []
    for extra in runs:
        args = ["run", *STUDY, *extra, "--output", str(directory), "--json"]
        step = command(args, ["model-search", *args[:-1]])
        summary = json.loads(step.pop("stdout"))
        steps.append({**step, "run_id": summary["run_id"], "freed_at_end_of_run": summary.get("freed"),
                      "du_sb_after": du(directory)})
    before = du(directory)
    # Explicit: without --keep, gc applies what the runs recorded (all here).
    args = ["gc", "--output", str(directory), "--keep", "best-10", "--json"]
    step = command(args, ["model-search", *args[:-1]])
    report = json.loads(step.pop("stdout"))
    after = du(directory)
    return {
        "runs": steps,
        "gc": {**step, "keep": report["keep"]},
        "du_sb_before_gc": before,
        "du_sb_after_gc": after,
        "du_freed": before - after,
        "freed_by_category": report["freed"],
        "gc_bytes_before": report["bytes_before"],
        "gc_bytes_after": report["bytes_after"],
        "trials": {s["study"]: {"total": s["trials"], "files_kept": len(s["kept"]),
                                "removed_now": len(s["removed_trials"]), "kept_why": s["kept"]}
                   for s in report["studies"]},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/gc_disk.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gc_disk_") as scratch:
        root = Path(scratch)
        results = {
            "gc": measure(root / "gc", [["--keep", "all"]]),
            "gc_after_second_run": measure(root / "two_runs", [["--keep", "all"], ["--keep", "all"]]),
            "run_default": measure(root / "default", [[]]),
        }
    report = {
        "what": "disk used by a run directory (du -sb) before and after `model-search gc --keep best-10` (the "
                "default retention), and what each category freed (gc's own count of file bytes)",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": study_run.machine(),
        "reproduce": ".venv/bin/python benchmarks/gc_disk.py",
        "note": "DIR is a fresh temporary directory per measurement; du -sb counts directories' own sizes too, "
                "so du's difference and gc's freed bytes differ slightly",
        **results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    for name, result in results.items():
        print(f"{name}: {result['du_sb_before_gc']:,} -> {result['du_sb_after_gc']:,} bytes (du -sb); "
              + ", ".join(f"{k} {v['count']} / {v['bytes']:,} B" for k, v in result["freed_by_category"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
