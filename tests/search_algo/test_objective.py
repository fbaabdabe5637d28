"""The study's objective: chosen by name, oriented, computed from predictions,
and the one ranking that algorithms, selection and the student's choice use."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from search_algo.architecture import Architecture
from search_algo.errors import UserError
from search_algo.objective import OBJECTIVES, as_objective, for_metrics, prediction_metrics, resolve
from search_algo.selection import choose, parse_policy
from search_algo.trial import COMPLETED, FAILED, Trial, rank_trials


def test_defaults_are_accuracy_and_rmse_and_names_are_checked_against_the_task():
    assert resolve(None, "classification").name == "accuracy"
    assert resolve("", "regression").name == "rmse"
    assert resolve(" ROC_AUC ", "classification", num_classes=2).name == "roc_auc"
    with pytest.raises(UserError, match="objective 'mae' is for regression, but this study's task is classification"):
        resolve("mae", "classification")
    with pytest.raises(UserError, match="objective 'roc_auc' needs two classes; this study's data has 3"):
        resolve("roc_auc", "classification", num_classes=3)
    with pytest.raises(UserError, match="expected one of accuracy, log_loss, roc_auc, macro_f1, rmse, mae"):
        resolve("f2", "classification")
    assert as_objective("regression").name == "rmse" and as_objective(OBJECTIVES["mae"]).name == "mae"
    assert for_metrics({"rmse": 1.0}).name == "rmse" and for_metrics({"accuracy": 0.5}, "macro_f1").name == "macro_f1"


def test_scores_are_oriented_so_that_higher_is_better_and_missing_is_worst():
    log_loss, auc = OBJECTIVES["log_loss"], OBJECTIVES["roc_auc"]
    assert log_loss.score({"log_loss": 0.2}) > log_loss.score({"log_loss": 0.3})
    assert auc.score({"roc_auc": 0.9}) > auc.score({"roc_auc": 0.8})
    assert auc.score({"accuracy": 0.9}) == -math.inf and auc.score({"roc_auc": float("nan")}) == -math.inf


def test_margins_are_points_for_bounded_metrics_and_percent_otherwise():
    auc, rmse = OBJECTIVES["roc_auc"], OBJECTIVES["rmse"]
    assert auc.within({"roc_auc": 0.895}, {"roc_auc": 0.90}, 0.5)
    assert not auc.within({"roc_auc": 0.894}, {"roc_auc": 0.90}, 0.5)
    assert rmse.within({"rmse": 2.1}, {"rmse": 2.0}, 5)
    assert not rmse.within({"rmse": 2.11}, {"rmse": 2.0}, 5)


def test_prediction_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    labels = (rng.random(200) < 0.15).astype(np.int64)  # imbalanced: 15% positives
    positive = np.clip(0.6 * labels + 0.5 * rng.random(200), 0.01, 0.99)
    values = np.stack([1 - positive, positive], axis=1)
    got = prediction_metrics(values, labels, "classification")
    assert got["roc_auc"] == pytest.approx(sk_metrics.roc_auc_score(labels, positive))
    assert got["macro_f1"] == pytest.approx(sk_metrics.f1_score(labels, values.argmax(1), average="macro"))
    assert got["log_loss"] == pytest.approx(sk_metrics.log_loss(labels, values)) == got["loss"]
    assert got["accuracy"] == pytest.approx(np.mean(values.argmax(1) == labels))
    one_class = prediction_metrics(values[labels == 0], labels[labels == 0], "classification")
    assert "roc_auc" not in one_class, "undefined on a split with one class"
    target = rng.normal(size=50)
    regression = prediction_metrics(target + 0.5, target, "regression")
    assert regression["mae"] == pytest.approx(0.5) and regression["rmse"] == pytest.approx(0.5)


def test_chance_is_the_floor_of_a_guess_that_ignores_the_features():
    assert OBJECTIVES["roc_auc"].chance_score(2, 0.0) == 0.5
    assert OBJECTIVES["accuracy"].chance_score(4, 0.0) == 0.25
    assert OBJECTIVES["log_loss"].chance_score(4, 0.0) == pytest.approx(-math.log(4))
    assert OBJECTIVES["mae"].chance_score(0, 3.0) == -3.0


def trial(trial_id, status=COMPLETED, **metrics):
    return Trial(trial_id=trial_id, round=1, trainer=0, architecture=Architecture.from_dict({"blocks": [{"name": "dense"}]}),
                 seed=0, algorithm="random", run_id="run1", study="s", status=status, metrics=metrics, num_params=100)


def test_trials_rank_by_the_chosen_objective_not_by_accuracy():
    trials = [trial("high-accuracy", accuracy=0.95, roc_auc=0.70, log_loss=0.30),
              trial("high-auc", accuracy=0.90, roc_auc=0.85, log_loss=0.25),
              trial("failed", status=FAILED)]
    assert [t.trial_id for t in rank_trials(trials, "classification")] == ["high-accuracy", "high-auc"]
    assert [t.trial_id for t in rank_trials(trials, OBJECTIVES["roc_auc"])] == ["high-auc", "high-accuracy"]
    assert [t.trial_id for t in rank_trials(trials, OBJECTIVES["log_loss"])] == ["high-auc", "high-accuracy"]


def test_selection_chooses_by_the_objective():
    board = [{"name": "best_single", "num_params": 10, "estimate": {"accuracy": 0.95, "roc_auc": 0.80, "loss": 0.3}},
             {"name": "ensemble", "num_params": 50, "estimate": {"accuracy": 0.93, "roc_auc": 0.90, "loss": 0.3}},
             {"name": "distilled", "num_params": 5, "estimate": {"accuracy": 0.92, "roc_auc": 0.896, "loss": 0.3}}]
    auc = OBJECTIVES["roc_auc"]
    assert choose(board, parse_policy("best"), "classification")["name"] == "best_single"
    assert choose(board, parse_policy("best"), auc)["name"] == "ensemble"
    assert choose(board, parse_policy("smallest-within=0.5"), auc)["name"] == "distilled"
