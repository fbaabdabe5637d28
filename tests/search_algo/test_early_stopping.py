"""The median stopping rule and the teacher/weight-sharing rules of proposals."""

from __future__ import annotations

import numpy as np
import pytest

from search_algo.algorithms import Candidate
from search_algo.algorithms.simulate import make_trial
from search_algo.architecture import Architecture
from search_algo.early_stopping import MedianStoppingRule, running_best, warmup_epochs
from search_algo.proposals import proposal_trials
from search_algo.trial import FAILED, TRANSFER_NONE, TRANSFER_WEIGHTS

REFERENCE = [
    [0.50, 0.70, 0.80, 0.85],
    [0.40, 0.60, 0.75, 0.90],
    [0.30, 0.65, 0.70, 0.72],
    [0.55, 0.50, 0.78, 0.80],  # a dip: its best-so-far stays at 0.55 in epoch 2
]


def test_median_is_taken_over_best_so_far_per_epoch():
    rule = MedianStoppingRule.from_curves(REFERENCE, warmup=2)
    assert rule.median_at(1) == pytest.approx(np.median([0.50, 0.40, 0.30, 0.55]))
    assert rule.median_at(2) == pytest.approx(np.median([0.70, 0.60, 0.65, 0.55]))
    assert running_best([0.55, 0.50, 0.78]) == [0.55, 0.55, 0.78]


def test_a_trial_below_the_median_stops_after_warmup_only():
    rule = MedianStoppingRule.from_curves(REFERENCE, warmup=2)
    bad = [0.10, 0.20, 0.30]
    assert not rule.should_stop(bad[:1]), "never inside the warm-up"
    assert rule.should_stop(bad[:2])
    good = [0.45, 0.66, 0.79]
    assert not any(rule.should_stop(good[:n]) for n in range(1, 4))


def test_too_few_reference_trials_never_stop():
    rule = MedianStoppingRule.from_curves(REFERENCE[:3], warmup=1)
    assert rule.median_at(2) is None and not rule.should_stop([0.0, 0.0])
    rule.add([0.9, 0.9])
    assert rule.median_at(2) is not None and rule.should_stop([0.0, 0.0])


def test_only_trials_that_trained_that_long_count():
    rule = MedianStoppingRule.from_curves(REFERENCE + [[0.99]], warmup=1)
    assert rule.median_at(1) == pytest.approx(np.median([0.50, 0.40, 0.30, 0.55, 0.99]))
    assert rule.median_at(3) == pytest.approx(np.median([0.80, 0.75, 0.70, 0.78]))
    assert rule.median_at(5) is None


def test_non_finite_scores_stop_and_do_not_poison_the_median():
    rule = MedianStoppingRule.from_curves(REFERENCE + [[float("nan")] * 4], warmup=1)
    assert rule.median_at(2) == pytest.approx(np.median([0.70, 0.60, 0.65, 0.55]))
    assert rule.should_stop([float("nan"), float("nan")])


@pytest.mark.parametrize("epochs, warmup", [(1, 2), (5, 2), (6, 2), (15, 5), (30, 10)])
def test_warmup_is_a_third_of_the_budget(epochs, warmup):
    assert warmup_epochs(epochs) == warmup


ARCH = Architecture.from_dict({"blocks": [{"name": "dense", "args": {"units": 16}}]})
CHILD = Architecture.from_dict({"blocks": [{"name": "dense", "args": {"units": 16}}, {"name": "dense"}]})


def history():
    best = make_trial(ARCH, "run1-r1-00", score=0.9)
    worse = make_trial(CHILD, "run1-r1-01", score=0.5)
    failed = make_trial(CHILD.with_hyperparameters(learning_rate=0.5), "run1-r1-02", status=FAILED, error="x")
    best.path, worse.path = "/trials/00", "/trials/01"
    return [best, worse, failed]


def propose(**options):
    candidates = [Candidate(CHILD.with_hyperparameters(batch_size=64), parent="run1-r1-01",
                            transfer=TRANSFER_WEIGHTS),
                  Candidate(ARCH.with_hyperparameters(batch_size=128))]
    return proposal_trials(candidates, history(), study="s", run_id="run1", round_index=2,
                           trials_per_trainer=1, seed=0, algorithm="beam", objective=options.pop("task", "classification"),
                           teacher_distillation=options.pop("teacher_distillation", True), **options)


def test_with_distillation_every_proposal_learns_from_the_best_trial_so_far():
    child, fresh = propose()
    assert child.teacher == fresh.teacher == "run1-r1-00"
    assert (child.transfer, child.parent) == (TRANSFER_WEIGHTS, "run1-r1-01")
    assert fresh.transfer == TRANSFER_NONE and [child.trainer, fresh.trainer] == [0, 1]


def test_distillation_and_weight_sharing_can_be_switched_off():
    child, fresh = propose(teacher_distillation=False, weight_sharing=False)
    assert child.teacher is None and fresh.teacher is None
    assert child.transfer == TRANSFER_NONE and child.parent == "run1-r1-01", "the lineage is kept"


def test_regression_has_no_teacher():
    assert all(t.teacher is None for t in propose(task="regression"))


def test_distillation_is_off_unless_asked_for():
    candidates = [Candidate(ARCH.with_hyperparameters(batch_size=128))]
    (trial,) = proposal_trials(candidates, history(), study="s", run_id="run1", round_index=2, trials_per_trainer=1,
                               seed=0, algorithm="beam", objective="classification")
    assert trial.teacher is None
