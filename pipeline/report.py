"""`DIR/report.html`: the search in one self-contained page.

This module gathers what the page shows - the run's leaderboard, the study's
trials, its data and its history across runs - into a context of plain values
and renders `pipeline/templates/report.html.j2` with Jinja2, autoescaping on:
every string from the user or the data (class names, column names, file
names, study and run names, block arguments) is escaped by the template,
once. Charts are inline SVG from `pipeline.report_charts`, which escapes the
user text inside them and hands them over as `Markup`.

The page has no external files and makes no network request (its Content
Security Policy forbids any); the only script, `templates/sort_table.js`,
sorts the trial table, and the policy allows it by its hash alone.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import importlib.resources
import os
from typing import Any, Mapping, Optional, Sequence

import jinja2
import markupsafe

from pipeline.report_charts import (
    COLOURS,
    Metric,
    best_so_far_chart,
    block_diagram,
    diagram_caption,
    learning_curves_chart,
    lineage_chart,
    pareto_chart,
    pareto_front,
    run_order,
    timeline_chart,
)
from search_algo.constraints import Constraints
from search_algo.objective import resolve

# The chart kit's names stay importable from here (pipeline.report.Metric, .pareto_front, ...).
__all__ = [
    "REPORT_FILE", "TOP_MODELS", "CSP", "Metric", "pareto_front", "COLOURS", "best_so_far_chart",
    "learning_curves_chart", "pareto_chart", "block_diagram", "lineage_chart", "timeline_chart",
    "report_context", "render", "build_report", "write_report_file", "write_report_from_store",
]

REPORT_FILE = "report.html"
TEMPLATE = "report.html.j2"
TOP_MODELS = 3
CANDIDATES = ("best_single", "ensemble", "distilled")
# The page's one script, put into the page as it is, so that its hash is the
# hash of the script the browser sees.
SORT_SCRIPT = importlib.resources.files("pipeline").joinpath("templates", "sort_table.js").read_text(encoding="utf-8")
# The page's Content Security Policy: nothing from anywhere, inline styles,
# and no script but the one whose SHA-256 it names (CSP Level 2 hash source),
# so that no text in the page can run as a script.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; "
       f"script-src 'sha256-{base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()}'; "
       "img-src data:")
TRIAL_COLUMNS = ("trial", "round", "algorithm", "architecture", "parameters", "eval", "loss", "epochs",
                 "seconds", "status", "parent")
NUMERIC_TRIAL_COLUMNS = {"round", "parameters", "eval", "loss", "epochs", "seconds"}


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """Templates ship inside the package (pyproject's package-data)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _params(value: Any) -> str:
    return f"{value:,}" if value else "-"


def _when(timestamp: Optional[str]) -> str:
    return (timestamp or "")[:19].replace("T", " ")


def _metric_keys(candidates: Sequence[dict[str, Any]], split: str) -> list[str]:
    keys: list[str] = []
    for candidate in candidates:
        for key, value in (candidate.get(split) or {}).items():
            if isinstance(value, (int, float)) and key not in keys:
                keys.append(key)
    return keys


def _score(metrics: Optional[Mapping[str, Any]], key: str) -> Optional[float]:
    value = (metrics or {}).get(key)
    return float(value) if isinstance(value, (int, float)) else None


# --------------------------------------------------------------------------
# Tables (plain values; the template escapes them)


def candidates_table(leaderboard: dict[str, Any]) -> dict[str, Any]:
    candidates = leaderboard.get("candidates") or []
    # `estimate`: what the choice reads (eval, not fitted on the examples that
    # score it); `eval`: the shipped model on all of eval; leaderboards
    # written before estimates existed have none.
    estimate_keys = _metric_keys(candidates, "estimate")
    eval_keys, test_keys = _metric_keys(candidates, "eval"), _metric_keys(candidates, "test")
    estimated = any(candidate.get("estimated_by") for candidate in candidates)
    head = ["candidate", "models", "parameters", *(f"estimate {k}" for k in estimate_keys),
            *(["estimated by"] if estimated else []), *(f"eval {k}" for k in eval_keys),
            *(f"test {k}" for k in test_keys), "latency (ms)"]
    limits = leaderboard.get("constraints") or {}
    constrained = bool(limits.get("max_params") or limits.get("max_latency_ms"))
    if constrained:
        head.append("within the constraints")
    rows = []
    for candidate in candidates:
        rows.append({
            "name": candidate.get("name"),
            "chosen": candidate.get("name") == leaderboard.get("chosen"),
            "cells": [
                ", ".join(candidate.get("trial_ids") or []),
                _params(candidate.get("num_params")),
                *(_number((candidate.get("estimate") or {}).get(k)) for k in estimate_keys),
                *([(candidate.get("estimated_by") or {}).get("how") or "-"] if estimated else []),
                *(_number((candidate.get("eval") or {}).get(k)) for k in eval_keys),
                *(_number((candidate.get("test") or {}).get(k)) for k in test_keys),
                _number(candidate.get("latency_ms")),
                *(["no: " + "; ".join(candidate["over_limits"]) if candidate.get("over_limits") else "yes"]
                  if constrained else []),
            ],
        })
    return {"head": head, "rows": rows, "constraints": Constraints(**limits).describe() if constrained else None}


def trials_table(trials: Sequence[dict[str, Any]], metric: Metric) -> dict[str, Any]:
    """Every trial; a click on a header sorts by that column (the inline script)."""
    head = [{"label": metric.label if c == "eval" else c, "type": "number" if c in NUMERIC_TRIAL_COLUMNS else "text"}
            for c in TRIAL_COLUMNS]
    rows = []
    for trial in trials:
        metrics = trial.get("metrics") or {}
        status = trial.get("status") or ""
        values = {
            "trial": trial.get("trial_id"),
            "round": trial.get("round"),
            "algorithm": trial.get("algorithm"),
            "architecture": " > ".join(trial.get("architecture") or []),
            "parameters": trial.get("num_params"),
            "eval": metric.of(trial),
            "loss": metrics.get("loss") if status == "completed" else None,
            "epochs": trial.get("epochs"),
            "seconds": round(trial["train_seconds"], 1) if trial.get("train_seconds") is not None else None,
            "status": status + (f": {trial['error']}" if trial.get("error") else ""),
            "parent": (trial.get("parent") or "-") + (" (continued)" if trial.get("transfer") == "continue" else ""),
        }
        cells = []
        for column in TRIAL_COLUMNS:
            value = values[column]
            cells.append({
                "sort": "" if value is None else str(value),
                "shown": f"{value:,}" if column == "parameters" and value is not None else _number(value),
                "numeric": column in NUMERIC_TRIAL_COLUMNS,
            })
        rows.append({"status": status, "cells": cells})
    return {"head": head, "rows": rows}


def dataset_items(spec: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if not spec:
        return None
    features = ", ".join(f.get("display_name") or f.get("name") or "" for f in spec.get("features") or [])
    items = [
        ("data", spec.get("name")),
        ("task", spec.get("task")),
        ("input", spec.get("input_kind")),
        ("label", spec.get("label_display_name")),
        ("features", features),
        ("split sizes", ", ".join(f"{k} {v}" for k, v in (spec.get("split_sizes") or {}).items())),
    ]
    return {"entries": [(k, "" if v is None else v) for k, v in items], "class_names": list(spec.get("class_names") or [])}


def confusion_matrix(candidate: Optional[dict[str, Any]], split: str = "test",
                     class_names: Sequence[str] = ()) -> Optional[dict[str, Any]]:
    """A classification candidate's confusion matrix on `split` (rows: true
    class, columns: predicted class) with each cell's share of its row - the
    heat shading - and the per-class precision, recall and support."""
    details = (candidate or {}).get(f"{split}_details") or {}
    matrix = details.get("confusion_matrix")
    per_class = details.get("per_class") or []
    if not matrix:
        return None
    names = [c.get("class") for c in per_class] if len(per_class) == len(matrix) else list(class_names)
    if len(names) != len(matrix):
        names = [str(i) for i in range(len(matrix))]
    rows = []
    for true_name, counts in zip(names, matrix):
        total = sum(counts)
        cells = []
        for predicted_name, count in zip(names, counts):
            share = count / total if total else 0.0
            cells.append({"count": count, "share": share, "alpha": round(0.85 * share, 3), "dark": share > 0.55,
                          "diagonal": predicted_name == true_name,
                          "title": f"true {true_name}, predicted {predicted_name}: {count} of {total} ({share:.0%})"})
        rows.append({"name": true_name, "cells": cells, "total": total})
    classes = []
    for entry in per_class:
        precision, recall = entry.get("precision") or 0.0, entry.get("recall") or 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        classes.append({"name": entry.get("class"), "precision": _number(precision, 3), "recall": _number(recall, 3),
                        "f1": _number(f1, 3), "support": entry.get("support")})
    return {"split": split, "names": names, "rows": rows, "per_class": classes,
            "correct": sum(matrix[i][i] for i in range(len(matrix))), "total": sum(map(sum, matrix))}


def study_timeline(leaderboard: dict[str, Any], trials: Sequence[dict[str, Any]], history: Sequence[dict[str, Any]],
                   leaderboards: Mapping[str, dict[str, Any]], metric: Metric) -> list[dict[str, Any]]:
    """One row per run of the study, oldest first: its chosen model, that
    model's eval and test objective, whether it was blessed and pushed, what
    it was compared with, and the eval objective of the model in production
    after the run (the latest model pushed so far).

    Runs come from the trials, the leaderboards and the validations (the
    blessing history), so a run that failed before its leaderboard is listed
    too; they are ordered by their first trial's start, else by validation."""
    validations = {v.get("run_id"): v for v in history if v.get("run_id")}
    boards = {run: board for run, board in (leaderboards or {}).items() if run and board}
    if leaderboard.get("run_id"):
        boards[leaderboard["run_id"]] = leaderboard
    started = {run: at for run, at in run_order(trials).items() if run}
    runs = list(dict.fromkeys([*started, *boards, *validations]))
    position = {run: i for i, run in enumerate(runs)}

    def order(run: str) -> tuple[str, int]:
        # Unknown times last; ties keep the order runs were found in.
        return (started.get(run) or (validations.get(run) or {}).get("written_at") or "\uffff", position[run])

    rows: list[dict[str, Any]] = []
    production: Optional[dict[str, Any]] = None
    trial_counts: dict[str, list[int]] = {}
    for trial in trials:
        counts = trial_counts.setdefault(trial.get("run_id") or "", [0, 0])
        counts[0] += 1
        counts[1] += trial.get("status") == "completed"
    for run in sorted(runs, key=order):
        board, validation = boards.get(run), validations.get(run)
        candidate = None
        if board:
            candidate = next((c for c in board.get("candidates") or [] if c.get("name") == board.get("chosen")), None)
        eval_score = _score((candidate or {}).get("eval"), metric.key)
        if eval_score is None and validation:
            eval_score = _score(validation.get("eval"), metric.key)
        row = {
            "run_id": run,
            "when": _when((validation or {}).get("written_at") or started.get(run)),
            "trials": trial_counts.get(run, [0, 0]),
            "candidate": (board or {}).get("chosen") or (validation or {}).get("candidate"),
            "num_params": _params((candidate or {}).get("num_params") or (validation or {}).get("num_params")),
            "eval": eval_score,
            "test": _score((candidate or {}).get("test"), metric.key),
            "blessed": validation.get("blessed") if validation else None,
            "pushed": bool(validation and validation.get("pushed")),
            "pushed_to": (validation or {}).get("pushed_to"),
            "compared_with": (validation or {}).get("baseline_run") or (validation or {}).get("baseline_model"),
            "state": "validated" if validation else ("not validated" if board else "no leaderboard"),
        }
        if row["pushed"]:
            production = row
        row["production_run"] = production["run_id"] if production else None
        row["production_eval"] = production["eval"] if production else None
        rows.append(row)
    return rows


# --------------------------------------------------------------------------
# The page


# How the report names and explains each of pipeline/time_spent.py's CATEGORIES.
TIME_LABELS = {
    "training": ("training", "at least one trial training"),
    "evaluation": ("evaluation", "scoring the candidates, validating the chosen one"),
    "post_search": ("after the search", "ensembling, distillation, push"),
    "ingest": ("ingest", "reading and splitting the data"),
    "orchestration": ("orchestration", "start-up, launching nodes, ML Metadata, trainers outside their trials"),
}


def time_section(leaderboard: dict[str, Any]) -> Optional[dict[str, Any]]:
    """Where the run's wall time went and how it kept its time budget, from
    the `time_spent` and `time_budget` that `model-search run` puts into
    DIR/leaderboard.json (pipeline/time_spent.py); None when it has neither
    (a leaderboard read from ML Metadata, a run by another runner)."""
    spent, budget = leaderboard.get("time_spent"), leaderboard.get("time_budget")
    if not spent and not budget:
        return None
    rows = []
    wall = (spent or {}).get("wall_seconds") or 0.0
    from pipeline.time_spent import CATEGORIES

    for key in CATEGORIES:
        label, what = TIME_LABELS[key]
        seconds = (spent or {}).get(key)
        if seconds is None:
            continue
        rows.append({"label": label, "what": what, "seconds": f"{seconds:,.1f}",
                     "share": f"{seconds / wall:.0%}" if wall else "-"})
    section: dict[str, Any] = {"rows": rows, "wall": f"{wall:,.1f}" if spent else None, "budget": None}
    if budget:
        section["budget"] = {
            "budget": budget.get("budget"),
            "search": f"{budget.get('search_seconds', 0):,.0f}",
            "reserve": f"{budget.get('reserve_seconds', 0):,.0f}",
            "elapsed": f"{budget.get('elapsed_seconds', 0):,.0f}",
            "kept": budget.get("kept"),
            "rounds": f"{budget.get('rounds_searched')} of {budget.get('max_rounds')}",
            "skipped": budget.get("skipped_trials") or 0,
        }
    return section


def report_context(leaderboard: dict[str, Any], trials: Sequence[dict[str, Any]],
                   dataset_spec: Optional[dict[str, Any]] = None, generated_at: Optional[str] = None,
                   history: Sequence[dict[str, Any]] = (),
                   leaderboards: Optional[Mapping[str, dict[str, Any]]] = None) -> dict[str, Any]:
    """Everything the template shows, as plain values (and chart Markup)."""
    task = leaderboard.get("task") or (dataset_spec or {}).get("task") or "classification"
    metric = Metric(resolve((leaderboard.get("objective") or {}).get("metric"), task))
    # Trial number: the order of the search (runs, then rounds; a round's trials train side by side).
    runs = run_order(trials)
    trials = sorted(trials, key=lambda t: (runs.get(t.get("run_id") or "", ""), t.get("run_id") or "",
                                           int(t.get("round") or 0), str(t.get("trial_id"))))
    ranked = sorted((t for t in trials if metric.of(t) is not None),
                    key=lambda t: (-metric.of(t) if metric.higher_is_better else metric.of(t), t.get("num_params") or 0))
    top = ranked[:TOP_MODELS]
    candidates = leaderboard.get("candidates") or []
    chosen = next((c for c in candidates if c.get("name") == leaderboard.get("chosen")), None)
    in_chosen = list(chosen.get("trial_ids") or []) if chosen else []
    timeline = study_timeline(leaderboard, trials, history, leaderboards or {}, metric)
    summary = None
    if chosen:
        summary = {"name": chosen.get("name"), "trial_ids": ", ".join(chosen.get("trial_ids") or []),
                   "test": _number((chosen.get("test") or {}).get(metric.key)), "params": f"{chosen.get('num_params') or 0:,}"}
    return {
        "study": leaderboard.get("study") or "",
        "run_id": leaderboard.get("run_id"),
        "generated_at": generated_at or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "trial_count": len(trials),
        "completed": sum(t.get("status") == "completed" for t in trials),
        "metric": {"key": metric.key, "label": metric.label, "title": metric.label[:1].upper() + metric.label[1:],
                   "higher_is_better": metric.higher_is_better},
        "summary": summary,
        "candidates": candidates_table(leaderboard),
        "timeline": {"rows": [{**r, "eval": _number(r["eval"]), "test": _number(r["test"])} for r in timeline],
                     "chart": timeline_chart(timeline, metric)},
        "time": time_section(leaderboard),
        "dataset": dataset_items(dataset_spec),
        "confusion": confusion_matrix(chosen, "test", (dataset_spec or {}).get("class_names") or ())
        if task == "classification" else None,
        "learning_curves": learning_curves_chart(trials, metric, highlight=in_chosen,
                                                 best=top[0].get("trial_id") if top else None),
        "best_so_far": best_so_far_chart(trials, metric),
        "pareto": pareto_chart(trials, candidates, metric),
        "top": [{"caption": diagram_caption(t, metric), "svg": block_diagram(t)} for t in top],
        "lineage": lineage_chart(trials, metric, set(in_chosen)),
        "trials": trials_table(trials, metric),
    }


def render(context: Mapping[str, Any]) -> str:
    # Our own text, not escaped: the policy's quotes and the script as hashed.
    return environment().get_template(TEMPLATE).render(
        context, csp=markupsafe.Markup(CSP), sort_script=markupsafe.Markup(SORT_SCRIPT))


def build_report(leaderboard: dict[str, Any], trials: Sequence[dict[str, Any]],
                 dataset_spec: Optional[dict[str, Any]] = None, generated_at: Optional[str] = None,
                 history: Sequence[dict[str, Any]] = (),
                 leaderboards: Optional[Mapping[str, dict[str, Any]]] = None) -> str:
    """The report page. `trials` are `Trial.summary()` dicts, oldest first;
    `dataset_spec` is a DatasetSpec dict (optional); `history` the study's
    blessing history (`study_access.blessing_history`); `leaderboards` each
    earlier run's leaderboard by run id (for the study timeline)."""
    return render(report_context(leaderboard, trials, dataset_spec, generated_at, history, leaderboards))


def write_report_file(path: str, leaderboard: dict[str, Any], study) -> str:
    """Writes the report of `leaderboard` and the study's trials, data,
    blessing history and runs' leaderboards (a StudyStore or a StudyRecord)
    to `path`, a local path or a URI, atomically; returns the path."""
    from components import files
    from pipeline.study_access import blessing_history

    trials = [t.summary() for t in study.trials()]
    spec = study.dataset_spec()
    page = build_report(leaderboard, trials, spec.to_dict() if spec else None,
                        history=blessing_history(study.validations()), leaderboards=study.run_leaderboards())
    files.write_text(path, page)
    return path


def write_report_from_store(output_dir: str, store, leaderboard: dict[str, Any]) -> str:
    """DIR/report.html of a run directory."""
    return write_report_file(os.path.join(output_dir, REPORT_FILE), leaderboard, store)
