"""Cross-fitted estimates: folds, and the ensemble and the best single model
judged on examples their choice did not see, on synthetic predictions."""

from __future__ import annotations

import numpy as np
import pytest

from search_algo.cross_fitting import (
    best_single_procedure, combine, cross_fitted_estimate, ensemble_procedure, fold_assignment, fold_count,
    plain_estimate,
)
from search_algo.objective import prediction_metrics, resolve

TASK = "classification"


def two_classes(probability_of_one: np.ndarray) -> np.ndarray:
    return np.stack([1 - probability_of_one, probability_of_one], axis=1)


def test_folds_are_seeded_balanced_and_stratified():
    labels = np.array([0] * 30 + [1] * 12 + [2] * 6)
    folds = fold_assignment(labels, 3, TASK)
    assert np.array_equal(folds, fold_assignment(labels, 3, TASK))  # deterministic
    assert not np.array_equal(folds, fold_assignment(labels, 3, TASK, seed=1))
    for label in (0, 1, 2):  # every class dealt evenly over the folds
        assert np.bincount(folds[labels == label], minlength=3).tolist() == [int((labels == label).sum() / 3)] * 3
    regression = fold_assignment(np.linspace(0, 1, 11), 5, "regression")
    assert sorted(np.bincount(regression).tolist()) == [2, 2, 2, 2, 3]


def test_fold_count_shrinks_with_the_examples_and_stops_under_two_folds():
    assert fold_count(446) == 5
    assert fold_count(7) == 3
    assert fold_count(3) == 0


def overfitting_pool(seed: int):
    """One honest model, right and confident on the easy 70 %, unsure (0.5) on
    the hard rest; 20 others as good on the easy examples (a little less sure)
    and guessing on the hard ones. Mixed in, a guesser that happened to be
    right on this split's hard examples lowers the eval loss; on other
    examples its guesses are as likely wrong, and hurt."""
    rng = np.random.default_rng(seed)
    labels = np.arange(100) % 2
    hard = rng.uniform(size=100) < 0.3

    def model(on_hard, on_easy):
        of_label = np.where(hard, on_hard, on_easy)
        return two_classes(np.where(labels == 1, of_label, 1 - of_label))

    return [model(0.5, 0.9)] + [model(rng.uniform(0.02, 0.98, 100), 0.87) for _ in range(20)], labels


def in_sample_ensemble(pool, labels, method):
    """The ensemble chosen on all the examples, and its metrics on them."""
    combination, _ = ensemble_procedure(TASK, 5, method)(pool, labels)
    return combination, prediction_metrics(combine(pool, combination), labels, TASK)


def out_of_fold(pool, labels, method, objective):
    """The cross-fitted estimates of the ensemble and of the best single model."""
    return (cross_fitted_estimate(ensemble_procedure(TASK, 5, method), pool, labels, TASK, "an ensemble"),
            cross_fitted_estimate(best_single_procedure(resolve(objective, TASK), TASK), pool, labels, TASK,
                                  "the best trial"))


def test_an_ensemble_that_wins_in_sample_loses_out_of_fold():
    pool, labels = overfitting_pool(seed=1)
    combination, ensemble_in_sample = in_sample_ensemble(pool, labels, "learned")
    honest = prediction_metrics(pool[0], labels, TASK)
    assert len(combination) > 1 and ensemble_in_sample["loss"] < honest["loss"]  # the bias, by construction

    ensemble, single = out_of_fold(pool, labels, "learned", "log_loss")
    assert [fold["members"] for fold in single.per_fold] == [[0]] * 5  # the honest model wins every fold
    assert single.metrics["loss"] == pytest.approx(honest["loss"])
    assert ensemble.metrics["loss"] > single.metrics["loss"]
    assert ensemble.folds == 5 and ensemble.examples == 100
    assert ensemble.how == "eval, out-of-fold over 5 folds: each fold scored by an ensemble, chosen on the other 4 folds"


def winners_curse_pool(seed: int):
    """30 equally good models (each right about 71 % of the time) whose errors
    share a common part: the one that looks best on eval is best partly by
    luck, and an average of several is only a little better than one."""
    rng = np.random.default_rng(seed)
    labels = np.arange(200) % 2
    sign = np.where(labels == 1, 1.0, -1.0)
    shared = rng.normal(0, 1.5, 200)
    pool = [two_classes(1 / (1 + np.exp(-(sign + shared + rng.normal(0, 1.0, 200))))) for _ in range(30)]
    accuracy = resolve("accuracy", TASK)
    scores = [accuracy.score(prediction_metrics(p, labels, TASK)) for p in pool]
    return [pool[i] for i in np.argsort(-np.asarray(scores), kind="stable")], labels  # ranked, as the pool is


def test_a_best_single_model_that_wins_in_sample_loses_out_of_fold():
    pool, labels = winners_curse_pool(seed=7)
    _, ensemble_in_sample = in_sample_ensemble(pool, labels, "average")
    single_in_sample = prediction_metrics(pool[0], labels, TASK)
    assert single_in_sample["accuracy"] > ensemble_in_sample["accuracy"]

    ensemble, single = out_of_fold(pool, labels, "average", "accuracy")
    # The winner's curse: the best of 30 on the examples that chose it is
    # several points better than the same choice scored on examples it did not see.
    assert single_in_sample["accuracy"] - single.metrics["accuracy"] > 0.03
    assert ensemble.metrics["accuracy"] > single.metrics["accuracy"]


def test_a_genuinely_better_ensemble_stays_ahead_out_of_fold():
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 2
    sign = np.where(labels == 1, 1.0, -1.0)
    pool = [two_classes(1 / (1 + np.exp(-(sign + rng.normal(0, 1.5, 300))))) for _ in range(8)]  # independent errors
    ensemble, single = out_of_fold(pool, labels, "bagged", "log_loss")
    assert ensemble.metrics["loss"] < single.metrics["loss"] - 0.03
    assert ensemble.metrics["accuracy"] > single.metrics["accuracy"]


def test_regression_estimates_out_of_fold():
    rng = np.random.default_rng(0)
    labels = rng.normal(size=60)
    pool = [(labels + rng.normal(0, scale, 60)).reshape(-1, 1) for scale in (0.3, 0.5, 1.0)]
    rmse = resolve("rmse", "regression")
    single = cross_fitted_estimate(best_single_procedure(rmse, "regression"), pool, labels, "regression", "the best")
    assert [fold["members"] for fold in single.per_fold] == [[0]] * 5
    assert single.metrics["rmse"] == pytest.approx(prediction_metrics(pool[0], labels, "regression")["rmse"])
    ensemble = cross_fitted_estimate(ensemble_procedure("regression", 3, "learned"), pool, labels, "regression",
                                     "an ensemble")
    assert set(ensemble.metrics) == set(single.metrics)


def test_too_few_examples_give_an_in_sample_estimate_that_says_so():
    labels = np.array([0, 1, 1])
    pool = [two_classes(np.array([0.2, 0.7, 0.9]))]
    estimate = cross_fitted_estimate(ensemble_procedure(TASK, 5, "auto"), pool, labels, TASK, "an ensemble")
    assert estimate.folds == 0 and "in-sample" in estimate.how and "optimistic" in estimate.how
    plain = plain_estimate(pool[0], labels, TASK, "eval")
    assert plain.metrics == prediction_metrics(pool[0], labels, TASK) and plain.to_dict()["how"] == "eval"


def test_estimates_are_deterministic():
    pool, labels = overfitting_pool(seed=3)
    first = cross_fitted_estimate(ensemble_procedure(TASK, 5, "bagged"), pool[:8], labels, TASK, "an ensemble")
    again = cross_fitted_estimate(ensemble_procedure(TASK, 5, "bagged"), pool[:8], labels, TASK, "an ensemble")
    assert first.to_dict() == again.to_dict()
