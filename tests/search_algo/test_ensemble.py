"""Ensemble selection on small prediction arrays: greedy, learned weights, auto."""

from __future__ import annotations

import numpy as np
import pytest

from search_algo.ensemble import (
    choose_ensemble, fit_weights, greedy_selection, learned_selection, score_predictions,
)


def one_hot_noisy(labels, classes, accuracy, rng, confidence=0.8):
    """Probabilities that are right on about `accuracy` of the examples."""
    predicted = np.where(rng.random(len(labels)) < accuracy, labels, rng.integers(0, classes, len(labels)))
    probabilities = np.full((len(labels), classes), (1 - confidence) / (classes - 1))
    probabilities[np.arange(len(labels)), predicted] = confidence
    return probabilities


@pytest.fixture
def members(rng):
    labels = rng.integers(0, 4, 400)
    predictions = [one_hot_noisy(labels, 4, acc, rng) for acc in (0.7, 0.65, 0.6, 0.3, 0.25)]
    return predictions, labels


def test_learned_weights_are_a_distribution_that_lowers_the_log_loss(members):
    predictions, labels = members
    weights = fit_weights(predictions, labels, "classification")
    assert weights.shape == (5,) and np.all(weights >= 0) and weights.sum() == pytest.approx(1.0)

    def log_loss(w):
        mixed = sum(wi * p for wi, p in zip(w, predictions))
        return -np.mean(np.log(mixed[np.arange(len(labels)), labels]))

    assert log_loss(weights) < log_loss(np.full(5, 0.2)) - 1e-3
    # The weakest members get the least weight.
    assert weights[:3].min() > weights[3:].max()


def test_learned_selection_keeps_at_most_k_members(members):
    predictions, labels = members
    choice = learned_selection(predictions, labels, "classification", max_members=2)
    assert 1 <= len(choice.members) <= 2 and set(choice.members) <= {0, 1, 2}
    assert sum(choice.weights) == pytest.approx(1.0)


def test_learned_weights_for_regression_prefer_the_accurate_member(rng):
    target = rng.normal(size=300)
    good, bad = target + rng.normal(scale=0.1, size=300), target + rng.normal(scale=2.0, size=300)
    weights = fit_weights([good, bad], target, "regression")
    assert weights[0] > 0.95


def test_greedy_ensemble_is_never_worse_than_its_best_member_on_eval(members):
    predictions, labels = members
    choice = greedy_selection(predictions, labels, "classification", max_members=3)
    best_single = max(score_predictions(p, labels, "classification") for p in predictions)
    assert choice.score >= best_single
    assert len(choice.members) <= 3


def test_auto_keeps_greedy_unless_learned_wins_on_held_out_eval_and_on_eval(members):
    predictions, labels = members
    choice, report = choose_ensemble(predictions, labels, "classification", max_members=3)
    assert report["method"] in ("greedy", "learned")
    assert {"greedy_cv_score", "learned_cv_score", "greedy_eval_score", "learned_eval_score"} <= set(report)
    if report["method"] == "learned":
        assert report["learned_cv_score"] > report["greedy_cv_score"]
        assert report["learned_eval_score"] >= report["greedy_eval_score"]
    else:
        assert choice.score == report["greedy_eval_score"]
    # A single candidate: both methods give it all the weight.
    alone, _ = choose_ensemble(predictions[:1], labels, "classification", max_members=3)
    assert alone.members == [0] and alone.weights == [1.0]
