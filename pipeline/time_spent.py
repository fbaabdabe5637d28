"""Where a run's wall time went, and whether it kept its time budget.

`model-search run` reports it in its summary (and `--json`), from the run's
trials and ML Metadata's execution times (each node's start and end), as

- training: at least one trial training (its `started_at`..`finished_at`,
  concurrent trials counted once);
- evaluation: the SearchEvaluator and TFX's Evaluator (scoring the
  candidates, validating the chosen one);
- post_search: the Ensembler, the Distiller and the Pusher;
- ingest: the DataIngest node;
- orchestration: the rest - the command's start-up (Python, TensorFlow and
  TFX imports, compiling the pipeline), launching nodes, ML Metadata, the
  StudyHistory and Proposer nodes, trainers outside their trials (loading
  the examples, writing artifacts), and the summary itself.

Each category leaves out what the ones before it cover, so they add up to
the wall time. benchmarks/study_run.py splits time the same way, finer.
"""

from __future__ import annotations

import datetime
from typing import Any, Iterable, Optional, Sequence

from search_algo.time_budget import TimeBudget, format_duration, skipped_for_budget
from search_algo.trial import Trial

# Node kinds (the component class names) by category.
EVALUATION_NODES = ("SearchEvaluator", "ModelValidator")
POST_SEARCH_NODES = ("Ensembler", "Distiller", "StudyPusher")
INGEST_NODES = ("DataIngest",)
CATEGORIES = ("training", "evaluation", "post_search", "ingest", "orchestration")


def epoch_seconds(timestamp: Optional[str]) -> Optional[float]:
    """An ISO 8601 time (a trial's `started_at`) as epoch seconds."""
    if not timestamp:
        return None
    return datetime.datetime.fromisoformat(timestamp).timestamp()


def union_seconds(intervals: Iterable[tuple[float, float]], minus: Iterable[tuple[float, float]] = ()) -> float:
    """Length of the union of `intervals`, leaving out what `minus` covers."""
    covered = merge(intervals)
    taken = merge(minus)
    total = 0.0
    for start, end in covered:
        total += end - start
        for m_start, m_end in taken:
            total -= max(0.0, min(end, m_end) - max(start, m_start))
    return total


def merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def time_spent(start: float, end: float, trials: Sequence[Trial], nodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Seconds of [start, end] (epoch seconds) by category; `nodes` are
    {"node": kind, "start", "end"} of the executions in that time."""
    def of(kinds) -> list[tuple[float, float]]:
        return [(n["start"], n["end"]) for n in nodes if n["node"] in kinds]

    spans = [(epoch_seconds(t.started_at), epoch_seconds(t.finished_at)) for t in trials]
    seconds = split_wall_time(start, end, [
        ("training", [(a, b) for a, b in spans if a is not None and b is not None]),
        ("evaluation", of(EVALUATION_NODES)),
        ("post_search", of(POST_SEARCH_NODES)),
        ("ingest", of(INGEST_NODES)),
    ])
    return {"wall_seconds": round(end - start, 1), **seconds}


def split_wall_time(start: float, end: float,
                    order: Sequence[tuple[str, Sequence[tuple[float, float]]]]) -> dict[str, float]:
    """Seconds of [start, end] per (category, intervals) of `order`, each
    leaving out what the ones before it cover, and the rest as `orchestration`."""
    seconds: dict[str, float] = {}
    covered: list[tuple[float, float]] = []
    for name, intervals in order:
        intervals = [(max(a, start), min(b, end)) for a, b in intervals]
        seconds[name] = round(union_seconds(intervals, covered), 1)
        covered += intervals
    seconds["orchestration"] = round(max(0.0, end - start - sum(seconds.values())), 1)
    return seconds


def budget_summary(budget: Optional[TimeBudget], finished_at: float, trials: Sequence[Trial],
                   max_rounds: int) -> Optional[dict[str, Any]]:
    """The budget, how much of it the run took and whether it kept it; None without one."""
    if budget is None:
        return None
    searched = {t.round for t in trials if not skipped_for_budget(t)}
    return {
        "budget": format_duration(budget.seconds),
        "seconds": budget.seconds,
        "search_seconds": round(budget.search_seconds, 1),
        "reserve_seconds": round(budget.reserve_seconds, 1),
        "started_at": datetime.datetime.fromtimestamp(budget.started_at, datetime.timezone.utc).isoformat(),
        "elapsed_seconds": round(finished_at - budget.started_at, 1),
        "kept": budget.kept(finished_at),
        "tolerance_seconds": round(budget.tolerance_seconds, 1),
        "rounds_searched": len(searched),
        "max_rounds": max_rounds,
        "skipped_trials": sum(skipped_for_budget(t) for t in trials),
    }
