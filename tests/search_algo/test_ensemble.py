"""Ensemble selection on small prediction arrays: greedy, bagged, learned weights, average, auto."""

from __future__ import annotations

import numpy as np
import pytest

from search_algo.ensemble import (
    AUTO_METHODS, average_selection, bagged_selection, choose_ensemble, cross_validated_score, fit_weights,
    greedy_selection, learned_selection, score_predictions,
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


def test_greedy_climbs_log_loss_past_a_step_that_costs_an_example():
    # The first member is right on 4 of 5 examples, the second on 3; together
    # they are right on 3 but far less confidently wrong. Hill-climbing
    # accuracy would stop at the first member; log loss takes both.
    labels = np.zeros(5, dtype=np.int64)

    def probabilities(*class_zero):
        return np.array([[p, 1 - p] for p in class_zero])

    first, second = probabilities(0.99, 0.99, 0.99, 0.52, 0.2), probabilities(0.8, 0.8, 0.8, 0.4, 0.45)
    choice = greedy_selection([first, second], labels, "classification", max_members=2)
    assert choice.members == [0, 1]
    mixed = sum(w * p for w, p in zip(choice.weights, (first, second)))
    assert np.mean(np.argmax(mixed, -1) == labels) < np.mean(np.argmax(first, -1) == labels)
    assert choice.score > score_predictions(first, labels, "classification")


def test_bagged_selection_is_deterministic_bounded_and_spreads_weight(members):
    predictions, labels = members
    choice = bagged_selection(predictions, labels, "classification", max_members=3, seed=4)
    again = bagged_selection(predictions, labels, "classification", max_members=3, seed=4)
    assert (choice.members, choice.weights) == (again.members, again.weights)
    assert 1 <= len(choice.members) <= 3 and sum(choice.weights) == pytest.approx(1.0)
    # The three useful members carry the ensemble; the two near-chance ones do not.
    assert set(choice.members) <= {0, 1, 2} and len(choice.members) >= 2
    # Another seed draws other halves of the candidates, so other weights.
    other = bagged_selection(predictions, labels, "classification", max_members=3, seed=5)
    assert other.weights != choice.weights


def test_average_takes_the_best_candidates_by_their_own_loss_with_equal_weights(members):
    predictions, labels = members
    choice = average_selection(predictions, labels, "classification", max_members=3)
    own = [score_predictions(p, labels, "classification") for p in predictions]
    assert choice.members == sorted(np.argsort(own)[::-1][:3].tolist()) == [0, 1, 2]
    assert choice.weights == pytest.approx([1 / 3] * 3)
    mixed = sum(predictions[i] for i in choice.members) / 3
    assert choice.score == pytest.approx(score_predictions(mixed, labels, "classification"))
    assert average_selection(predictions, labels, "classification", max_members=9).members == [0, 1, 2, 3, 4]


@pytest.mark.slow
def test_fitting_weights_on_eval_looks_better_on_eval_than_held_out():
    # Twelve equally good, independent members and a small eval split:
    # learned weights fit the split's noise, so their eval score flatters
    # them against the plain average while their held-out score does not.
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 3, 120)
    predictions = [one_hot_noisy(labels, 3, 0.7, rng, confidence=0.6) for _ in range(12)]
    learned = learned_selection(predictions, labels, "classification", 12)
    average = average_selection(predictions, labels, "classification", 12)
    assert learned.score > average.score
    held_out = {name: cross_validated_score(method, predictions, labels, "classification", 12)
                for name, method in (("learned", learned_selection), ("average", average_selection))}
    assert held_out["average"] > held_out["learned"]
    _, report = choose_ensemble(predictions, labels, "classification", max_members=12)
    assert report["method"] != "learned"


@pytest.mark.slow
def test_auto_takes_the_method_with_the_best_held_out_score(members):
    predictions, labels = members
    choice, report = choose_ensemble(predictions, labels, "classification", max_members=3)
    assert set(report) == {"method"} | {f"{m}_{kind}_score" for m in AUTO_METHODS for kind in ("eval", "cv")}
    best = max(AUTO_METHODS, key=lambda m: report[f"{m}_cv_score"])
    assert report["method"] == best and choice.score == report[f"{best}_eval_score"]
    again, _ = choose_ensemble(predictions, labels, "classification", max_members=3)
    assert (again.members, again.weights) == (choice.members, choice.weights)
    # A single candidate: every method gives it all the weight.
    alone, _ = choose_ensemble(predictions[:1], labels, "classification", max_members=3)
    assert alone.members == [0] and alone.weights == [1.0]


@pytest.mark.parametrize("method, select", [
    ("bagged", bagged_selection), ("greedy", greedy_selection), ("learned", learned_selection),
    ("average", average_selection),
])
def test_a_named_method_is_used_as_is(members, method, select):
    predictions, labels = members
    choice, report = choose_ensemble(predictions, labels, "classification", max_members=3, method=method)
    direct = select(predictions, labels, "classification", 3)
    assert report == {"method": method}
    assert (choice.members, choice.weights) == (direct.members, direct.weights)
