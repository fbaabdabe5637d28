"""The selection policy: best, lowest-loss, and smallest-within=X percentage points, on each candidate's estimate."""

from __future__ import annotations

import pytest

from search_algo.errors import UserError
from search_algo.selection import choose, parse_policy


def candidates(*rows):
    return [{"name": name, "num_params": size, "estimate": {"accuracy": acc}, "test": {"accuracy": 1.0 - acc}}
            for name, size, acc in rows]


BOARD = candidates(("best_single", 40_000, 0.880), ("ensemble", 160_000, 0.905), ("distilled", 9_000, 0.899))


def test_parse_policy_accepts_best_and_smallest_within_and_rejects_the_rest():
    assert str(parse_policy("best")) == "best"
    assert str(parse_policy(" Lowest-Loss ")) == "lowest-loss"
    assert str(parse_policy(" Smallest-Within=0.5 ")) == "smallest-within=0.5"
    assert parse_policy("smallest-within=2").margin == 2.0
    for bad in ("fastest", "smallest-within", "smallest-within=-1", "smallest-within=x", "smallest-within=nan", ""):
        with pytest.raises(UserError, match="smallest-within=X"):
            parse_policy(bad)


def test_best_takes_the_highest_eval_accuracy_never_test():
    # The test accuracies are reversed on purpose: choosing on them would pick best_single.
    assert choose(BOARD, parse_policy("best"), "classification")["name"] == "ensemble"


def test_best_breaks_ties_towards_the_smaller_model():
    tied = candidates(("best_single", 40_000, 0.9), ("ensemble", 160_000, 0.9), ("distilled", 9_000, 0.7))
    assert choose(tied, parse_policy("best"), "classification")["name"] == "best_single"


def test_lowest_loss_prefers_the_confident_candidate_over_one_more_correct_example():
    # 446 eval examples: the single model is one example ahead, the ensemble far better calibrated.
    board = [{"name": "best_single", "num_params": 88_458, "estimate": {"accuracy": 0.9955, "loss": 0.0246}},
             {"name": "ensemble", "num_params": 500_000, "estimate": {"accuracy": 0.9933, "loss": 0.0128}},
             {"name": "distilled", "num_params": 12_000, "estimate": {"accuracy": 0.9800, "loss": 0.0700}}]
    assert choose(board, parse_policy("best"), "classification")["name"] == "best_single"
    assert choose(board, parse_policy("lowest-loss"), "classification")["name"] == "ensemble"
    tied = [dict(board[1], name="big"), dict(board[1], name="small", num_params=1_000)]
    assert choose(tied, parse_policy("lowest-loss"), "classification")["name"] == "small"


def test_smallest_within_x_points_of_the_best():
    # distilled is 0.6 points below the ensemble: outside 0.5, inside 1.
    assert choose(BOARD, parse_policy("smallest-within=0.5"), "classification")["name"] == "ensemble"
    assert choose(BOARD, parse_policy("smallest-within=0.6"), "classification")["name"] == "distilled"
    assert choose(BOARD, parse_policy("smallest-within=1"), "classification")["name"] == "distilled"
    # best_single is 2.5 points below: within 3 points it is eligible but larger than distilled.
    assert choose(BOARD, parse_policy("smallest-within=3"), "classification")["name"] == "distilled"


def test_smallest_within_for_regression_is_percent_of_rmse():
    board = [{"name": "best_single", "num_params": 500, "estimate": {"rmse": 10.0}},
             {"name": "ensemble", "num_params": 2000, "estimate": {"rmse": 9.0}},
             {"name": "distilled", "num_params": 100, "estimate": {"rmse": 9.8}}]
    assert choose(board, parse_policy("best"), "regression")["name"] == "ensemble"
    assert choose(board, parse_policy("smallest-within=5"), "regression")["name"] == "ensemble"  # 9.8 > 9.45
    assert choose(board, parse_policy("smallest-within=10"), "regression")["name"] == "distilled"  # 9.8 <= 9.9


def test_every_policy_chooses_on_the_estimate_not_on_the_in_sample_eval_metrics():
    # In-sample, the ensemble (fitted on eval) and the best single model (the best
    # of many on eval) look ahead; out-of-fold, the student is as good and smaller.
    board = [{"name": "best_single", "num_params": 40_000, "eval": {"accuracy": 0.990, "loss": 0.030},
              "estimate": {"accuracy": 0.975, "loss": 0.080}},
             {"name": "ensemble", "num_params": 160_000, "eval": {"accuracy": 0.995, "loss": 0.010},
              "estimate": {"accuracy": 0.976, "loss": 0.075}},
             {"name": "distilled", "num_params": 9_000, "eval": {"accuracy": 0.980, "loss": 0.060},
              "estimate": {"accuracy": 0.980, "loss": 0.060}}]
    for policy in ("best", "lowest-loss", "smallest-within=0.5"):
        assert choose(board, parse_policy(policy), "classification")["name"] == "distilled"
    assert choose(board, parse_policy("smallest-within=0"), "classification")["name"] == "distilled"
