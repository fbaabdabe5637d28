"""`make results-docs`: every results table in the docs, rendered from benchmarks/results/*.json.

Writes, from the raw files alone (nothing is measured):
- each `<name>.md` beside a `<name>.json` that has a renderer in BESIDE (the
  benchmark's own `markdown`, as its `--report-only` writes it);
- `benchmarks/results/SUMMARY.md`: those renderings joined;
- the generated regions of docs/results.md and README.md: the text between
  `<!-- results-docs: NAME -->` and `<!-- /results-docs -->` is TABLES[NAME]
  rendered; the prose around them is written by hand.

    .venv/bin/python -m benchmarks.results_docs           # rewrite what differs
    .venv/bin/python -m benchmarks.results_docs --check   # exit 1 naming the stale files

A new table: add its renderer to TABLES (and a new raw file's benchmark
renderer to BESIDE), then put the markers where it belongs. Renderers read JSON
only, so this runs without TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from functools import lru_cache
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
import audio  # noqa: E402 - benchmarks/ is not a package
import audio_probes  # noqa: E402
import constrained_search  # noqa: E402
import data_scale  # noqa: E402
import default_run  # noqa: E402
import fanout  # noqa: E402
import headline  # noqa: E402
import search_efficiency_report  # noqa: E402
import student_budget  # noqa: E402
import synthetic_algorithms  # noqa: E402
import time_to_accuracy  # noqa: E402
import trainer_fit_share  # noqa: E402

DOCS = (ROOT / "docs" / "results.md", ROOT / "README.md")
BEGIN = re.compile(r"<!-- results-docs: ([\w-]+) -->\n")
END = "<!-- /results-docs -->"
# mnist1d's test split as the headline study uses it: one example is 0.1 points.
MNIST1D_TEST_EXAMPLES = 1000
SEARCH_METHOD_LABELS = {
    "beam": "`beam`", "evolution": "`evolution`", "surrogate": "`surrogate`",
    "portfolio": "`portfolio` (beam, evolution, surrogate, random: 10 trials each)",
    "random": "`random` (this project's)", "kt_random": "KerasTuner RandomSearch",
    "kt_bayes": "KerasTuner BayesianOptimization", "kt_hyperband": "KerasTuner Hyperband",
    "optuna_tpe_hyperband": "Optuna TPE + HyperbandPruner", "optuna_tpe": "`--algorithm optuna_tpe` + ASHA (ours)",
}
# Under a wall-time budget our methods ran with ASHA (the time-to-accuracy runs).
ASHA_LABELS = {"beam": "`beam` + ASHA (ours)", "optuna_tpe": "`--algorithm optuna_tpe` + ASHA (ours)"}
SEARCH_METHOD_ORDER = ["beam", "evolution", "surrogate", "portfolio", "random", "kt_random", "kt_bayes", "kt_hyperband",
                       "optuna_tpe_hyperband", "optuna_tpe"]


@lru_cache(maxsize=None)
def raw(name: str) -> dict:
    """benchmarks/results/NAME.json (read once per process)."""
    return json.loads((RESULTS / f"{name}.json").read_text())


def _headline_single_run(report: dict) -> str:
    # The 2026-11-29 file predates per-seed runs: one run of seed 0, commit not recorded.
    return headline.run_markdown({"seed": 0, "commit": "not recorded", **report})


# The benchmark renderer of each raw file's own .md, in SUMMARY.md's order.
BESIDE: dict[str, Callable[[dict], str]] = {
    "headline": headline.markdown,
    "headline_coarse_student": headline.markdown,
    "headline_before": _headline_single_run,
    "student_budget": student_budget.markdown,
    "fanout": fanout.markdown,
    "search_efficiency": search_efficiency_report.markdown,
    "search_efficiency_random80": search_efficiency_report.markdown,
    "search_efficiency_evolution_stacks": search_efficiency_report.markdown,
    "search_efficiency_surrogate_diversity": search_efficiency_report.markdown,
    "search_efficiency_distillation": search_efficiency_report.markdown,
    "search_efficiency_6epochs": search_efficiency_report.markdown,
    "time_to_accuracy": search_efficiency_report.markdown,
    "time_to_accuracy_peers": search_efficiency_report.markdown,
    "search_efficiency_max10k": search_efficiency_report.markdown,
    "constrained_search": constrained_search.markdown,
    "data_scale": data_scale.markdown,
    "trainer_fit_share": trainer_fit_share.markdown,
    "time_to_accuracy_product": time_to_accuracy.markdown,
    "audio": audio.markdown,
    "audio_max_params": audio.markdown,
    "audio_before": audio.markdown,
    "audio_max_params_before": audio.markdown,
    "audio_probes": audio_probes.markdown,
    "default_run": default_run.markdown,
    "default_run_before": default_run.markdown,
    "synthetic_algorithms": synthetic_algorithms.markdown,
}


def tables_of(markdown: str) -> list[str]:
    """The markdown tables in a rendering, each as its lines with a final newline."""
    found, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append("\n".join(current) + "\n")
            current = []
    return found


def beside_table(name: str, index: int = 0) -> Callable[[], str]:
    """The INDEX-th table of NAME.md as its benchmark renders it."""
    return lambda: tables_of(BESIDE[name](raw(name)))[index]


def table_headed(name: str, header_start: str) -> Callable[[], str]:
    """The first table of NAME.md whose header row starts with HEADER_START
    (for a report whose tables come and go with what was measured)."""
    def render() -> str:
        found = [table for table in tables_of(BESIDE[name](raw(name))) if table.startswith(header_start)]
        if not found:
            raise ValueError(f"{name}.md has no table headed {header_start!r}")
        return found[0]
    return render


def _row(cells) -> str:
    return "|" + "|".join(f" {c} " if c != "" else " " for c in cells) + "|"


def _table(header: list[str], rows: list[list]) -> str:
    return "\n".join([_row(header), "|" + "---|" * len(header), *(_row(r) for r in rows)]) + "\n"


def _seconds(value: float) -> str:
    return f"{round(value):,} s"


def _minutes(value: float) -> str:
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds} s"


def _candidates(run: dict) -> dict:
    return {c["name"]: c for c in run["candidates"]}


def _acc_eval(candidate: dict) -> str:
    return f"{candidate['test_accuracy']:.3f} ({candidate['eval_accuracy']:.4f})"


def headline_seeds(name: str) -> Callable[[], str]:
    def render() -> str:
        rows = []
        for run in raw(name)["runs"]:
            c = _candidates(run)
            rows.append([run["seed"], _seconds(run["wall_seconds"]), run["chosen"],
                         f"{c[run['chosen']]['test_accuracy']:.3f}", _acc_eval(c["best_single"]),
                         _acc_eval(c["ensemble"]), f"{c['distilled']['num_params']:,}", _acc_eval(c["distilled"])])
        return _table(["seed", "wall", "chosen", "chosen test acc", "best single test acc (eval)",
                       "ensemble test acc (eval)", "student params", "student test acc (eval)"], rows)
    return render


def _margin(values: list[float], seeds: list[int], target: float) -> str:
    """Whether the median of VALUES meets TARGET, and by how many test examples."""
    median = statistics.median(values)
    examples = round((median - target) * MNIST1D_TEST_EXAMPLES)
    if examples < 0:
        return f"**no**, by {-examples} test examples"
    at_median = [seed for seed, value in zip(seeds, values) if value == median]
    where = f"seed {at_median[0]}" if len(at_median) == 1 else "a median seed"
    if examples == 0:
        return f"yes, with no margin: one more error in {where} misses it"
    return f"yes, by {examples} test examples"


def headline_targets() -> str:
    runs = raw("headline")["runs"]
    seeds = [run["seed"] for run in runs]
    chosen = [_candidates(run)[run["chosen"]]["test_accuracy"] for run in runs]
    students = [_candidates(run)["distilled"] for run in runs]
    student_accuracy = [s["test_accuracy"] for s in students]
    walls = [run["wall_seconds"] for run in runs]
    targets = headline.TARGETS
    span = f"{seeds[0]}-{seeds[-1]}"
    listed = ", ".join(f"{v:.3f}" for v in chosen)
    rows = [
        [f"chosen model ≥ {100 * targets['chosen_test_accuracy']:.1f}% test accuracy, median of seeds {span}",
         f"**{100 * statistics.median(chosen):.1f}%** ({listed})",
         _margin(chosen, seeds, targets["chosen_test_accuracy"])],
        [f"each run ≤ {targets['wall_seconds'] // 60} minutes",
         f"{_minutes(max(walls))} at most ({', '.join(f'{round(w):,}' for w in walls)} s)",
         "yes" if max(walls) <= targets["wall_seconds"] else "**no**"],
        [f"student ≤ {targets['student_params']:,} parameters at a median ≥ "
         f"{100 * targets['student_test_accuracy']:.1f}%",
         f"≤ {max(s['num_params'] for s in students):,} parameters, "
         f"{100 * statistics.median(student_accuracy):.1f}% median ({', '.join(f'{v:.3f}' for v in student_accuracy)})",
         _margin(student_accuracy, seeds, targets["student_test_accuracy"])
         if max(s["num_params"] for s in students) <= targets["student_params"] else "**no**: over the budget"],
    ]
    return _table(["target", "measured", "met"], rows)


def readme_headline() -> str:
    runs = raw("headline")["runs"]
    rows, columns = [], {"chosen": [], "best": [], "student": []}
    for run in runs:
        c = _candidates(run)
        chosen, best, student = c[run["chosen"]], c["best_single"], c["distilled"]
        members = len(chosen.get("trial_ids") or [])
        label = f"ensemble of {members}" if run["chosen"] == "ensemble" else run["chosen"].replace("_", " ")
        rows.append([run["seed"], _minutes(run["wall_seconds"]), label, f"{chosen['test_accuracy']:.3f}",
                     f"{best['test_accuracy']:.3f}", f"{student['test_accuracy']:.3f} ({student['num_params']:,})"])
        columns["chosen"].append(chosen["test_accuracy"])
        columns["best"].append(best["test_accuracy"])
        columns["student"].append(student["test_accuracy"])
    rows.append(["**median**", "", "", f"**{statistics.median(columns['chosen']):.3f}**",
                 f"{statistics.median(columns['best']):.3f}", f"**{statistics.median(columns['student']):.3f}**"])
    return _table(["seed", "wall", "chosen", "chosen test accuracy", "best single model", "student (parameters)"], rows)


TIME_PARTS = ["fitting", "evaluation", "startup", "data_ingest", "trainer_nodes_outside_trials", "other_nodes",
              "orchestration"]


def wall_time_split() -> str:
    labelled = [(f"3 rounds, seed {run['seed']}", run) for run in raw("headline")["runs"]]
    labelled.append((f"5 rounds, {raw('headline_before')['date']}", raw("headline_before")))
    rows = []
    for label, run in labelled:
        time = run["time"]
        wall = time["wall_seconds"]
        parts = [f"{time['seconds'][part]:,.1f} s ({100 * time['seconds'][part] / wall:.1f}%)" for part in TIME_PARTS]
        rows.append([f"{label}, {_seconds(wall)}", *parts])
    return _table(["run", "fitting (trials, Distiller)", "evaluation (Ensembler, SearchEvaluator, TFX Evaluator)",
                   "start-up (imports, compiling)", "data ingest", "trainer nodes outside trials", "other nodes",
                   "orchestration (launching, ML Metadata)"], rows)


def _gib(mib: float) -> str:
    return f"{mib / 1024:.1f} GiB"


def fanout_table() -> str:
    report = raw("fanout")
    rows = []
    for key in ("n1", "n2"):
        run = report[key]
        rows.append([run["trainers"], _seconds(run["wall_seconds"]), f"{run['trials_per_hour']:.0f}",
                     f"{100 * run['time']['overhead_share']:.1f}%", _gib(run["memory"]["peak_mib"]),
                     _gib(run["memory"]["growth_mib"])])
    return _table(["trainers", "wall", "trials per hour", "overhead (outside fitting and evaluation)", "peak memory",
                   "memory growth, 2nd to 4th quarter"], rows)


def _per_seed(summary: dict, pick: Callable[[dict], object], pattern: str = "{:.3f}") -> str:
    seeds = sorted(summary["per_seed"], key=int)
    return ", ".join(search_efficiency_report.fmt(pick(summary["per_seed"][s]), pattern) for s in seeds)


def _trials_to(value) -> str:
    return ">40" if value is None else f"{value:.0f}"


def search_efficiency_table() -> str:
    report = raw("search_efficiency")
    marks = [str(m) for m in report["budget_marks"]]
    epochs_total = report["epochs"] * report["budget"]
    rows = []
    for method in [m for m in SEARCH_METHOD_ORDER if m in report["summary"]]:
        s = report["summary"][method]
        seeds = sorted(s["per_seed"], key=int)
        at = [f"{s['best_test_at'][m]:.3f} ({_per_seed(s, lambda p, m=m: p['best_test_at'][m])})" for m in marks]
        to98 = ", ".join(_trials_to(s["per_seed"][x]["trials_to_98"]) for x in seeds)
        wall = ", ".join(f"{s['per_seed'][x]['wall_seconds']:,.0f}" for x in seeds)
        rows.append([SEARCH_METHOD_LABELS[method], len(seeds), *at, f"{_trials_to(s['trials_to_98'])} ({to98})",
                     s["epochs_trained"], s["stopped_early"], f"{s['wall_seconds']:,.0f} ({wall})"])
    return _table(["method", "seeds", f"test acc @{marks[0]} trials", *(f"@{m}" for m in marks[1:]),
                   "trials to 98 %", f"epochs trained (of {epochs_total})", "stopped early", "wall s"], rows)


def _seed_times(per_seed: dict, key: str) -> str:
    seeds = sorted(per_seed, key=int)
    return ", ".join("–" if per_seed[s][key] is None else f"{per_seed[s][key]:.0f} s" for s in seeds)


def _time_to(summary: dict, key: str) -> str:
    per_seed, median = summary["per_seed"], summary["median_seconds"][key]
    if all(per_seed[s][key] is None for s in per_seed):
        return "not reached in any seed"
    if median is None:
        return f"not reached in the median seed ({_seed_times(per_seed, key)})"
    return f"{median:.0f} s ({_seed_times(per_seed, key)})"


def _counts(records_by_seed: dict, keep: Callable[[dict], bool]) -> list[int]:
    return [sum(1 for r in records_by_seed[s] if keep(r)) for s in sorted(records_by_seed, key=int)]


def time_to_accuracy_table() -> str:
    report = raw("time_to_accuracy")
    thresholds = [search_efficiency_report.threshold_key(t) for t in (0.985, 0.99)]
    marks = [f"{m:g}" for m in search_efficiency_report.time_marks(report["seconds"])]
    rows = []
    for method in [m for m in SEARCH_METHOD_ORDER if m in report["time_to_accuracy"]]:
        reached, at = report["time_to_accuracy"][method], report["accuracy_at_seconds"][method]
        records = report["trials"][method]
        seeds = sorted(records, key=int)
        medians = " / ".join(search_efficiency_report.fmt(at["median"][m]) for m in marks)
        last = ", ".join(search_efficiency_report.fmt(at["per_seed"][s][marks[-1]]) for s in seeds)
        notes = []
        for what, keep in (("promotions", lambda r: r.get("transfer") == "continue"),
                           ("stopped early", lambda r: r["stopped_early"])):
            counts = _counts(records, keep)
            if any(counts):
                notes.append(f"{', '.join(map(str, counts))} {what}")
        trials = ", ".join(str(len(records[s])) for s in seeds) + (f" ({'; '.join(notes)})" if notes else "")
        epochs = ", ".join(str(sum(r["epochs"] or 0 for r in records[s])) for s in seeds)
        rows.append([ASHA_LABELS.get(method, SEARCH_METHOD_LABELS[method]),
                     *(_time_to(reached, key) for key in thresholds), f"{medians} ({last})", trials, epochs])
    minutes = " / ".join(f"{float(m) / 60:g}" for m in marks)
    return _table(["method", "time to 98.5 % (each seed)", "time to 99.0 % (each seed)",
                   f"test accuracy of the pick at {minutes} min, median (each seed at {float(marks[-1]) / 60:g} min)",
                   "trials", "epochs trained"], rows)


def headline_before_candidates() -> str:
    report = raw("headline_before")
    rows = []
    for c in report["candidates"]:
        chosen = c["name"] == report["chosen"]
        rows.append([c["name"] + (" (**chosen**)" if chosen else ""), f"{c['test_accuracy']:.3f}",
                     f"{c['eval_accuracy']:.4f}", f"{c['eval_loss']:.4f}", f"{c['num_params']:,}",
                     f"{c['latency_ms_batch_1']:.1f} / {c['latency_ms_batch_256']:.1f}",
                     ", ".join(f"`{t}`" for t in c.get("trial_ids") or []) or "–"])
    return _table(["candidate", "test accuracy", "eval accuracy", "eval loss", "parameters",
                   "latency batch 1 / 256 (ms)", "trials"], rows)


def headline_before_targets() -> str:
    report = raw("headline_before")
    return _table(["target (of the time)", "measured", "met"],
                  [[f"{name}: {check['target']}", check["measured"], "yes" if check["met"] else "**no**"]
                   for name, check in report["targets"].items()]
                  + [["overhead (wall time outside fitting and evaluation) < 10%",
                      f"{100 * report['time']['overhead_share']:.1f}%",
                      "yes" if report["time"]["overhead_share"] < 0.10 else "**no**"]])


SUITE_RESULT = re.compile(r"^(?:(?P<failed>\d+) failed, )?(?P<passed>\d+) passed.* in (?P<seconds>[\d.]+)s")


def _suite_runs() -> list[dict]:
    """The runs of the whole suite (`make test`) in test_suite_times.json, parsed."""
    runs = []
    for run in raw("test_suite_times")["runs"]:
        found = SUITE_RESULT.match(run["result"])
        if found and run["what"].startswith("make test ") and not run["what"].startswith("make test-"):
            runs.append({**run, "passed": int(found["passed"]), "failed": int(found["failed"] or 0),
                         "seconds": float(found["seconds"])})
    return runs


def test_suite_times() -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")
    return _table(["date", "commit", "result (pytest)", "what"],
                  [[run["date"], cell(run["commit"]), cell(run["result"]), cell(run["what"])]
                   for run in raw("test_suite_times")["runs"]])


def readme_test_time() -> str:
    """The suite's time at its current size: the passing runs of as many tests as the latest, on an otherwise
    idle machine."""
    runs = _suite_runs()
    latest = runs[-1]["passed"]
    same = [run for run in runs
            if run["passed"] == latest and not run["failed"] and "nothing else running" in run["what"]]
    if not same:
        # The latest run (of a new test count) was not measured on an idle machine: the
        # latest idle one, of whatever count, says what the suite takes.
        quiet = [run for run in runs if not run["failed"] and "nothing else running" in run["what"]]
        if not quiet:
            return (f"No run of its {latest} tests has been timed on an idle machine yet "
                    "(`benchmarks/results/test_suite_times.json`).\n")
        last = quiet[-1]
        return (f"The last passing run timed with nothing else running, of {last['passed']} tests (it has "
                f"{latest} now), took {last['seconds'] / 60:.1f} minutes on a 2-core machine "
                "(`benchmarks/results/test_suite_times.json`).\n")
    minutes = [run["seconds"] / 60 for run in same]
    clean = [run for run in same if "clean clone" in run["what"]]
    clone = (f"; {clean[-1]['seconds'] / 60:.1f} on a clean clone, {clean[-1]['date']}" if clean else "")
    took = (f"The last {len(same)} passing runs of its {latest} tests took {min(minutes):.1f} to {max(minutes):.1f} "
            "minutes" if len(same) > 1 else f"The last passing run of its {latest} tests took {minutes[0]:.1f} minutes")
    return (f"{took} on a 2-core machine with nothing else running "
            f"(the machine's speed varies between sittings{clone}; "
            f"`benchmarks/results/test_suite_times.json`).\n")


# Generated regions: NAME -> renderer of the region's text (a table ending in a newline).
TABLES: dict[str, Callable[[], str]] = {
    "headline-seeds": headline_seeds("headline"),
    "headline-targets": headline_targets,
    "headline-coarse-student-seeds": headline_seeds("headline_coarse_student"),
    "student-budget": beside_table("student_budget"),
    "headline-before-candidates": headline_before_candidates,
    "headline-before-targets": headline_before_targets,
    "wall-time-split": wall_time_split,
    "fanout": fanout_table,
    "search-efficiency": search_efficiency_table,
    "search-efficiency-transfer": beside_table("search_efficiency", 1),
    "search-efficiency-distillation": beside_table("search_efficiency_distillation", 1),
    "time-to-accuracy": time_to_accuracy_table,
    "time-to-accuracy-product": table_headed("time_to_accuracy_product", "| task | T | method |"),
    "time-to-accuracy-product-times": table_headed("time_to_accuracy_product", "| method | s to"),
    "time-to-accuracy-product-targets": table_headed("time_to_accuracy_product", "| target | met |"),
    "time-to-accuracy-product-time-spent": table_headed("time_to_accuracy_product", "| task | T | seed |"),
    "trainer-fit-share": beside_table("trainer_fit_share"),
    "constrained-search": beside_table("constrained_search"),
    "data-scale-ingest": beside_table("data_scale", 0),
    "data-scale-trial": beside_table("data_scale", 1),
    "data-scale-targets": beside_table("data_scale", 2),
    "audio": beside_table("audio"),
    "audio-max-params": beside_table("audio_max_params"),
    "default-run-before": beside_table("default_run_before"),
    "default-run": beside_table("default_run"),
    "test-suite-times": test_suite_times,
    "readme-headline": readme_headline,
    "readme-test-time": readme_test_time,
}


def fill(text: str, where: str = "") -> str:
    """TEXT with every generated region rendered again; the rest untouched."""
    out, position = [], 0
    for begin in BEGIN.finditer(text):
        if begin.start() < position:
            continue
        name = begin.group(1)
        end = text.find(END, begin.end())
        if end < 0:
            raise ValueError(f"{where}: the region {name!r} has no {END}")
        if name not in TABLES:
            raise ValueError(f"{where}: no renderer for the region {name!r} (known: {', '.join(sorted(TABLES))})")
        out += [text[position:begin.end()], TABLES[name]()]
        position = end
    return "".join(out) + text[position:]


def summary(results: Path = RESULTS, names=None, quick: bool = False) -> str:
    """SUMMARY.md: each raw file's own tables (NAMES, default all of BESIDE) rendered from RESULTS."""
    lines = ["# Benchmark results" + (" (quick: cut-down versions, not the reported figures)" if quick else ""), "",
             "Rendered from the raw JSON beside this file by `benchmarks/results_docs.py` (`make results-docs` for "
             "the committed results), nothing re-measured; each part names its machine and date. What each figure "
             "means: "
             "[docs/results.md](../../docs/results.md).", "",
             "Reproduce: `make bench-quick` (under 10 minutes) or `make bench` (everything; the search-efficiency "
             "part takes hours). Each part alone: `.venv/bin/python benchmarks/<part>.py --help`.", ""]
    for name in names or BESIDE:
        path = results / f"{name}.json"
        if not path.exists():
            lines += [f"## {name}", "", "not run yet", ""]
            continue
        report = raw(name) if results == RESULTS else json.loads(path.read_text())
        lines += [f"<!-- {name}.json -->", BESIDE[name](report).strip(), ""]
    return "\n".join(lines)


def expected() -> dict[Path, str]:
    """Every generated file's content as the raw files render it."""
    files = {RESULTS / f"{name}.md": render(raw(name)) for name, render in BESIDE.items()}
    files[RESULTS / "SUMMARY.md"] = summary()
    for doc in DOCS:
        files[doc] = fill(doc.read_text(), where=str(doc.relative_to(ROOT)))
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is stale")
    args = parser.parse_args(argv)
    try:
        files = expected()
    except (ValueError, OSError) as error:
        print(f"results-docs: {error}", file=sys.stderr)
        return 2
    changed = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    for path in changed:
        if args.check:
            print(f"stale: {path.relative_to(ROOT)} (run `make results-docs`)", file=sys.stderr)
        else:
            path.write_text(files[path])
            print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
