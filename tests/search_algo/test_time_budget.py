"""The study's time budget (search_algo/time_budget.py) on synthetic clocks."""

from __future__ import annotations

import dataclasses

import pytest

from search_algo import time_budget
from search_algo.algorithms.simulate import make_trial
from search_algo.architecture import Architecture, BlockSpec
from search_algo.time_budget import (
    BUDGET_SPENT_ERROR, TimeBudget, epochs_worth_training, expected_trial_seconds, format_duration, parse_duration, skipped_for_budget,
)
from search_algo.trial import FAILED

START = 1_000_000.0  # epoch seconds of a synthetic run's start


@pytest.mark.parametrize("value, seconds", [
    (300, 300.0), (2.5, 2.5), ("300", 300.0), ("90s", 90.0), ("20m", 1200.0), ("1h", 3600.0),
    ("1h30m", 5400.0), ("1h30m15s", 5415.0), ("1.5h", 5400.0), (" 20M ", 1200.0), ("2m30s", 150.0),
])
def test_durations_parse(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "0", 0, -5, "-5m", "20x", "m", "1h-3m", "20 minutes", True, None, [300],
                                   "nan", "inf", "30m1h"])
def test_bad_durations_say_what_a_duration_looks_like(value):
    with pytest.raises(ValueError, match="20m, 1h, 1h30m"):
        parse_duration(value)


@pytest.mark.parametrize("seconds, text", [(5400, "1h30m"), (1200, "20m"), (45, "45s"), (3661, "1h1m1s")])
def test_durations_are_shown_back_in_the_same_form(seconds, text):
    assert format_duration(seconds) == text and parse_duration(text) == seconds


def test_the_reserve_is_the_fixed_estimates_plus_the_students_share():
    budget = TimeBudget(1200, START)
    expected = time_budget.ENSEMBLE_SECONDS + time_budget.EVALUATION_SECONDS + 0.1 * 1200
    assert budget.reserve_seconds == pytest.approx(expected)
    assert budget.search_deadline == pytest.approx(START + 1200 - expected)
    assert budget.deadline == START + 1200
    assert budget.evaluation_reserve == pytest.approx(time_budget.EVALUATION_SECONDS)


def test_a_small_budget_keeps_half_for_the_search_and_shrinks_every_part_of_the_reserve():
    budget = TimeBudget(60, START)
    assert budget.reserve_seconds == pytest.approx(30.0)
    assert budget.search_seconds == pytest.approx(30.0)
    assert budget.evaluation_reserve < time_budget.EVALUATION_SECONDS


def test_rounds_propose_until_the_search_time_is_spent():
    budget = TimeBudget(600, START)
    assert budget.can_train(START)
    assert budget.can_train(budget.search_deadline - 1)
    assert not budget.can_train(budget.search_deadline)
    assert not budget.can_train(budget.deadline + 100)
    # A trial expected to take longer than what is left is not started.
    assert budget.can_train(budget.search_deadline - 50, expected_seconds=40)
    assert not budget.can_train(budget.search_deadline - 50, expected_seconds=60)


def test_a_round_ends_its_search_early_enough_for_the_later_rounds_nodes_to_pass_through():
    last_round, earlier_round = TimeBudget(600, START), TimeBudget(600, START, nodes_after=9)
    allowance = 9 * time_budget.PASS_THROUGH_NODE_SECONDS
    assert earlier_round.search_deadline == pytest.approx(last_round.search_deadline - allowance)
    assert earlier_round.can_train(earlier_round.search_deadline - 1)
    assert not earlier_round.can_train(last_round.search_deadline - 1)
    assert earlier_round.trial_time_limit(last_round.search_deadline - allowance - 5, None) == pytest.approx(5)
    # What follows the search is unchanged; a budget smaller than the allowance leaves no search.
    assert earlier_round.post_search_deadline == last_round.post_search_deadline
    tiny = TimeBudget(60, START, nodes_after=1000)
    assert tiny.search_deadline == START and not tiny.can_train(START)


def test_a_trials_time_limit_is_capped_at_the_search_time_left():
    budget = TimeBudget(600, START)
    now = budget.search_deadline - 25
    assert budget.trial_time_limit(now, None) == pytest.approx(25)
    assert budget.trial_time_limit(now, 10) == 10
    assert budget.trial_time_limit(now, 100) == pytest.approx(25)
    assert budget.trial_time_limit(budget.search_deadline + 5, None) == 0


def test_the_student_gets_what_is_left_before_the_evaluations_share_or_is_skipped():
    budget = TimeBudget(1200, START)
    evaluation_starts = budget.deadline - budget.evaluation_reserve
    assert budget.distill_seconds(evaluation_starts - 100) == pytest.approx(100)
    assert budget.should_distill(evaluation_starts - 100)
    assert not budget.should_distill(evaluation_starts - time_budget.MIN_DISTILL_SECONDS + 1)
    assert budget.should_ensemble(evaluation_starts - time_budget.MIN_ENSEMBLE_SECONDS)
    assert not budget.should_ensemble(evaluation_starts - 1)
    # A search that kept to its time leaves the student its share.
    assert budget.should_distill(budget.search_deadline + time_budget.ENSEMBLE_SECONDS)


def test_a_budget_is_kept_within_five_percent_or_thirty_seconds():
    assert TimeBudget(300, START).kept(START + 330) and not TimeBudget(300, START).kept(START + 331)
    assert TimeBudget(3600, START).kept(START + 3780) and not TimeBudget(3600, START).kept(START + 3781)


def test_no_budget_without_seconds_or_a_start():
    assert TimeBudget.of(None, START) is None and TimeBudget.of(0.0, START) is None
    assert TimeBudget.of(300, 0.0) is None
    assert TimeBudget.of(300, START) == TimeBudget(300.0, START)


def _trial(trial_id, seconds, epochs, status="completed"):
    trial = make_trial(Architecture([BlockSpec("dense")]), trial_id, status=status, score=0.5)
    return dataclasses.replace(trial, train_seconds=seconds, epochs=epochs)


def test_a_trial_is_expected_to_take_the_median_seconds_per_epoch_times_its_epochs():
    trials = [_trial("a", 10, 10), _trial("b", 30, 10), _trial("c", 20, 10), _trial("d", 500, 1, status=FAILED)]
    assert expected_trial_seconds(trials, 5) == pytest.approx(10.0)
    assert expected_trial_seconds([], 5) == 0.0


def test_near_the_deadline_a_trial_is_worth_starting_for_a_quarter_of_its_epochs():
    assert [epochs_worth_training(planned) for planned in (1, 3, 4, 27, 32)] == [1, 1, 1, 7, 8]


def test_a_skipped_proposal_is_told_from_a_failed_trial():
    skipped = dataclasses.replace(_trial("a", None, None, status=FAILED), error=BUDGET_SPENT_ERROR)
    failed = dataclasses.replace(_trial("b", 3, 1, status=FAILED), error="the loss became nan in epoch 1")
    assert skipped_for_budget(skipped) and not skipped_for_budget(failed)
