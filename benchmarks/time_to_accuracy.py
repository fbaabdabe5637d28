"""Time to accuracy through the product (issue 33, item 5): `model-search run
--time-budget T` against Optuna and KerasTuner at equal wall time, and, on the
speech sets, against logistic regression and a 2-D CNN.

Methods, one at a time on the whole machine:

- `ours`: the CLI, the whole pipeline (ingest, search, ensemble, student,
  evaluation, push), measured as a subprocess (`study_run.run_measured`), once
  per budget T, because the budget shapes the run. Its pick is the candidate
  the pipeline chose on eval; its figure is that candidate's test accuracy as
  the SearchEvaluator scored it. `--rounds` is set high enough that the budget,
  not the rounds, ends the search (the report says if a run searched every
  round it was given).
- peers, in the same search space (the task's study config; built by the same
  model builder), on the very examples ours ingested for that seed (read back
  from its Examples artifact): `optuna_tpe_hyperband` (Optuna's TPE sampler
  with its HyperbandPruner, search_efficiency_optuna.py) and `kt_hyperband`
  (KerasTuner Hyperband at each trial's drawn batch size,
  search_efficiency_keras_tuner.py). A peer runs once per seed, given the
  largest budget, in its own process; it is read at every T along the way:
  its pick at time t is its best trial on eval among those finished by t
  (search_efficiency_report.accuracy_at_seconds), the clock counting from its
  process's start (imports and loading the data count, as ours' start-up does).
- speech baselines, on the same ingested splits: logistic regression on each
  mel band's mean and standard deviation (audio.logistic_regression, C chosen
  on eval) and audio.py's 2-D CNN at the project's probe settings (learning
  rate 3e-3, batch 16, batch-norm momentum 0.9: benchmarks/results/audio_probes.md)
  and over a small grid of its own (learning rate x batch size, momentum 0.9),
  the grid's pick chosen on eval; their wall seconds are reported beside ours.

Peers and baselines get the same TensorFlow threads as ours has in all
(`--threads`, default one per core; ours: the local runner's trainers share
the cores, one thread each with 2 trainers on 2 cores).

Tasks, budgets and seeds (the defaults are issue 33's):

- mnist1d: T = 5 and 15 min, seeds 0-4; examples/mnist1d.yaml; test: each
  seed's own 4,000 fresh examples (`mnist1d?test_seed=10000+S`);
- digits: T = 10 min, seeds 0-2; examples/digits.yaml; test: the pipeline's
  seeded 10 % split of scikit-learn's 1,797 images (`--seed S`), another draw
  per seed but not fresh - the same images, and the same pool other benchmarks
  scored on;
- keywords, languages (speech_sets.py, needs espeak-ng): T = 10 min, seeds
  0-2; the default search space; each seed writes its own set, training clips
  and test clips each from their own seed.

Reported per task and T: the pick's test accuracy, median and every seed; on
mnist1d the time to 98.5 % and 99.0 % (a peer: from its one run; ours: the
wall seconds of the shortest budget whose pick reaches it, so its resolution
is the budgets run); where ours' time went.

Results are kept in OUT.json as measurements keyed by (task, method, seed,
budget); each is written as soon as it is taken, an interrupted sitting keeps
what it finished, the same command again resumes (skips what OUT.json has;
`--redo` measures again and replaces), and `--merge` joins files from other
sittings (a later file's measurement replaces an earlier one of the same key).
OUT.md is rendered from OUT.json alone (`--report-only`).

    .venv/bin/python benchmarks/time_to_accuracy.py                         # everything, ~12 h
    .venv/bin/python benchmarks/time_to_accuracy.py --tasks mnist1d --seeds 0 1   # a sitting
    .venv/bin/python benchmarks/time_to_accuracy.py --report-only
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
# This checkout's packages before an editable install's (a worktree shares another checkout's venv).
sys.path.insert(1, str(ROOT))
import study_run  # noqa: E402 - benchmarks/ is not a package
from search_efficiency_report import accuracy_at_seconds, seconds_to_accuracy  # noqa: E402

DEFAULT_OUT = HERE / "results" / "time_to_accuracy_product"
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "time-to-accuracy"
PEERS = ("optuna_tpe_hyperband", "kt_hyperband")
SPEECH_BASELINES = ("logistic_regression", "cnn")
METHODS = ("ours", *PEERS, *SPEECH_BASELINES)
THRESHOLDS = (0.985, 0.99)
SPEECH_TASKS = ("keywords", "languages")
# The speech sets' size here (speech_sets.py's defaults are 48 and 32 a class):
# 64 train + 32 eval clips a class (512 + 256), and 32 test clips a class (256).
SPEECH_PER_CLASS = 96
SPEECH_TEST_PER_CLASS = 32
# The 2-D CNN: the probes' settings (audio_probes.md: lr 3e-3 over 1e-3, batch 16
# over 32, batch-norm momentum 0.9 over 0.99), and its own grid around them.
CNN_PROBE = {"learning_rate": 3e-3, "batch_size": 16, "batch_norm_momentum": 0.9}
CNN_GRID = [{"learning_rate": lr, "batch_size": batch, "batch_norm_momentum": 0.9}
            for lr in (1e-3, 3e-3, 1e-2) for batch in (16, 32)]
CNN_EPOCHS = 20


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    budgets: tuple[int, ...]  # seconds
    seeds: tuple[int, ...]
    config: Optional[str]  # the study config (relative to the product's checkout); None: the defaults
    # ours' --rounds: more than the budget can use, so the budget ends the search, but not many more: a
    # round past the search time still launches its Proposer and trainer nodes (about 1.5-3 s a round on
    # 2 shared cores, measured with the time-budget branch), which the budget's reserve does not cover.
    max_rounds: int
    test_data: str  # how test is held out, for the report

    @property
    def speech(self) -> bool:
        return self.name in SPEECH_TASKS


SPEECH_TEST = (f"{SPEECH_TEST_PER_CLASS * 8} clips a seed by default (`--speech-test-per-class` x 8 classes), "
               "drawn by espeak-ng with the seed's own test seed (fresh)")
TASKS = {
    "mnist1d": Task("mnist1d", (300, 900), (0, 1, 2, 3, 4), "examples/mnist1d.yaml", 8,
                    f"{study_run.FRESH_TEST_SIZE:,} fresh examples a seed "
                    f"(`mnist1d?test_seed={study_run.FRESH_TEST_SEED_OFFSET}+S`)"),
    "digits": Task("digits", (600,), (0, 1, 2), "examples/digits.yaml", 30,
                   "the pipeline's seeded 10 % split of the 1,797 images (`--seed S`): another draw a seed, "
                   "not fresh (the same images other benchmarks scored on)"),
    "keywords": Task("keywords", (600,), (0, 1, 2), None, 12, SPEECH_TEST),
    "languages": Task("languages", (600,), (0, 1, 2), None, 12, SPEECH_TEST),
}


# --- the pure part: keys, merging, reading a run at T, medians, the report ---------------------------------


def key_of(measurement: dict) -> tuple:
    return (measurement["task"], measurement["method"], measurement["seed"], measurement.get("budget_seconds"))


def merged(*measurement_lists: list[dict]) -> list[dict]:
    """One list: a later measurement replaces an earlier one of the same task, method, seed and budget."""
    by_key: dict[tuple, dict] = {}
    for measurements in measurement_lists:
        for measurement in measurements:
            by_key.pop(key_of(measurement), None)
            by_key[key_of(measurement)] = measurement
    return sorted(by_key.values(), key=lambda m: (list(TASKS).index(m["task"]) if m["task"] in TASKS else 99,
                                                  m["task"], METHODS.index(m["method"]), m["seed"],
                                                  m.get("budget_seconds") or 0))


def shifted(records: list[dict], seconds: float) -> list[dict]:
    """A peer's trial records with their times counted from its process's start, not its search's."""
    return [{**r, "elapsed_seconds": r["elapsed_seconds"] + seconds} for r in records]


def peer_accuracy_at(measurement: dict, seconds: float) -> Optional[float]:
    """The test accuracy of a peer's pick `seconds` after its process started (None: no trial finished yet)."""
    if measurement["budget_seconds"] < seconds:
        return None  # the run was not given that long
    return accuracy_at_seconds(shifted(measurement["records"], measurement["startup_seconds"]), seconds)


def peer_seconds_to(measurement: dict, threshold: float) -> Optional[float]:
    seconds = seconds_to_accuracy(shifted(measurement["records"], measurement["startup_seconds"]), threshold)
    return None if seconds is None else round(seconds, 1)


def ours_seconds_to(runs: list[dict], threshold: float) -> Optional[float]:
    """Ours runs once per budget: the wall seconds of the shortest-budget run whose pick reaches `threshold`."""
    for run in sorted(runs, key=lambda r: r["budget_seconds"]):
        if run["test_accuracy"] is not None and run["test_accuracy"] >= threshold:
            return run["wall_seconds"]
    return None


def median_of(values: list[Optional[float]], missing: float) -> Optional[float]:
    """The median, a None counting as `missing` (-inf: no pick yet; +inf: never reached); None if it is the median."""
    if not values:
        return None
    middle = statistics.median([missing if v is None else v for v in values])
    return None if math.isinf(middle) else middle


def accuracy_rows(measurements: list[dict]) -> list[dict]:
    """Per task, budget T and method: the pick's test accuracy per seed, its median, and the median wall
    seconds (ours: its runs'; a peer: T; a baseline: its own, it has no budget). The budgets are those ours ran
    and those the peers were read at."""
    rows = []
    for task in _tasks_in(measurements):
        of_task = [m for m in measurements if m["task"] == task]
        budgets = sorted({m["budget_seconds"] for m in of_task if m["method"] == "ours"}
                         | {t for m in of_task if m["method"] in PEERS for t in m.get("read_at", [])})
        for budget in budgets:
            for method in METHODS:
                # name -> ({seed: accuracy}, [wall seconds])
                found: dict[str, tuple[dict, list]] = {}
                for m in of_task:
                    if m["method"] != method:
                        continue
                    if m.get("error"):  # a failed run: no pick
                        if method in SPEECH_BASELINES or m["budget_seconds"] == budget or method in PEERS:
                            found.setdefault(method, ({}, []))[0][m["seed"]] = None
                    elif method == "ours" and m["budget_seconds"] == budget:
                        found.setdefault(method, ({}, []))
                        found[method][0][m["seed"]] = m["test_accuracy"]
                        found[method][1].append(m["wall_seconds"])
                    elif method in PEERS and m["budget_seconds"] >= budget:
                        found.setdefault(method, ({}, []))
                        found[method][0][m["seed"]] = peer_accuracy_at(m, budget)
                        found[method][1].append(budget)
                    elif method in SPEECH_BASELINES:
                        for name, result in baseline_results(m).items():
                            found.setdefault(f"{method}:{name}", ({}, []))
                            found[f"{method}:{name}"][0][m["seed"]] = result["test_accuracy"]
                            found[f"{method}:{name}"][1].append(result["wall_seconds"])
                for name, (per_seed, wall) in found.items():
                    per_seed = dict(sorted(per_seed.items()))
                    rows.append({"task": task, "budget_seconds": budget, "method": name, "per_seed": per_seed,
                                 "median": median_of(list(per_seed.values()), -math.inf),
                                 "median_wall_seconds": statistics.median(wall) if wall else None})
    return rows


def baseline_results(measurement: dict) -> dict:
    """A baseline measurement's rows: logistic regression's one; the CNN's probe settings and its grid's pick."""
    if measurement["method"] == "logistic_regression":
        return {"pooled log-mel": measurement["result"]}
    return {"probe settings": measurement["result"]["probe"], "grid, chosen on eval": measurement["result"]["grid"]}


def time_to_accuracy(measurements: list[dict], task: str = "mnist1d", thresholds=THRESHOLDS) -> dict:
    """Per method: seconds to each threshold per seed, the median (a seed never reaching it counts as never)
    and how many seeds reach it."""
    result = {}
    for method in ("ours", *PEERS):
        of_method = [m for m in measurements if m["task"] == task and m["method"] == method and not m.get("error")]
        seeds = sorted({m["seed"] for m in of_method})
        if not seeds:
            continue
        row = {}
        for threshold in thresholds:
            if method == "ours":
                per_seed = {s: ours_seconds_to([m for m in of_method if m["seed"] == s], threshold) for s in seeds}
            else:
                per_seed = {m["seed"]: peer_seconds_to(m, threshold) for m in of_method}
            row[f"{threshold:.3f}"] = {"per_seed": per_seed, "median": median_of(list(per_seed.values()), math.inf),
                                       "seeds_reaching": sum(v is not None for v in per_seed.values())}
        result[method] = row
    return result


def targets(measurements: list[dict]) -> list[dict]:
    """Issue 33's targets this benchmark measures, on medians over the seeds measured: met, not met, or not
    measured yet (None). `detail` gives the numbers."""
    rows = {(r["task"], r["budget_seconds"], r["method"]): r for r in accuracy_rows(measurements)}
    result = []

    def add(target: str, met: Optional[bool], detail: str) -> None:
        result.append({"target": target, "met": met, "detail": detail})

    for (task, budget, method), row in sorted(rows.items(), key=lambda item: (list(TASKS).index(item[0][0])
                                                                              if item[0][0] in TASKS else 99,
                                                                              item[0][1])):
        if method != "ours":
            continue
        for peer_name, relation in (("optuna_tpe_hyperband", "at least matches"), ("kt_hyperband", "beats")):
            peer_row = rows.get((task, budget, peer_name))
            met = None
            if peer_row and row["median"] is not None:
                met = (row["median"] >= peer_row["median"] if relation == "at least matches"
                       else row["median"] > peer_row["median"]) if peer_row["median"] is not None else True
            add(f"{task}, {minutes(budget)}: ours {relation} {METHOD_LABELS[peer_name]}", met,
                f"{fmt(row['median'])} vs {fmt(peer_row['median']) if peer_row else 'not measured'}")
        if task in SPEECH_TASKS:
            logistic = rows.get((task, budget, "logistic_regression:pooled log-mel"))
            met = None if not logistic or row["median"] is None or logistic["median"] is None else (
                row["median"] > logistic["median"])
            add(f"{task}, {minutes(budget)}: ours beats logistic regression on pooled features", met,
                f"{fmt(row['median'])} vs {fmt(logistic['median']) if logistic else 'not measured'}")
        if task == "mnist1d":
            runs = [m for m in measurements if m["task"] == task and m["method"] == "ours"
                    and m["budget_seconds"] == budget and not m.get("error") and m.get("candidates")]
            close = [m["test_accuracy"] >= max(c["test_accuracy"] for c in m["candidates"]
                                               if c["test_accuracy"] is not None) - 0.001 for m in runs]
            add(f"{task}, {minutes(budget)}: the chosen model within 1 example per 1,000 of the best of the three "
                "candidates on fresh data in at least 4 of 5 seeds", None if len(close) < 5 else sum(close) >= 4,
                f"{sum(close)} of {len(close)} seeds")
    times = time_to_accuracy(measurements).get
    ours_time, optuna_time = times("ours"), times("optuna_tpe_hyperband")
    if ours_time or optuna_time:
        key = f"{THRESHOLDS[0]:.3f}"
        ours_median = ours_time[key]["median"] if ours_time else None
        optuna_median = optuna_time[key]["median"] if optuna_time else None
        met = None
        if ours_time and optuna_time:
            met = ours_median is not None and (optuna_median is None or ours_median <= optuna_median / 2)
        add(f"mnist1d: ours reaches {THRESHOLDS[0]:.1%} in at most half of Optuna's time", met,
            f"{fmt(ours_median, '{:.0f}')} s vs {fmt(optuna_median, '{:.0f}')} s (median; `–`: the median seed "
            "never does)")
    return result


def _tasks_in(measurements: list[dict]) -> list[str]:
    present = {m["task"] for m in measurements}
    return [t for t in TASKS if t in present] + sorted(present - set(TASKS))


def fmt(value, pattern: str = "{:.3f}") -> str:
    return "–" if value is None else pattern.format(value)


def minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min"


METHOD_LABELS = {
    "ours": "ours: `model-search run --time-budget T`",
    "optuna_tpe_hyperband": "Optuna TPE + HyperbandPruner",
    "kt_hyperband": "KerasTuner Hyperband",
    "logistic_regression:pooled log-mel": "logistic regression, mean+std log-mel",
    "cnn:probe settings": "2-D CNN, probe settings (lr 3e-3, batch 16, BN momentum 0.9)",
    "cnn:grid, chosen on eval": "2-D CNN, its grid's pick on eval",
}


def idle_within_rounds(trials: list[dict]) -> Optional[float]:
    """The share of the trainers' time within rounds that no trial used: 1 less
    the trials' seconds over (trainers x the rounds' spans), a round's span
    from its first trial's start to its last trial's end, `trainers` the most
    trials that ran at once. A round's trainers start together and the next
    round waits for the last of them, so this is the time the faster trainers
    waited; None without timed trials."""
    rounds: dict[str, list[tuple[float, float]]] = {}
    for t in trials:
        if t.get("started_at") and t.get("finished_at"):
            interval = tuple(datetime.datetime.fromisoformat(t[k]).timestamp() for k in ("started_at", "finished_at"))
            rounds.setdefault(t["trial_id"].rsplit("-", 2)[-2], []).append(interval)
    if not rounds:
        return None
    trainers = max(max(sum(a <= start < b for a, b in intervals) for start, _ in intervals)
                   for intervals in rounds.values())
    spans = sum(max(b for _, b in intervals) - min(a for a, _ in intervals) for intervals in rounds.values())
    busy = sum(b - a for intervals in rounds.values() for a, b in intervals)
    return 1.0 - busy / (trainers * spans) if spans > 0 else 0.0


def markdown(report: dict) -> str:
    measurements = report["measurements"]
    machines = sorted({m["machine"] for m in measurements})
    commits = sorted({m["commit"] for m in measurements})
    threads = sorted({m["threads"] for m in measurements if m["method"] != "ours"})
    lines = [
        "# Time to accuracy through the product (issue 33)",
        "",
        "Generated by `benchmarks/time_to_accuracy.py` from the raw JSON beside this file. "
        f"Machine: {'; '.join(machines) or '–'}. Commit(s): {', '.join(commits) or '–'}. "
        f"Peers and baselines: {', '.join(map(str, threads)) or '–'} TensorFlow thread(s), one method at a time; "
        "ours: the local runner's trainers share the cores. Sittings: "
        + ("; ".join(f"`{s['command']}` ({s['date']})" for s in report.get("sittings", [])) or "–") + ".",
        "",
    ]
    if not measurements:
        return "\n".join(lines + ["Nothing measured yet."]) + "\n"
    lines += ["Test data: " + "; ".join(f"{t}: {TASKS[t].test_data}" for t in _tasks_in(measurements)
                                        if t in TASKS) + ".", "",
              "The pick's test accuracy at budget T: ours, the candidate its pipeline chose on eval in a run "
              "given T; a peer, its best trial on eval among those finished T after its process started (one "
              "run per seed given the largest T); a baseline, its model chosen on eval (it has no budget: its "
              "wall seconds are shown). Median over seeds (a seed with no pick yet counts as the lowest), each "
              "seed in brackets.", "",
              "| task | T | method | test accuracy (median) | per seed | wall s (median) |",
              "|---|---|---|---|---|---|"]
    for row in accuracy_rows(measurements):
        seeds = ", ".join(f"{seed}: {fmt(value)}" for seed, value in row["per_seed"].items())
        lines.append(f"| {row['task']} | {minutes(row['budget_seconds'])} | "
                     f"{METHOD_LABELS.get(row['method'], row['method'])} | {fmt(row['median'])} | [{seeds}] | "
                     f"{fmt(row['median_wall_seconds'], '{:.0f}')} |")
    times = time_to_accuracy(measurements)
    if times:
        keys = [f"{t:.3f}" for t in THRESHOLDS]
        lines += ["", "Time to accuracy on mnist1d: wall seconds until the pick first reaches the accuracy on "
                  "test. A peer: from its one run. Ours: the wall time of the shortest-budget run whose pick "
                  "reaches it (its resolution is the budgets run). Median over seeds, a seed that never reaches "
                  "it counting as never (`–`: the median seed does not).", "",
                  "| method | " + " | ".join(f"s to {float(k):.1%} (median) | per seed" for k in keys)
                  + " | " + " | ".join(f"seeds reaching {float(k):.1%}" for k in keys) + " |",
                  "|---|" + "---|---|" * len(keys) + "---|" * len(keys)]
        for method, row in times.items():
            cells = [f"{fmt(row[k]['median'], '{:.0f}')} | ["
                     + ", ".join(f"{s}: {fmt(v, '{:.0f}')}" for s, v in row[k]["per_seed"].items()) + "]"
                     for k in keys]
            lines.append(f"| {METHOD_LABELS[method]} | " + " | ".join(cells) + " | "
                         + " | ".join(f"{row[k]['seeds_reaching']}/{len(row[k]['per_seed'])}" for k in keys) + " |")
    found = targets(measurements)
    if found:
        lines += ["", "Issue 33's targets measured here (medians over the seeds measured so far; the time to "
                  "accuracy of ours at the budgets' resolution):", "", "| target | met | numbers |", "|---|---|---|"]
        lines += [f"| {t['target']} | {'not measured' if t['met'] is None else 'yes' if t['met'] else 'no'} | "
                  f"{t['detail']} |" for t in found]
    ours = [m for m in measurements if m["method"] == "ours" and not m.get("error")]
    if ours:
        lines += ["", "Where ours' time went (each run; seconds, from the run's own `--json` `time_spent` when "
                  "it has one, else study_run's split), whether the run kept its budget (within 5 % or 30 s) and "
                  "the rounds it searched of those it was given; trainers idle: the share of the trainers' time "
                  "within rounds that no trial used (the faster trainers waiting for the slowest).", "",
                  "| task | T | seed | wall s | training | evaluation | post-search | ingest | orchestration | "
                  "kept | rounds searched | trials (completed/failed/skipped) | trainers idle | chosen | commit |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for m in ours:
            spent = m.get("time_spent") or {}
            budget = m.get("time_budget") or {}
            trials = m.get("trials_summary") or {}
            lines.append(
                f"| {m['task']} | {minutes(m['budget_seconds'])} | {m['seed']} | {m['wall_seconds']:.0f} | "
                + " | ".join(fmt(spent.get(k), "{:.0f}") for k in
                             ("training", "evaluation", "post_search", "ingest", "orchestration"))
                + f" | {'–' if 'kept' not in budget else 'yes' if budget['kept'] else 'NO'} | "
                f"{budget.get('rounds_searched', '–')}/{budget.get('max_rounds', '–')} | "
                f"{trials.get('completed', '–')}/{trials.get('failed', '–')}/{trials.get('skipped', 0)} | "
                f"{fmt(idle_within_rounds(m.get('trials') or []), '{:.0%}')} | "
                f"{m.get('chosen', '–')} | {m.get('commit', '–')} |")
        ran_out = [m for m in ours if (m.get("time_budget") or {}).get("rounds_searched") is not None
                   and m["time_budget"]["rounds_searched"] >= m["time_budget"]["max_rounds"]]
        if ran_out:
            lines += ["", "**Ran out of rounds before the budget**: " + ", ".join(
                f"{m['task']} T {minutes(m['budget_seconds'])} seed {m['seed']}" for m in ran_out)
                + " - give `--max-rounds` more."]
    failed = [m for m in measurements if m.get("error")]
    if failed:
        lines += ["", "**Failed** (no pick; measured again by the next sitting): " + "; ".join(
            f"{m['task']} {m['method']} seed {m['seed']}" + (f" T {minutes(m['budget_seconds'])}"
                                                              if m.get("budget_seconds") else "")
            + f": {m['error'].strip().splitlines()[-1][:200]}" for m in failed) + "."]
    generated = [m for m in measurements if m["method"] == "ours" and m.get("speech_set_seconds")]
    if generated:
        lines += ["", "Speech sets written by espeak-ng (seconds, per set and seed): " + ", ".join(
            f"{m['task']} seed {m['seed']} {m['speech_set_seconds']:.0f}" for m in generated) + "."]
    return "\n".join(lines) + "\n"


def report_of(measurements: list[dict], sittings: list[dict]) -> dict:
    return {"benchmark": "time_to_accuracy", "sittings": sittings, "measurements": merged(measurements)}


def load(out: Path) -> dict:
    path = out.with_suffix(".json")
    if not path.exists():
        return report_of([], [])
    return json.loads(path.read_text())


def save(out: Path, report: dict) -> None:
    """OUT.json and OUT.md, each written whole and renamed (an interrupted sitting keeps the earlier file)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(report, indent=1) + "\n"), (".md", markdown(report))):
        partial = out.with_suffix(suffix + ".tmp")
        partial.write_text(text)
        partial.replace(out.with_suffix(suffix))


def merge_files(out: Path, paths: list[Path]) -> dict:
    reports = [load(out)] + [json.loads(Path(p).read_text()) for p in paths]
    report = report_of([m for r in reports for m in r["measurements"]],
                       [s for r in reports for s in r.get("sittings", [])])
    save(out, report)
    return report


# --- measuring ---------------------------------------------------------------------------------------------


class ProductWithoutTimeBudget(SystemExit):
    pass


def check_time_budget_flag(product: Path) -> None:
    """Fails with a clear message when `model-search run` in PRODUCT has no `--time-budget` (issue 33, item 1)."""
    done = subprocess.run(study_run.cli("run", "--help"), capture_output=True, text=True, cwd=product)
    if done.returncode != 0 or "--time-budget" not in done.stdout:
        raise ProductWithoutTimeBudget(
            f"time_to_accuracy: `model-search run` in {product} has no --time-budget (issue 33, item 1, not on "
            "this checkout yet): ours needs it. Run against a checkout that has it with --product DIR, or "
            "measure only the others with --methods " + " ".join(m for m in METHODS if m != "ours")
            + " (they need ours' ingested data of the same seed in --workdir).")


def ours_arguments(task: Task, seed: int, budget: int, product: Path, task_root: Optional[Path],
                   extra: list[str]) -> list[str]:
    config = [str(product / task.config)] if task.config else []
    if task.name == "mnist1d":
        source = ["--dataset", study_run.fresh_mnist1d(seed)]
    elif task.speech:
        import speech_sets

        source = ["--data", str(task_root / "data"), "--test-data", str(task_root / "test"),
                  "--split", speech_sets.SPLIT]
    else:
        source = []
    return [*config, *source, "--seed", str(seed), "--study", f"tta-{task.name}-s{seed}-t{budget}",
            "--rounds", str(task.max_rounds), *extra, "--time-budget", str(budget)]


def task_space_and_epochs(task: Task, product: Path, epochs: Optional[int]) -> tuple[dict, int]:
    """The search space and per-trial epochs ours searches with, for the peers."""
    import yaml

    from pipeline.config_schema import StudySettings

    config = yaml.safe_load((product / task.config).read_text()) if task.config else {}
    return (config.get("search_space") or {},
            epochs or config.get("epochs") or StudySettings.model_fields["epochs"].default)


def data_path(workdir: Path, task: str, seed: int) -> Path:
    return workdir / "data" / f"{task}-s{seed}.npz"


def keep_ingested(run_dir: Path, path: Path) -> None:
    """The splits ours ingested (features, labels) and its dataset spec, for the peers and baselines."""
    import numpy as np

    import audio

    splits, spec = audio.ingested_splits(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{split}_{part}": value for split, (x, y) in splits.items() for part, value in (("x", x), ("y", y))}
    np.savez_compressed(path, spec=np.array(spec.to_json()), **arrays)


def load_ingested(path: Path):
    """(splits {name: (x, y)}, Data for the peers) from `keep_ingested`'s file."""
    import numpy as np

    from search_algo.dataset_spec import DatasetSpec
    from search_efficiency_data import Data, SplitData

    stored = np.load(path)
    spec = DatasetSpec.from_dict(json.loads(str(stored["spec"])))
    splits = {split: (stored[f"{split}_x"], stored[f"{split}_y"]) for split in ("train", "eval", "test")}
    name = spec.features[0].name
    data = Data(spec, *(SplitData({name: x}, y) for x, y in splits.values()))
    return splits, data


def measure_ours(task: Task, seed: int, budget: int, args, workdir: Path, task_root: Optional[Path]) -> dict:
    run_dir = workdir / "runs" / f"{task.name}-s{seed}-t{budget}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_args = ours_arguments(task, seed, budget, args.product, task_root, shlex.split(args.ours_args))
    run = study_run.run_measured(run_args, run_dir, product=args.product)
    # Every run of the seed ingests the same examples; the latest is kept (a set written again replaces it).
    keep_ingested(run_dir, data_path(workdir, task.name, seed))
    chosen = next(c for c in run["leaderboard"]["candidates"] if c["name"] == run["summary"]["chosen"])
    if not args.keep_runs:
        shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "command": run["command"],
        "wall_seconds": run["wall_seconds"],
        "test_accuracy": chosen["test"].get("accuracy"),
        "eval_accuracy": chosen["eval"].get("accuracy"),
        "chosen": chosen["name"],
        "num_params": chosen["num_params"],
        "candidates": [{"name": c["name"], "test_accuracy": c["test"].get("accuracy"),
                        "eval_accuracy": c["eval"].get("accuracy"), "eval_loss": c["eval"].get("loss"),
                        "num_params": c["num_params"]} for c in run["leaderboard"]["candidates"]],
        "trials_summary": run["summary"]["trials"],
        "time_budget": run["summary"].get("time_budget"),
        "time_spent": run["summary"].get("time_spent") or _time_spent_from(run["time"]),
        "time": run["time"],
        "peak_mib": run["memory"]["peak_mib"],
        "trials": [{k: t.get(k) for k in ("trial_id", "status", "num_params", "epochs", "stopped_early",
                                          "train_seconds", "started_at", "finished_at")}
                   | {"blocks": t.get("architecture"), "eval_accuracy": (t.get("metrics") or {}).get("accuracy")}
                   for t in run["trials"]],
    }


def _time_spent_from(breakdown: dict) -> dict:
    """study_run's split in the run summary's categories, for a product whose summary has none."""
    seconds = breakdown["seconds"]
    return {"wall_seconds": breakdown["wall_seconds"], "training": seconds["fitting"],
            "evaluation": seconds["evaluation"], "post_search": None, "ingest": seconds["data_ingest"],
            "orchestration": round(breakdown["wall_seconds"] - seconds["fitting"] - seconds["evaluation"]
                                   - seconds["data_ingest"], 1)}


def measure_in_process(job_file: Path) -> dict:
    """A peer or a baseline, in a process of its own (`--job`): its TensorFlow threads, its memory."""
    job = json.loads(Path(job_file).read_text())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    import psutil

    process_started = psutil.Process().create_time()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("tensorflow", "absl", "keras_tuner", "optuna"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    tf.config.threading.set_intra_op_parallelism_threads(job["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(job["threads"])
    splits, data = load_ingested(Path(job["data"]))
    method, seed = job["method"], job["seed"]
    if method in PEERS:
        if method == "kt_hyperband":
            import keras_tuner  # noqa: F401 - imported before the clock starts, like optuna below

            from search_efficiency_keras_tuner import run_keras_tuner as run_peer
        else:
            import optuna  # noqa: F401

            from search_efficiency_optuna import run_optuna as run_peer
        startup = time.time() - process_started
        peer_args = argparse.Namespace(seconds=max(1.0, job["seconds"] - startup), budget=None,
                                       epochs=job["epochs"], space=job["space"])
        workdir = Path(job["workdir"])
        workdir.mkdir(parents=True, exist_ok=True)
        records = run_peer(method, seed, peer_args, data, workdir)
        return {"startup_seconds": round(startup, 1), "epochs": job["epochs"], "space": job["space"],
                "records": records}
    import audio

    if method == "logistic_regression":
        return {"result": audio.logistic_regression(splits, seed)}
    classes = data.spec.num_classes
    grid = []
    for settings in job["cnn_grid"]:
        fitted = audio.cnn_baseline(splits, classes, job["cnn_epochs"], seed, **settings)
        grid.append(fitted)
        print(json.dumps({k: fitted[k] for k in ("learning_rate", "batch_size", "eval_accuracy", "wall_seconds")}),
              file=sys.stderr, flush=True)
    probe = next(g for g in grid if all(g[k] == v for k, v in CNN_PROBE.items()))
    # Chosen on eval; ties go to the first in the grid's order.
    best = max(grid, key=lambda g: g["eval_accuracy"])
    return {"result": {"probe": probe, "grid": {**best, "wall_seconds": round(sum(g["wall_seconds"] for g in grid), 1)},
                       "every": grid}}


def measure_in_subprocess(job: dict, workdir: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"{job['task']}-{job['method']}-s{job['seed']}"
    job_file, result_file, log_file = (workdir / f"{name}.{s}" for s in ("job.json", "result.json", "log"))
    job_file.write_text(json.dumps(job))
    started = time.monotonic()
    with open(log_file, "w") as log:
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--job", str(job_file),
                               "--job-result", str(result_file)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{name} exited {done.returncode}; its log: {log_file}\n" + log_file.read_text()[-3000:])
    return {**json.loads(result_file.read_text()), "wall_seconds": round(time.monotonic() - started, 1)}


def plan(args) -> list[tuple[Task, int, str, Optional[int]]]:
    """(task, seed, method, budget) in the order measured: per task and seed, ours at each budget (it ingests
    the data the others read), then the peers with the largest budget, then the speech baselines."""
    steps = []
    for name in args.tasks:
        task = dataclasses.replace(TASKS[name], **({"budgets": tuple(args.budgets[name])} if name in args.budgets
                                                   else {}))
        if args.max_rounds:
            task = dataclasses.replace(task, max_rounds=args.max_rounds)
        for seed in args.seeds if args.seeds is not None else task.seeds:
            if "ours" in args.methods:
                steps += [(task, seed, "ours", budget) for budget in sorted(task.budgets)]
            steps += [(task, seed, m, max(task.budgets)) for m in PEERS if m in args.methods]
            if task.speech:
                steps += [(task, seed, m, None) for m in SPEECH_BASELINES if m in args.methods]
    return steps


def run(args, command: str) -> dict:
    report = load(args.out)
    steps = plan(args)
    # A failed measurement is taken again (with the rest: a sitting resumes).
    done = {key_of(m) for m in report["measurements"] if not m.get("error")}
    todo = [s for s in steps if args.redo or (s[0].name, s[2], s[1], s[3]) not in done]
    if any(method == "ours" for _, _, method, _ in todo):
        check_time_budget_flag(args.product)
    sitting = {"command": command, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": study_run.machine(), "commit": study_run.git_commit(), "threads": args.threads,
               "product": str(args.product), "steps": len(todo)}
    report["sittings"] = [*report.get("sittings", []), sitting]
    threads = args.threads
    speech_roots: dict[tuple[str, int], Path] = {}
    started = time.monotonic()
    for task, seed, method, budget in todo:
        print(f"time_to_accuracy: {task.name} seed {seed} {method}"
              + (f" T {minutes(budget)}" if budget else ""), file=sys.stderr, flush=True)
        common = {"task": task.name, "method": method, "seed": seed, "budget_seconds": budget,
                  "machine": sitting["machine"], "commit": sitting["commit"], "date": sitting["date"],
                  "threads": "local runner" if method == "ours" else threads}
        try:
            measured = measure(task, seed, method, budget, args, speech_roots)
        except Exception as error:  # noqa: BLE001 - one failed run must not end an unattended sitting
            print(f"time_to_accuracy: {task.name} seed {seed} {method} FAILED: {error}", file=sys.stderr, flush=True)
            measured = {"error": str(error)[-3000:], "test_accuracy": None, "wall_seconds": None}
        report = report_of([*report["measurements"], {**common, **measured}], report["sittings"])
        report["sittings"][-1]["wall_seconds"] = round(time.monotonic() - started, 1)
        save(args.out, report)
    report["sittings"][-1]["wall_seconds"] = round(time.monotonic() - started, 1)
    save(args.out, report)
    return report


def measure(task: Task, seed: int, method: str, budget: Optional[int], args, speech_roots: dict) -> dict:
    """One measurement's own fields (run() adds the key, machine, commit and date)."""
    threads = args.threads
    if method == "ours":
        generated = None
        if task.speech and (task.name, seed) not in speech_roots:
            import speech_sets

            begun = time.monotonic()
            # Written anew: a set of another size from an earlier sitting would leave clips behind.
            shutil.rmtree(args.workdir / "sets" / f"s{seed}" / task.name, ignore_errors=True)
            speech_roots[task.name, seed] = speech_sets.write_task(
                args.workdir / "sets" / f"s{seed}", task.name, args.speech_per_class,
                args.speech_test_per_class, seed)
            generated = round(time.monotonic() - begun, 1)
        measured = measure_ours(task, seed, budget, args, args.workdir, speech_roots.get((task.name, seed)))
        if generated is not None:
            measured["speech_set_seconds"] = generated
    else:
        data = data_path(args.workdir, task.name, seed)
        if not data.exists():
            raise FileNotFoundError(f"time_to_accuracy: {data} is missing: {method} reads the data ours ingested for "
                             f"{task.name} seed {seed}; measure ours first (same --workdir)")
        space, epochs = task_space_and_epochs(task, args.product, args.epochs)
        job = {"task": task.name, "method": method, "seed": seed, "seconds": budget, "epochs": epochs,
               "space": space, "threads": threads, "data": str(data),
               "workdir": str(args.workdir / "peers" / f"{task.name}-{method}-s{seed}"),
               "cnn_grid": args.cnn_grid, "cnn_epochs": args.cnn_epochs}
        measured = measure_in_subprocess(job, args.workdir / "jobs")
        shutil.rmtree(job["workdir"], ignore_errors=True)
        if method in PEERS:
            measured["command"] = (f"{method}: {epochs} epochs a trial, {budget} s from its process's start, "
                                   f"{threads} TensorFlow thread(s)")
            measured["read_at"] = sorted(task.budgets)
    return measured


def parse_budgets(text: str) -> tuple[str, list[int]]:
    """TASK=SECONDS[,SECONDS...] (e.g. mnist1d=300,900)."""
    task, _, seconds = text.partition("=")
    if task not in TASKS or not seconds:
        raise argparse.ArgumentTypeError(f"expected TASK=SECONDS[,SECONDS...] with TASK one of {list(TASKS)}")
    return task, [int(s) for s in seconds.split(",")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, help="default: each task's (mnist1d 0-4, the others 0-2)")
    parser.add_argument("--budget", dest="budgets", action="append", type=parse_budgets, default=[],
                        metavar="TASK=SECONDS[,SECONDS]", help="a task's budgets instead of its default")
    parser.add_argument("--max-rounds", type=int, default=0, help="ours' --rounds (default: each task's)")
    parser.add_argument("--epochs", type=int, default=0,
                        help="per-trial epochs of the peers (default: the task's study config's; give ours the same "
                        "with --ours-args)")
    parser.add_argument("--ours-args", default="", help="more `model-search run` flags for ours (tiny runs)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="TensorFlow threads of the peers and baselines (default one per core, as ours has)")
    parser.add_argument("--cnn-epochs", type=int, default=CNN_EPOCHS)
    parser.add_argument("--cnn-grid", type=json.loads, default=CNN_GRID,
                        help="the CNN's grid as JSON (must hold the probe settings)")
    parser.add_argument("--speech-per-class", type=int, default=SPEECH_PER_CLASS)
    parser.add_argument("--speech-test-per-class", type=int, default=SPEECH_TEST_PER_CLASS)
    parser.add_argument("--product", type=Path, default=ROOT,
                        help="the checkout whose `model-search` runs as ours (default: this one)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="runs, speech sets and the ingested data the peers read; keep it between sittings")
    parser.add_argument("--keep-runs", action="store_true", help="keep ours' run directories in --workdir")
    parser.add_argument("--redo", action="store_true", help="measure again what OUT.json has (replacing it)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="OUT.json and OUT.md")
    parser.add_argument("--report-only", action="store_true", help="OUT.md again from OUT.json")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                        help="join these files' measurements into OUT (later ones replace)")
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--job-result", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.job:
        args.job_result.write_text(json.dumps(measure_in_process(args.job)))
        return 0
    args.out = args.out.with_suffix("") if args.out.suffix in (".json", ".md") else args.out
    if args.report_only:
        save(args.out, load(args.out))
        print(markdown(load(args.out)))
        return 0
    if args.merge:
        print(markdown(merge_files(args.out, args.merge)))
        return 0
    args.budgets = dict(args.budgets)
    args.product = args.product.resolve()
    if not any(all(g.get(k) == v for k, v in CNN_PROBE.items()) for g in args.cnn_grid):
        parser.error(f"--cnn-grid must hold the probe settings {CNN_PROBE}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    command = "benchmarks/time_to_accuracy.py " + " ".join(shlex.quote(a) for a in
                                                           (argv if argv is not None else sys.argv[1:]))
    report = run(args, command)
    print(markdown(report))
    return 1 if any(m.get("error") and m["date"] == report["sittings"][-1]["date"]
                    for m in report["measurements"]) else 0


if __name__ == "__main__":
    sys.exit(main())
