"""The headline run: `model-search run examples/mnist1d.yaml`, measured.

Reports the three candidates (best single model, ensemble, distilled student)
with test accuracy, parameters and CPU latency as the pipeline's own
SearchEvaluator measured them (chosen on eval, reported on test), the best eval
accuracy over wall time, where the wall time went (see study_run.py), memory,
and the ensemble's and the student's gains as ratios from the same run.

    .venv/bin/python benchmarks/headline.py            # the study as committed (~24 min here)
    .venv/bin/python benchmarks/headline.py --quick    # 1 round, 2 trials, 3 epochs (~2 min)

Writes benchmarks/results/headline.json and .md (`--out` to change), and the
raw measurements to headline.raw.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_run  # noqa: E402 - benchmarks/ is not a package

TARGETS = {"chosen_test_accuracy": 0.995, "wall_seconds": 1800, "student_params": 15000,
           "student_test_accuracy": 0.990}
QUICK_OVERRIDES = ["--rounds", "1", "--trials-per-trainer", "1", "--epochs", "3", "--distill-epochs", "2"]


def accuracy_over_time(trials: list[dict], started_at: float) -> list[dict]:
    """Best eval accuracy found so far, at each trial's end (seconds since the run started)."""
    points, best = [], None
    finished = [t for t in trials if t.get("status") == "completed" and t.get("finished_at")]
    for trial in sorted(finished, key=lambda t: t["finished_at"]):
        accuracy = (trial.get("metrics") or {}).get("accuracy")
        if accuracy is None:
            continue
        if best is None or accuracy > best["eval_accuracy"]:
            best = {"trial_id": trial["trial_id"], "eval_accuracy": round(accuracy, 4)}
        elapsed = datetime.datetime.fromisoformat(trial["finished_at"]).timestamp() - started_at
        points.append({"seconds": round(elapsed, 1), "trial_id": trial["trial_id"],
                       "trial_eval_accuracy": round(accuracy, 4), "best_so_far": dict(best)})
    return points


def candidates_table(leaderboard: dict) -> list[dict]:
    return [{
        "name": c["name"],
        "test_accuracy": c["test"].get("accuracy"),
        "eval_accuracy": c["eval"].get("accuracy"),
        "eval_loss": c["eval"].get("loss"),
        "num_params": c["num_params"],
        "latency_ms_batch_1": c.get("latency_ms"),
        "latency_ms_batch_256": c.get("latency_ms_batch_256"),
        "trial_ids": c.get("trial_ids", []),
    } for c in leaderboard["candidates"]]


def gains(table: list[dict]) -> dict:
    """Ensemble against the best single model, student against the ensemble: ratios from one run."""
    by_name = {c["name"]: c for c in table}
    single, ensemble, student = (by_name.get(n) for n in ("best_single", "ensemble", "distilled"))
    result = {}

    def ratio(a, b):
        return round(a / b, 3) if a is not None and b else None

    if single and ensemble:
        result["ensemble_vs_best_single"] = {
            "test_accuracy_points": round(100 * (ensemble["test_accuracy"] - single["test_accuracy"]), 2),
            "params_ratio": ratio(ensemble["num_params"], single["num_params"]),
            "latency_ratio_batch_1": ratio(ensemble["latency_ms_batch_1"], single["latency_ms_batch_1"]),
        }
    if ensemble and student:
        result["student_vs_ensemble"] = {
            "test_accuracy_points": round(100 * (student["test_accuracy"] - ensemble["test_accuracy"]), 2),
            "params_ratio": ratio(student["num_params"], ensemble["num_params"]),
            "latency_ratio_batch_1": ratio(student["latency_ms_batch_1"], ensemble["latency_ms_batch_1"]),
        }
    return result


def target_check(report: dict) -> dict:
    by_name = {c["name"]: c for c in report["candidates"]}
    chosen = by_name[report["chosen"]]
    student = by_name.get("distilled") or {}
    return {
        "chosen_test_accuracy": {"target": TARGETS["chosen_test_accuracy"], "measured": chosen["test_accuracy"],
                                 "met": chosen["test_accuracy"] >= TARGETS["chosen_test_accuracy"]},
        "wall_seconds": {"target": TARGETS["wall_seconds"], "measured": report["wall_seconds"],
                         "met": report["wall_seconds"] <= TARGETS["wall_seconds"]},
        "student": {"target": f"<= {TARGETS['student_params']} params at >= {TARGETS['student_test_accuracy']}",
                    "measured": f"{student.get('num_params')} params at {student.get('test_accuracy')}",
                    "met": bool(student) and student["num_params"] <= TARGETS["student_params"]
                    and student["test_accuracy"] >= TARGETS["student_test_accuracy"]},
    }


def markdown(report: dict) -> str:
    lines = [f"## Headline run: `{report['command']}`", "",
             f"Machine: {report['machine']}; {report['date']}. Wall time {report['wall_seconds']:.0f} s, "
             f"{report['trials']['completed']} trials completed ({report['trials']['failed']} failed); "
             f"chosen: **{report['chosen']}** (select: {report.get('select', 'best')}, on eval).", "",
             "| candidate | test accuracy | eval accuracy | eval loss | parameters | latency batch 1 (ms) | "
             "latency batch 256 (ms) |",
             "|---|---|---|---|---|---|---|"]
    for c in report["candidates"]:
        loss = f"{c['eval_loss']:.4f}" if c.get("eval_loss") is not None else "-"
        lines.append(f"| {c['name']} | {c['test_accuracy']:.4f} | {c['eval_accuracy']:.4f} | {loss} | {c['num_params']:,} | "
                     f"{c['latency_ms_batch_1']} | {c['latency_ms_batch_256']} |")
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for name, check in report["targets"].items():
        lines.append(f"| {name}: {check['target']} | {check['measured']} | {'yes' if check['met'] else 'no'} |")
    g = report["gains"]
    if g:
        lines += ["", "| comparison (same run) | test accuracy (points) | parameters (ratio) | latency batch 1 (ratio) |",
                  "|---|---|---|---|"]
        for name, values in g.items():
            lines.append(f"| {name.replace('_', ' ')} | {values['test_accuracy_points']:+.2f} | "
                         f"{values['params_ratio']} | {values['latency_ratio_batch_1']} |")
    t = report["time"]
    lines += ["", f"Where the wall time went ({t['wall_seconds']:.0f} s; overhead = outside fitting and "
              f"evaluation: **{100 * t['overhead_share']:.1f}%**):", "",
              "| part | seconds | share |", "|---|---|---|"]
    for name, seconds in t["seconds"].items():
        lines.append(f"| {name.replace('_', ' ')} | {seconds:.1f} | {100 * seconds / t['wall_seconds']:.1f}% |")
    memory = report["memory"]
    lines += ["", f"Memory (whole process tree): peak {memory.get('peak_mib')} MiB; growth from the second to the "
              f"last quarter of the run {memory.get('growth_mib')} MiB"
              + (f"; workers replaced for memory {memory['worker_replacements']} time(s)."
                 if "worker_replacements" in memory else "."), "",
              "Best eval accuracy over time (when it improved): " + ", ".join(
                  f"{p['seconds']:.0f} s {p['best_so_far']['eval_accuracy']:.4f} ({p['best_so_far']['trial_id']})"
                  for i, p in enumerate(report["accuracy_over_time"])
                  if i == 0 or p["best_so_far"] != report["accuracy_over_time"][i - 1]["best_so_far"])
              + f"; {len(report['accuracy_over_time'])} trials completed by "
              f"{report['accuracy_over_time'][-1]['seconds']:.0f} s." if report["accuracy_over_time"] else "",
              ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="examples/mnist1d.yaml")
    parser.add_argument("--quick", action="store_true", help="the same study cut to " + " ".join(QUICK_OVERRIDES))
    parser.add_argument("--out", default="benchmarks/results/headline", help="path without extension")
    parser.add_argument("--from-raw", action="store_true",
                        help="rewrite the report from OUT.raw.json (the last run's measurements) without running")
    args = parser.parse_args(argv)
    raw = Path(args.out + ".raw.json")
    if not args.from_raw:
        scratch = Path(tempfile.mkdtemp(prefix="headline-"))
        try:
            started = datetime.datetime.now(datetime.timezone.utc).timestamp()
            run = study_run.run_measured([args.config, *(QUICK_OVERRIDES if args.quick else [])], scratch / "study")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.write_text(json.dumps({"started": started, "run": run}))
    measured = json.loads(raw.read_text())
    started, run = measured["started"], measured["run"]
    if "nodes" in run:  # re-split with the current rules
        run["time"] = study_run.breakdown(*run["span"], run["trials"], run["nodes"])
    report = {
        "machine": study_run.machine(),
        "date": datetime.date.today().isoformat(),
        "command": run["command"],
        "quick": args.quick,
        "wall_seconds": run["wall_seconds"],
        "chosen": run["summary"]["chosen"],
        "select": run["leaderboard"].get("select", "best"),
        "trials": run["summary"]["trials"],
        "candidates": candidates_table(run["leaderboard"]),
        "time": run["time"],
        "memory": run["memory"],
        "accuracy_over_time": accuracy_over_time(run["trials"], started),
        "trial_list": [{k: t.get(k) for k in ("trial_id", "status", "algorithm", "num_params", "epochs",
                                              "stopped_early", "train_seconds", "parent")}
                       | {"blocks": t["architecture"], "eval_accuracy": (t.get("metrics") or {}).get("accuracy")}
                       for t in run["trials"]],
    }
    report["gains"] = gains(report["candidates"])
    report["targets"] = target_check(report)
    study_run.write_report(args.out, report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
