"""Issue 33's throughput target, measured: the share of the trainers' wall time spent fitting.

Runs `model-search run ARGS --seed S` once per seed (study_run.py's harness) and divides the
sum of the trials' `fit_seconds` (Keras' training steps, the validation passes left out) by

- the trainer nodes' seconds (each TrialTrainer execution's interval, summed: one trainer each), and
- trainers x the run's wall time (ingest, start-up and the post-search nodes included, when
  no trainer can fit),

with the node-interval breakdown beside them (more robust than absolute seconds on a shared machine).

    .venv/bin/python benchmarks/trainer_fit_share.py --out benchmarks/results/trainer_fit_share \\
        --seeds 0 1 2 -- examples/mnist1d.yaml --time-budget 10m

Writes OUT.json (raw: every run, its command, seed, machine and commit) and OUT.md (the
tables). A seed OUT.json already holds is skipped, so a sitting can be resumed or extended.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_run  # noqa: E402

TARGET_SHARE = 0.9
SHARES = ("share_of_trainer_node_seconds", "share_of_trainers_x_trainer_span", "share_of_trainers_x_run_wall")


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


def runs_of(report: dict) -> list[dict]:
    """The report's runs; a file of the first, one-run layout is its seed 0."""
    if "runs" in report:
        return report["runs"]
    return [{"seed": 0, "machine": report["machine"], "commit": report["commit"],
             "run": report["run"], "share": report["share"]}]


def markdown(report: dict) -> str:
    runs = sorted(runs_of(report), key=lambda r: r["seed"])
    lines = [
        f"`{runs[0]['run']['command']}` and the same with `--seed S`, one run per seed, on "
        f"{runs[0]['machine']}, nothing else running; trainers: {report.get('trainers', 2)}.",
        "",
        "| seed | commit | run wall s | trials | fit s (sum) | trainer node s (sum) | fit / trainer node s "
        "| fit / (trainers x trainer span) | fit / (trainers x run wall) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in runs:
        share = entry["share"]
        lines.append(f"| {entry['seed']} | {entry['commit']} | {entry['run']['wall_seconds']:.0f} | {share['trials']} "
                     f"| {share['fit_seconds_sum']:.0f} | {share['trainer_node_seconds_sum']:.0f} | "
                     + " | ".join(f"{share[key]:.3f}" for key in SHARES) + " |")
    if len(runs) > 1:
        wall = statistics.median(e["run"]["wall_seconds"] for e in runs)
        lines.append(f"| median | | {wall:.0f} | | | | "
                     + " | ".join(f"{statistics.median(e['share'][key] for e in runs):.3f}" for key in SHARES) + " |")
    lines += ["", "Wall time by cause, seconds (each run):", "",
              "| seed | " + " | ".join(runs[0]["run"]["time"]["seconds"]) + " |",
              "|---|" + "---|" * len(runs[0]["run"]["time"]["seconds"])]
    for entry in runs:
        lines.append(f"| {entry['seed']} | " + " | ".join(
            f"{entry['run']['time']['seconds'].get(cause, 0):.1f}" for cause in runs[0]["run"]["time"]["seconds"]) + " |")
    lines += ["", "Node seconds, summed over executions (each run):", "",
              "| seed | " + " | ".join(runs[0]["run"]["time"]["node_seconds"]) + " |",
              "|---|" + "---|" * len(runs[0]["run"]["time"]["node_seconds"])]
    for entry in runs:
        lines.append(f"| {entry['seed']} | " + " | ".join(
            f"{entry['run']['time']['node_seconds'].get(node, 0):.1f}" for node in runs[0]["run"]["time"]["node_seconds"])
            + " |")
    lines += ["", f"Target (issue 33): at least {TARGET_SHARE:.0%} of the trainers' wall time fitting."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="OUT.json and OUT.md")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed (`--seed S`)")
    parser.add_argument("--trainers", type=int, default=2, help="the run's trainers (as its config sets them)")
    parser.add_argument("--workdir", help="where the run directories go; unset: a temporary one")
    parser.add_argument("--report-only", action="store_true", help="OUT.md again from OUT.json")
    parser.add_argument("run_args", nargs=argparse.REMAINDER, help="-- then `model-search run` arguments")
    args = parser.parse_args()
    if args.report_only:
        study_run.rerender(args.out, markdown)
        return
    run_args = [a for a in args.run_args if a != "--"]
    path = Path(args.out).with_suffix(".json")
    runs = runs_of(json.loads(path.read_text())) if path.exists() else []
    for seed in args.seeds:
        if any(entry["seed"] == seed for entry in runs):
            continue
        with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
            run = study_run.run_measured([*run_args, "--seed", str(seed)], Path(scratch) / "run")
        runs.append({"seed": seed, "machine": study_run.machine(), "commit": study_run.git_commit(),
                     "run": run, "share": fit_share(run, args.trainers)})
        report = {"trainers": args.trainers, "runs": sorted(runs, key=lambda r: r["seed"])}
        study_run.write_report(args.out, report, markdown(report))


if __name__ == "__main__":
    main()
