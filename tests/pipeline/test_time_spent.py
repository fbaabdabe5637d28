"""The run summary's time report (pipeline/time_spent.py) on synthetic times."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from pipeline.time_spent import budget_summary, time_spent
from search_algo.algorithms.simulate import make_trial
from search_algo.architecture import Architecture, BlockSpec
from search_algo.time_budget import BUDGET_SPENT_ERROR, TimeBudget

T0 = 1_800_000_000.0


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(T0 + seconds, datetime.timezone.utc).isoformat()


def _trial(trial_id, start, end, round_index=1, skipped=False):
    trial = make_trial(Architecture([BlockSpec("dense")]), trial_id, round=round_index,
                       status="failed" if skipped else "completed", score=None if skipped else 0.5,
                       error=BUDGET_SPENT_ERROR if skipped else None)
    return dataclasses.replace(trial, started_at=None if skipped else _iso(start),
                               finished_at=None if skipped else _iso(end))


def test_the_wall_time_splits_into_categories_that_add_up_without_double_counting():
    # Two concurrent trials 10..40 and 20..50, inside their trainer nodes 5..55.
    trials = [_trial("a", 10, 40), _trial("b", 20, 50)]
    nodes = [
        {"node": "DataIngest", "start": T0 + 1, "end": T0 + 4},
        {"node": "TrialTrainer", "start": T0 + 5, "end": T0 + 55},
        {"node": "Ensembler", "start": T0 + 60, "end": T0 + 65},
        {"node": "Distiller", "start": T0 + 66, "end": T0 + 76},
        {"node": "SearchEvaluator", "start": T0 + 77, "end": T0 + 85},
        {"node": "ModelValidator", "start": T0 + 86, "end": T0 + 90},
        {"node": "StudyPusher", "start": T0 + 91, "end": T0 + 92},
    ]
    spent = time_spent(T0, T0 + 100, trials, nodes)
    assert spent == {"wall_seconds": 100.0, "training": 40.0, "evaluation": 12.0, "post_search": 16.0,
                     "ingest": 3.0, "orchestration": 29.0}


def test_the_budget_summary_says_whether_the_run_kept_it_and_how_many_rounds_searched():
    trials = [_trial("a", 1, 2), _trial("b", 3, 4, round_index=2), _trial("c", 0, 0, round_index=3, skipped=True)]
    budget = TimeBudget(300, T0)
    summary = budget_summary(budget, T0 + 320, trials, max_rounds=5)
    assert summary["kept"] is True and summary["elapsed_seconds"] == 320.0
    assert (summary["rounds_searched"], summary["max_rounds"], summary["skipped_trials"]) == (2, 5, 1)
    assert summary["budget"] == "5m" and summary["search_seconds"] + summary["reserve_seconds"] == pytest.approx(300)
    assert budget_summary(budget, T0 + 331, trials, 5)["kept"] is False
    assert budget_summary(None, T0, trials, 5) is None
