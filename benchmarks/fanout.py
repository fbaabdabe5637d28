"""Fan-out throughput and orchestration overhead of the local pipeline.

Runs the same study twice on the built-in data - N=2 concurrent trainers with T
trials each per round, and N=1 trainer with 2T - so both train the same number
of trials, and reports trials per hour, the speed-up, and for each run where
the wall time went (see study_run.py): fitting, evaluation, and the overhead
by cause (start-up, ingestion, trainer nodes outside their trials, other
nodes, orchestration), plus memory.

    .venv/bin/python benchmarks/fanout.py            # 5 rounds x 4 trials = 20 trials a run, 5 epochs
    .venv/bin/python benchmarks/fanout.py --quick    # 1 round x 4 trials, 2 epochs

Writes benchmarks/results/fanout.json and .md (`--out` to change).
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_run  # noqa: E402 - benchmarks/ is not a package


def measure(args, trainers: int, trials_per_trainer: int, output: Path) -> dict:
    run = study_run.run_measured([
        "--dataset", args.dataset, "--rounds", str(args.rounds), "--trainers", str(trainers),
        "--trials-per-trainer", str(trials_per_trainer), "--epochs", str(args.epochs),
        "--distill-epochs", str(args.distill_epochs), "--seed", str(args.seed),
    ], output)
    trials = run["summary"]["trials"]["total"]
    return {
        "command": run["command"],
        "trainers": trainers,
        "trials": trials,
        "wall_seconds": run["wall_seconds"],
        "trials_per_hour": round(3600 * trials / run["wall_seconds"], 1),
        "chosen": run["summary"]["chosen"],
        "chosen_test": run["summary"]["chosen_metrics"]["test"],
        "time": run["time"],
        "memory": {k: v for k, v in run["memory"].items() if k != "samples"},
    }


def markdown(report: dict) -> str:
    n1, n2 = report["n1"], report["n2"]
    lines = [f"## Fan-out and pipeline overhead ({report['dataset']}, {n1['trials']} trials a run, "
             f"{report['epochs']} epochs a trial)", "",
             f"Machine: {report['machine']}; {report['date']}.", "",
             "| trainers | wall (s) | trials per hour | overhead share | peak memory (MiB) | memory growth (MiB) |",
             "|---|---|---|---|---|---|"]
    for run in (n1, n2):
        lines.append(f"| {run['trainers']} | {run['wall_seconds']:.0f} | {run['trials_per_hour']:.0f} | "
                     f"{100 * run['time']['overhead_share']:.1f}% | {run['memory'].get('peak_mib')} | "
                     f"{run['memory'].get('growth_mib')} |")
    lines += ["", f"Speed-up of 2 trainers over 1: **{report['speedup_n2_over_n1']}x** (same trials).", "",
              "Where the wall time of the 1-trainer run went:", "", "| part | seconds | share |", "|---|---|---|"]
    for name, seconds in n1["time"]["seconds"].items():
        lines.append(f"| {name.replace('_', ' ')} | {seconds:.1f} | {100 * seconds / n1['time']['wall_seconds']:.1f}% |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist1d")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trials-per-trainer", type=int, default=2, help="with 2 trainers (1 trainer gets twice)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--distill-epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 round, 2 epochs")
    parser.add_argument("--out", default="benchmarks/results/fanout", help="path without extension")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.epochs, args.distill_epochs = 1, 2, 2
    scratch = Path(tempfile.mkdtemp(prefix="fanout-"))
    try:
        serial = measure(args, 1, 2 * args.trials_per_trainer, scratch / "n1")
        parallel = measure(args, 2, args.trials_per_trainer, scratch / "n2")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report = {
        "machine": study_run.machine(),
        "date": datetime.date.today().isoformat(),
        "dataset": args.dataset,
        "rounds": args.rounds,
        "epochs": args.epochs,
        "n1": serial,
        "n2": parallel,
        "speedup_n2_over_n1": round(serial["wall_seconds"] / parallel["wall_seconds"], 2),
    }
    study_run.write_report(args.out, report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
