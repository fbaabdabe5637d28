"""The search-efficiency benchmark's report: per-seed and per-method
summaries, the markdown tables (rendered from the raw JSON report alone), and
writing or combining the JSON and markdown files."""

from __future__ import annotations

import json
import math
import shlex
import statistics
import sys
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_efficiency_data import BUDGET_MARKS, METHODS, OURS, TARGET_ACCURACY, TIME_THRESHOLDS  # noqa: E402


def curve_of_choice(records: list[dict]) -> list[tuple[float, Optional[float], Optional[float]]]:
    """After each trial: (trials spent, eval and test accuracy of the best-on-eval model)."""
    spent, best_eval, chosen_test, points = 0.0, -math.inf, None, []
    for item in records:
        spent += item["cost_trials"]
        if item["status"] == "completed" and item["eval_accuracy"] is not None and item["eval_accuracy"] > best_eval:
            best_eval, chosen_test = item["eval_accuracy"], item["test_accuracy"]
        points.append((round(spent, 3), None if best_eval == -math.inf else best_eval, chosen_test))
    return points


def seconds_to_accuracy(records: list[dict], threshold: float) -> Optional[float]:
    """Wall seconds from the method's start until the model it would pick then
    (best on eval so far) first has test accuracy >= `threshold`; None if never."""
    for item, (_, _, chosen_test) in zip(records, curve_of_choice(records)):
        if chosen_test is not None and chosen_test >= threshold:
            return item["elapsed_seconds"]
    return None


def accuracy_at_seconds(records: list[dict], seconds: float) -> Optional[float]:
    """Test accuracy of the model the method would pick `seconds` after its
    start (best on eval among the trials finished by then); None if none had."""
    chosen = None
    for item, (_, _, chosen_test) in zip(records, curve_of_choice(records)):
        if item["elapsed_seconds"] > seconds:
            break
        chosen = chosen_test
    return chosen


def time_marks(seconds: float) -> list[float]:
    """A third, two thirds and all of a wall-time budget."""
    return [round(seconds * share) for share in (1 / 3, 2 / 3, 1)]


def accuracy_at_times(runs: dict, marks: list[float]) -> dict:
    """Per method: the pick's test accuracy at each mark per seed and the
    median over seeds (a seed with no pick yet counts as the lowest)."""
    result = {}
    for method, by_seed in runs.items():
        if not by_seed:
            continue
        per_seed = {seed: {f"{mark:g}": accuracy_at_seconds(records, mark) for mark in marks}
                    for seed, records in sorted(by_seed.items(), key=lambda item: int(item[0]))}
        median = {}
        for key in (f"{mark:g}" for mark in marks):
            values = [s[key] for s in per_seed.values()]
            middle = statistics.median([-math.inf if v is None else v for v in values])
            median[key] = None if math.isinf(middle) else middle
        result[method] = {"median": median, "per_seed": per_seed}
    return result


def threshold_key(threshold: float) -> str:
    return f"{threshold:.3f}"


def time_to_accuracy(runs: dict, thresholds=TIME_THRESHOLDS) -> dict:
    """Per method: seconds to each threshold per seed, their median (a seed
    that never reaches it counts as never: None when the median seed does
    not), how many seeds reach it, and the machine's mean load average over
    its trials (wall times compare only at a like load)."""
    result = {}
    for method, by_seed in runs.items():
        if not by_seed:
            continue
        per_seed = {seed: {threshold_key(t): seconds_to_accuracy(records, t) for t in thresholds}
                    for seed, records in sorted(by_seed.items(), key=lambda item: int(item[0]))}
        median, reaching = {}, {}
        for key in (threshold_key(t) for t in thresholds):
            times = [s[key] for s in per_seed.values()]
            middle = statistics.median([math.inf if t is None else t for t in times])
            median[key] = None if math.isinf(middle) else middle
            reaching[key] = sum(t is not None for t in times)
        loads = [r["load_average_1min"] for records in by_seed.values() for r in records if "load_average_1min" in r]
        result[method] = {"median_seconds": median, "seeds_reaching": reaching, "seeds_run": len(per_seed),
                          "per_seed": per_seed,
                          "mean_load_average_1min": round(statistics.mean(loads), 2) if loads else None}
    return result


def budget_marks(budget: Optional[int]) -> list[int]:
    """The marks within a trial budget (all of them under a wall-time budget)."""
    return [m for m in BUDGET_MARKS if budget is None or m <= budget]


def summarize(records: list[dict], marks=BUDGET_MARKS) -> dict:
    points = curve_of_choice(records)
    at = {}
    for mark in marks:
        within = [p for p in points if p[0] <= mark + 1e-9]
        at[str(mark)] = within[-1][2] if within and points[-1][0] >= mark - 1e-9 else None
    reach = next((p[0] for p in points if p[2] is not None and p[2] >= TARGET_ACCURACY), None)
    return {
        "best_test_at": at,
        "trials_to_98": reach,
        "final_test": points[-1][2] if points else None,
        "wall_seconds": records[-1]["elapsed_seconds"] if records else 0.0,
        "epochs_trained": sum(r["epochs"] or 0 for r in records),
        "stopped_early": sum(1 for r in records if r["stopped_early"]),
        "failed": sum(1 for r in records if r["status"] != "completed"),
    }


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, pattern: str = "{:.3f}") -> str:
    return "–" if value is None else pattern.format(value)


def markdown(report: dict) -> str:
    marks = report["budget_marks"]
    if report.get("seconds"):
        budget = f"{report['seconds']:g} s of wall time a method and seed"
        not_reached = "`–`: not reached in the median seed"
    else:
        budget = f"{report['budget']} trials"
        not_reached = f"`>{report['budget']}`: not within the budget in the median seed"
    lines = [
        f"# Search efficiency on mnist1d ({report['machine']}"
        + (f"; {report['threads']} TensorFlow thread(s) a run" if report.get("threads") else "") + ")",
        "",
        f"{report['epochs']} epochs a trial, {len(report['seeds'])} seed(s) {report['seeds']}, budget "
        f"{budget}; test accuracy of the model each method picks on the eval split (median over "
        f"seeds). Trials to {TARGET_ACCURACY:.0%}: the first budget at which that model reaches it "
        f"({not_reached}). Command: `{report['command']}`."
        + (f" Commit {report['commit']}." if report.get("commit") else ""),
        "",
        "| method | seeds | " + " | ".join(f"test acc @{m}" for m in marks)
        + f" | trials to {TARGET_ACCURACY:.0%} | epochs trained | stopped early | wall s |",
        "|---|---|" + "---|" * (len(marks) + 4),
    ]
    options = report.get("options") or {}
    if options.get("budget_schedule", "none") != "none":
        lines[2:2] = [f"Our algorithms with `--budget-schedule {options['budget_schedule']}`: new trials train the "
                      "bottom rung's epochs and the best are promoted; their budget is counted in epoch-equivalent "
                      "trials (planned epochs / epochs a trial).", ""]
    if options.get("max_params"):
        lines[2:2] = [f"Our algorithms propose only models of at most {options['max_params']:,} parameters.", ""]
    if not report.get("complete", True):
        lines[2:2] = ["**Partial: the run was stopped before every method and seed had run.**", ""]

    for method, summary in report["summary"].items():
        reach = summary["trials_to_98"]
        reach_text = f"{reach:g}" if reach is not None else "–" if report.get("seconds") else f">{report['budget']}"
        lines.append(
            f"| {method} | {len(summary['seeds_run'])} | "
            + " | ".join(fmt(summary["best_test_at"].get(str(m))) for m in marks)
            + f" | {reach_text} | {fmt(summary['epochs_trained'], '{:g}')} | {fmt(summary['stopped_early'], '{:g}')}"
            f" | {fmt(summary['wall_seconds'], '{:.0f}')} |"
        )
    if report.get("time_to_accuracy"):
        lines += time_to_accuracy_table(report["time_to_accuracy"])
    if report.get("accuracy_at_seconds"):
        lines += accuracy_at_times_table(report["accuracy_at_seconds"])
    if report.get("transfer"):
        lines += ["", "Weight sharing and distillation (children of the beam run, retrained for the full budget):", "",
                  "| child | parent eval acc | epochs to parent: scratch | with parent's weights | "
                  "test acc: scratch | weights | weights + teacher |", "|---|---|---|---|---|---|---|"]
        for row in report["transfer"]:
            def get(name, key):
                return (row.get(name) or {}).get(key)
            lines.append(
                f"| {row['child']} ({'+'.join(row['blocks'])}) | {row['parent_eval_accuracy']:.3f} | "
                f"{fmt(get('scratch', 'epochs_to_parent'), '{:g}')} | {fmt(get('weights', 'epochs_to_parent'), '{:g}')} | "
                f"{fmt(get('scratch', 'test_accuracy'))} | {fmt(get('weights', 'test_accuracy'))} | "
                f"{fmt(get('weights_teacher', 'test_accuracy'))} |")
    return "\n".join(lines) + "\n"


def time_to_accuracy_table(times: dict) -> list[str]:
    keys = list(next(iter(times.values()))["median_seconds"])

    def seconds(value):
        return fmt(value, "{:.0f}")

    lines = ["", "Time to accuracy: wall seconds from a method's start until the model it would pick then (best on "
             "eval so far) first reaches the accuracy on test; median over seeds, a seed that never reaches it "
             "counting as never (`–`: the median seed does not), each seed in brackets; the machine's 1-minute "
             "load average, mean over the method's trials.", "",
             "| method | seeds | " + " | ".join(f"s to {float(k):.1%}" for k in keys)
             + " | " + " | ".join(f"seeds reaching {float(k):.1%}" for k in keys) + " | load |",
             "|---|---|" + "---|" * (2 * len(keys) + 1)]
    for method, row in times.items():
        lines.append(
            f"| {method} | {row['seeds_run']} | "
            + " | ".join(f"{seconds(row['median_seconds'][k])} "
                         f"[{', '.join(seconds(s[k]) for s in row['per_seed'].values())}]" for k in keys)
            + " | " + " | ".join(f"{row['seeds_reaching'][k]}/{row['seeds_run']}" for k in keys)
            + f" | {fmt(row.get('mean_load_average_1min'), '{:.2f}')} |")
    return lines


def accuracy_at_times_table(accuracies: dict) -> list[str]:
    keys = list(next(iter(accuracies.values()))["median"])
    lines = ["", "Accuracy at a given time: test accuracy of the model a method would pick (best on eval so far) "
             "that many seconds after its start; median over seeds, each seed in brackets.", "",
             "| method | " + " | ".join(f"test acc @{k} s" for k in keys) + " |",
             "|---|" + "---|" * len(keys)]
    for method, row in accuracies.items():
        lines.append(f"| {method} | " + " | ".join(
            f"{fmt(row['median'][k])} [{', '.join(fmt(s[k]) for s in row['per_seed'].values())}]" for k in keys) + " |")
    return lines


def summarize_runs(runs: dict, budget: Optional[int]) -> dict:
    """Per method: the median over seeds of what `summarize` reports per seed."""
    marks = budget_marks(budget)
    summary = {}
    for method, by_seed in runs.items():
        if not by_seed:
            continue
        per_seed = {seed: summarize(records, marks) for seed, records in by_seed.items()}
        reaches = [s["trials_to_98"] if s["trials_to_98"] is not None else math.inf for s in per_seed.values()]
        median_reach = statistics.median(reaches)
        summary[method] = {
            "best_test_at": {str(m): median_or_none([s["best_test_at"].get(str(m)) for s in per_seed.values()])
                             for m in marks},
            "trials_to_98": None if math.isinf(median_reach) else median_reach,
            "epochs_trained": median_or_none([s["epochs_trained"] for s in per_seed.values()]),
            "stopped_early": median_or_none([s["stopped_early"] for s in per_seed.values()]),
            "wall_seconds": median_or_none([s["wall_seconds"] for s in per_seed.values()]),
            "seeds_run": sorted(int(seed) for seed in by_seed),
            "per_seed": per_seed,
        }
    return summary


def write_report(out: str, settings: dict, runs: dict, transfer: list, total_seconds: float, complete: bool) -> dict:
    """Summarises what has run so far and writes it as JSON and markdown
    (after every method and seed, so an interrupted benchmark still leaves its
    finished part; each file is written whole and renamed)."""
    report = {
        **settings,
        "budget_marks": budget_marks(settings["budget"]),
        "total_seconds": round(total_seconds, 1), "complete": complete,
        "summary": summarize_runs(runs, settings["budget"]), "time_to_accuracy": time_to_accuracy(runs),
        **({"accuracy_at_seconds": accuracy_at_times(runs, time_marks(settings["seconds"]))}
           if settings.get("seconds") else {}),
        "transfer": transfer, "trials": runs,
    }
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(report, indent=1) + "\n"), (".md", markdown(report))):
        partial = path.with_suffix(suffix + ".tmp")
        partial.write_text(text)
        partial.replace(path.with_suffix(suffix))
    return report


def planned_methods(commands: list[str]) -> set[str]:
    """The methods these benchmark commands asked for (`--methods`; without it, all of them)."""
    planned: set[str] = set()
    for command in commands:
        tokens = shlex.split(command)
        if "--methods" not in tokens:
            return set(METHODS)
        for token in tokens[tokens.index("--methods") + 1:]:
            if token.startswith("--"):
                break
            planned.add(token)
    return planned


def combine(paths: list[str], out: str, command: Optional[str] = None, complete: bool = True) -> dict:
    """One report from several runs of this benchmark with the same settings
    (e.g. seeds run in two processes): their trials side by side."""
    reports = [json.loads(Path(p).read_text()) for p in paths]
    keys = ("dataset", "space", "epochs", "budget")

    def runs_ours(report):
        return bool(set(report["trials"]) & set(OURS))

    # The options (weight sharing, distillation, early stopping) are the platform's algorithms'; the peers
    # (KerasTuner, Optuna) ignore them, so a peers-only run joins runs of ours with any options.
    ours = [r for r in reports if runs_ours(r)] or reports[:1]
    for other in reports[1:]:
        differ = [k for k in keys if other[k] != reports[0][k]]
        if other.get("seconds") != reports[0].get("seconds"):
            differ.append("seconds")
        elif other.get("seconds") and other["machine"] != reports[0]["machine"]:
            differ.append("machine (wall-time budgets compare on one)")
        if runs_ours(other) and other["options"] != ours[0]["options"]:
            differ.append("options of the platform's algorithms")
        if differ:
            raise SystemExit(f"search_efficiency: cannot combine runs with different {', '.join(differ)}")
    runs: dict[str, dict[str, list]] = {}
    for report in reports:
        for method, by_seed in report["trials"].items():
            runs.setdefault(method, {}).update(by_seed)
    settings = {k: reports[0][k] for k in ("machine", "dataset", "split_sizes", *keys)}
    settings["options"] = ours[0]["options"]
    if reports[0].get("seconds"):
        settings["seconds"] = reports[0]["seconds"]
    commits = sorted({r["commit"] for r in reports if r.get("commit")})
    if commits:
        settings["commit"] = ", ".join(commits)
    threads = sorted({r.get("threads") for r in reports} - {None})
    settings["threads"] = threads[0] if len(threads) == 1 else threads
    # Each run's own command stays in the report (a combined report's own list,
    # or its " + "-joined command, counts as its runs); `command` may summarise them.
    settings["runs"] = [c for r in reports for c in r.get("runs") or r["command"].split(" + ")]
    settings["command"] = command or " + ".join(settings["runs"])
    settings["seeds"] = sorted({s for r in reports for s in r["seeds"]})
    transfer = next((r["transfer"] for r in reports if r["transfer"]), [])
    # Partial parts make a complete whole once every method the runs asked for has run every seed.
    covered = all(set(runs.get(m, {})) >= {str(s) for s in settings["seeds"]}
                  for m in planned_methods(settings["runs"]))
    return write_report(out, settings, runs, transfer, sum(r["total_seconds"] for r in reports),
                        complete and (covered or all(r["complete"] for r in reports)))

