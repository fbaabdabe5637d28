"""Multi-fidelity promotion (search_algo/budget_schedule.py) on synthetic objectives."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from search_algo import loop
from search_algo.algorithms import get_algorithm
from search_algo.algorithms.simulate import StructuredObjective, make_trial
from search_algo.budget_schedule import BudgetSchedule, epoch_cost
from search_algo.early_stopping import PrunersByFidelity
from search_algo.errors import UserError
from search_algo.search_space import SearchSpace
from search_algo.trial import COMPLETED, TRANSFER_CONTINUE, TRANSFER_NONE, rank_trials

SPACE = SearchSpace.from_dict({"blocks": ["conv1d", "resnet1d", "lstm", "dense"], "max_depth": 3}, "sequence")


@pytest.mark.parametrize("epochs, factor, min_epochs, rungs", [
    (27, 3, None, (3, 9, 27)),
    (32, 3, None, (4, 11, 32)),
    (10, 3, None, (1, 3, 10)),
    (5, 3, None, (1, 2, 5)),
    (5, 3, 2, (2, 5)),
    (27, 3, 2, (3, 9, 27)),
    (8, 2, 1, (1, 2, 4, 8)),
    (5, 3, 5, (5,)),
])
def test_rungs_divide_the_epochs_by_the_reduction_factor_down_to_min_epochs(epochs, factor, min_epochs, rungs):
    schedule = BudgetSchedule("asha", epochs, factor, min_epochs)
    assert schedule.rungs == rungs and schedule.first_epochs == rungs[0]
    assert BudgetSchedule("none", epochs).rungs == (epochs,)


@pytest.mark.parametrize("kwargs, words", [
    ({"kind": "hyperband"}, "budget_schedule must be one of"),
    ({"reduction_factor": 1}, "reduction_factor"),
    ({"min_epochs": 30}, "min_epochs"),
    ({"epochs": 0}, "epochs"),
])
def test_bad_schedules_are_user_errors(kwargs, words):
    settings = {"kind": "asha", "epochs": 27, "reduction_factor": 3, **kwargs}
    with pytest.raises(UserError, match=words):
        BudgetSchedule(**settings)


def _rung_trials(scores, total_epochs, prefix="t", planned=None):
    arches = [SPACE.sample(np.random.default_rng(i)) for i in range(len(scores))]
    return [
        dataclasses.replace(make_trial(a, f"{prefix}{i}", score=s), path=f"files/{prefix}{i}",
                            planned_epochs=planned or total_epochs, total_epochs=total_epochs)
        for i, (a, s) in enumerate(zip(arches, scores))
    ]


def test_promotes_the_top_third_of_a_rung_best_first_once():
    schedule = BudgetSchedule("asha", 27, 3)
    bottom = _rung_trials([0.1, 0.9, 0.5, 0.7, 0.2, 0.3, 0.8, 0.4, 0.6], 3)
    chosen = schedule.promotions(bottom, "classification", limit=10)
    assert [p.trial.trial_id for p in chosen] == ["t1", "t6", "t3"]
    assert {(p.from_epochs, p.to_epochs, p.planned_epochs) for p in chosen} == {(3, 9, 6)}
    # Fewer slots than promotable trials: the best go first.
    assert [p.trial.trial_id for p in schedule.promotions(bottom, "classification", limit=2)] == ["t1", "t6"]
    # A trial already continued is not promoted again; nor one whose files are gone.
    continued = dataclasses.replace(bottom[0], trial_id="c1", parent="t1", transfer=TRANSFER_CONTINUE,
                                    planned_epochs=6, total_epochs=9)
    gone = [dataclasses.replace(t, path=None) if t.trial_id == "t6" else t for t in bottom]
    assert [p.trial.trial_id for p in schedule.promotions(gone + [continued], "classification", 10)] == ["t3"]


def test_higher_rungs_are_promoted_first():
    schedule = BudgetSchedule("asha", 27, 3)
    bottom = _rung_trials([0.5] * 6 + [0.6, 0.7, 0.9], 3)
    middle = _rung_trials([0.95, 0.7, 0.8], 9, prefix="m", planned=6)
    chosen = schedule.promotions(bottom + middle, "classification", limit=2)
    assert [(p.trial.trial_id, p.to_epochs) for p in chosen] == [("m0", 27), ("t8", 9)]
    # Without a schedule nothing is promoted.
    assert BudgetSchedule("none", 27).promotions(bottom + middle, "classification", 5) == []


def _fidelity_objective(epochs_full: int):
    """A synthetic accuracy that rises with the cumulative epochs and keeps the
    architectures' order (plus a little noise): what promotion relies on."""
    base = StructuredObjective(noise=0.01)

    def score(trial):
        total = trial.total_epochs or epochs_full
        return base(trial.architecture, trial.seed) * (1 - 0.4 * math.exp(-total / (epochs_full / 4)))
    return score


def _train_round(objective):
    def train(proposed, history):
        by_id = {t.trial_id: t for t in history}
        done = []
        for trial in proposed:
            if trial.transfer == TRANSFER_CONTINUE:
                # A promotion continues its parent: the parent's architecture, further along.
                assert by_id[trial.parent].architecture == trial.architecture
            done.append(dataclasses.replace(
                trial, status=COMPLETED, metrics={"accuracy": objective(trial), "loss": 0.0},
                num_params=1000, epochs=trial.planned_epochs, path=f"simulated/{trial.trial_id}"))
        return done
    return train


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["beam", "evolution", "surrogate", "optuna_tpe", "random", "portfolio"])
def test_every_algorithm_runs_under_asha_with_promotions_as_trials(algorithm):
    schedule = BudgetSchedule("asha", 27, 3)
    trials = loop.run_search(get_algorithm(algorithm), SPACE, _train_round(_fidelity_objective(27)), budget=36,
                             per_round=6, objective="classification", seed=1, study="s", run_id="run1",
                             schedule=schedule)
    promotions = [t for t in trials if t.transfer == TRANSFER_CONTINUE]
    assert promotions, "nothing was promoted"
    by_id = {t.trial_id: t for t in trials}
    for trial in trials:
        assert trial.total_epochs in schedule.rungs
        if trial.transfer == TRANSFER_CONTINUE:
            parent = by_id[trial.parent]
            assert trial.total_epochs == parent.total_epochs + trial.planned_epochs
            assert trial.round > parent.round and trial.architecture == parent.architecture
        else:
            assert trial.planned_epochs == trial.total_epochs == 3
    assert any(t.total_epochs == 27 for t in trials), "no trial reached the full budget"
    # Promotions take the round's first slots; each trial is promoted at most once.
    assert len({t.parent for t in promotions}) == len(promotions)
    # Deterministic: the same study proposes the same trials.
    again = loop.run_search(get_algorithm(algorithm), SPACE, _train_round(_fidelity_objective(27)), budget=36,
                            per_round=6, objective="classification", seed=1, study="s", run_id="run1",
                            schedule=schedule)
    assert [t.to_dict() for t in again] == [t.to_dict() for t in trials]


def test_asha_tries_more_architectures_for_the_same_epochs_and_finds_as_good_a_model():
    """On a synthetic objective that rises with epochs and keeps the order of
    architectures, ASHA with the epochs of 8 full-budget trials tries over
    twice the architectures and its best full-budget trial is at least as good
    as the best of the 8, over 5 seeds (median)."""
    epochs, full_trials = 27, 8
    objective = _fidelity_objective(epochs)
    asha_best, plain_best = [], []
    for seed in range(5):
        plain = loop.run_search(get_algorithm("random"), SPACE, _train_round(objective), budget=full_trials,
                                per_round=4, objective="classification", seed=seed, study="s", run_id="run1")
        schedule = BudgetSchedule("asha", epochs, 3)
        asha, spent, budget = [], 0, epoch_cost(plain, epochs)
        # Rounds of 4 until the same epochs are spent.
        while spent < budget:
            asha = loop.run_search(get_algorithm("random"), SPACE, _train_round(objective), budget=4,
                                   per_round=4, objective="classification", seed=seed, study="s", run_id="run1",
                                   schedule=schedule, history=asha, first_round=len(asha) // 4 + 1)
            spent = epoch_cost(asha, epochs)
        assert len({t.architecture.arch_id for t in asha}) > 2 * full_trials
        top = [t for t in asha if t.total_epochs == epochs]
        asha_best.append(rank_trials(top, "classification")[0].score("classification") if top else -1)
        plain_best.append(rank_trials(plain, "classification")[0].score("classification"))
    assert np.median(asha_best) >= np.median(plain_best), (asha_best, plain_best)


def test_early_stopping_compares_only_curves_of_the_same_fidelity():
    arch = SPACE.sample(np.random.default_rng(0))

    def done(trial_id, curve, planned, total):
        trial = make_trial(arch, trial_id, score=max(curve))
        return dataclasses.replace(trial, curve=curve, planned_epochs=planned, total_epochs=total)

    # Four short trials that reached 0.9 fast, four promotions that reached 0.2 (another fidelity).
    history = [done(f"s{i}", [0.9] * 3, 3, 3) for i in range(4)] + [done(f"p{i}", [0.2] * 6, 6, 9) for i in range(4)]
    pruners = PrunersByFidelity("median", history, 27)
    short = dataclasses.replace(history[0], trial_id="new", status="proposed", transfer=TRANSFER_NONE)
    promotion = dataclasses.replace(history[4], trial_id="newp", status="proposed")
    assert pruners.for_trial(short).reference == [[0.9] * 3] * 4
    assert pruners.for_trial(promotion).should_stop([0.3, 0.3]) is False
    assert pruners.for_trial(promotion).should_stop([0.1, 0.1]) is True
    assert pruners.for_trial(short).should_stop([0.5, 0.5]) is True
    assert PrunersByFidelity("none", history, 27).for_trial(short) is None
