"""`make run`, measured: the default study on the built-in mnist1d data.

`model-search run --dataset mnist1d --seed S` with every other setting at
its default (the search budget, recorded in the raw file: 3 rounds x 2
trainers x 2 trials of 10 epochs since 2026-12-02; ensemble and student), per
seed: the wall time of the run (after set-up: the CLI from process start to
exit), the chosen candidate and its test accuracy (chosen on eval), and the
best single trial's. Issue 23's target: test accuracy of
the chosen model at least 0.97, at most 5 minutes a run.

    .venv/bin/python benchmarks/default_run.py --seeds 0 1 2

Writes benchmarks/results/default_run.json (raw) and .md (the table, from the raw file).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_run  # noqa: E402

TARGET_ACCURACY, TARGET_SECONDS = 0.97, 300
BUDGET_KEYS = ("rounds", "trainers", "trials_per_trainer", "epochs")


def measure(seed: int, workdir: Path) -> dict:
    run = study_run.run_measured(["--dataset", "mnist1d", "--seed", str(seed)], workdir / f"seed{seed}")
    board = run["leaderboard"]
    candidates = {c["name"]: c for c in board["candidates"]}
    chosen = candidates[board["chosen"]]
    return {
        "seed": seed, "wall_seconds": run["wall_seconds"], "chosen": board["chosen"],
        "chosen_test_accuracy": chosen["test"]["accuracy"], "chosen_eval_accuracy": chosen["eval"]["accuracy"],
        "chosen_num_params": chosen["num_params"],
        "best_single_test_accuracy": candidates["best_single"]["test"]["accuracy"],
        "trials": [{k: t.get(k) for k in ("trial_id", "architecture", "metrics", "num_params", "epochs",
                                          "train_seconds", "status")} for t in run["trials"]],
        "time": run["time"], "memory": run["memory"],
    }


def default_budget() -> dict:
    from pipeline.config_schema import StudySettings

    return {key: StudySettings.model_fields[key].default for key in BUDGET_KEYS}


def budget_text(budget: dict) -> str:
    return (f"default budget {budget['rounds']} rounds × {budget['trainers']} trainers × "
            f"{budget['trials_per_trainer']} trials of {budget['epochs']} epochs")


def markdown(report: dict) -> str:
    lines = [
        "# `make run`: the default study on mnist1d", "",
        f"`{report['command']}`, seeds {report['seeds']}; {report['machine']}, TensorFlow's default threads; "
        f"{report['date']}, commit {report['commit']}; {budget_text(report['budget'])}. "
        f"Targets: test accuracy of the chosen model at least "
        f"{TARGET_ACCURACY}, at most {TARGET_SECONDS} s a run.", "",
        "| seed | wall s | chosen | test accuracy | eval accuracy | parameters | best single: test |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        lines.append(f"| {run['seed']} | {run['wall_seconds']:.0f} | {run['chosen']} | "
                     f"{run['chosen_test_accuracy']:.3f} | {run['chosen_eval_accuracy']:.3f} | "
                     f"{run['chosen_num_params']:,} | {run['best_single_test_accuracy']:.3f} |")
    median = report["median"]
    lines += ["", f"Median: {median['wall_seconds']:.0f} s, test accuracy {median['chosen_test_accuracy']:.3f}. "
              f"Accuracy target met: {'yes' if median['chosen_test_accuracy'] >= TARGET_ACCURACY else 'no'}; "
              f"time target met: {'yes' if median['wall_seconds'] <= TARGET_SECONDS else 'no'}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", default="benchmarks/results/default_run")
    parser.add_argument("--report-only", action="store_true", help="regenerate OUT.md from OUT.json")
    args = parser.parse_args(argv)
    if args.report_only:
        report = json.loads(Path(args.out).with_suffix(".json").read_text())
        Path(args.out).with_suffix(".md").write_text(markdown(report))
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    commit = study_run.git_commit()
    with tempfile.TemporaryDirectory(prefix="default-run-") as scratch:
        runs = [measure(seed, Path(scratch)) for seed in args.seeds]
    report = {
        "command": "model-search run --dataset mnist1d --seed S --output DIR --json",
        "benchmark_command": "benchmarks/default_run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "seeds": args.seeds, "budget": default_budget(), "machine": study_run.machine(), "threads": os.cpu_count(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "commit": commit,
        "runs": runs,
        "median": {key: statistics.median(r[key] for r in runs) for key in ("wall_seconds", "chosen_test_accuracy")},
    }
    study_run.write_report(args.out, report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
