"""Issue 33's throughput target, measured: the share of the trainers' wall time spent fitting.

Runs `model-search run ARGS` once (study_run.py's harness) and divides the sum of the
trials' `fit_seconds` (Keras' training steps, the validation passes left out) by

- the trainer nodes' seconds (each TrialTrainer execution's interval, summed: one trainer each), and
- trainers x the run's wall time,

with the node-interval breakdown beside them (more robust than absolute seconds on a shared machine).

    .venv/bin/python benchmarks/trainer_fit_share.py --out /tmp/fit_share -- \\
        examples/mnist1d.yaml --budget-schedule asha --epochs 27 --rounds 6 --distill-epochs 20

Writes OUT.json (raw) and OUT.md (the table).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_run  # noqa: E402

TARGET_SHARE = 0.9


def fit_share(run: dict, trainers: int) -> dict:
    fit = sum(t.get("fit_seconds") or 0 for t in run["trials"])
    trainer_nodes = [n for n in run["nodes"] if n["node"] == "TrialTrainer"]
    node_seconds = sum(n["end"] - n["start"] for n in trainer_nodes)
    node_span = study_run.union_seconds([(n["start"], n["end"]) for n in trainer_nodes])
    return {
        "trials": len(run["trials"]),
        "fit_seconds_sum": round(fit, 1),
        "trial_train_seconds_sum": round(sum(t.get("train_seconds") or 0 for t in run["trials"]), 1),
        "trainer_node_seconds_sum": round(node_seconds, 1),
        "trainer_nodes_span_seconds": round(node_span, 1),
        "share_of_trainer_node_seconds": round(fit / node_seconds, 3) if node_seconds else None,
        "share_of_trainers_x_trainer_span": round(fit / (trainers * node_span), 3) if node_span else None,
        "share_of_trainers_x_run_wall": round(fit / (trainers * run["wall_seconds"]), 3),
    }


def markdown(report: dict) -> str:
    share, time = report["share"], report["run"]["time"]
    lines = [
        f"`{report['run']['command']}` on {report['machine']} (commit {report['commit']}):",
        "",
        "| measure | value |",
        "|---|---|",
        f"| run wall (s) | {report['run']['wall_seconds']} |",
        *(f"| {key} | {value} |" for key, value in share.items()),
        "",
        "| node | seconds (summed over executions) |",
        "|---|---|",
        *(f"| {node} | {seconds} |" for node, seconds in time["node_seconds"].items()),
        "",
        "| wall time by cause | seconds |",
        "|---|---|",
        *(f"| {cause} | {seconds} |" for cause, seconds in time["seconds"].items()),
        "",
        f"Target (issue 33): at least {TARGET_SHARE:.0%} of the trainers' wall time fitting.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="OUT.json and OUT.md")
    parser.add_argument("--trainers", type=int, default=2, help="the run's trainers (as its config sets them)")
    parser.add_argument("--workdir", help="where the run directory goes; unset: a temporary one")
    parser.add_argument("run_args", nargs=argparse.REMAINDER, help="-- then `model-search run` arguments")
    args = parser.parse_args()
    run_args = [a for a in args.run_args if a != "--"]
    with tempfile.TemporaryDirectory() as scratch:
        run = study_run.run_measured(run_args, Path(args.workdir or scratch) / "run")
    report = {"machine": study_run.machine(), "commit": study_run.git_commit(), "run": run,
              "share": fit_share(run, args.trainers)}
    study_run.write_report(args.out, report, markdown(report))


if __name__ == "__main__":
    main()
