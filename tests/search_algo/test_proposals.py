"""Dealing a round's trials to its trainers (search_algo/proposals.py)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from search_algo import loop
from search_algo.algorithms import get_algorithm
from search_algo.algorithms.simulate import StructuredObjective, simulate_study, synthetic_num_params
from search_algo.proposals import deal_longest_first
from search_algo.search_space import SearchSpace

SPACE = SearchSpace.default("sequence")


def loads(costs, dealt, trainers):
    return [sum(c for c, d in zip(costs, dealt) if d == t) for t in range(trainers)]


def best_split(costs, trainers):
    """The shortest possible round: every way of dealing the trials, tried."""
    return min(max(loads(costs, dealt, trainers)) for dealt in itertools.product(range(trainers), repeat=len(costs)))


def test_the_costliest_trial_goes_first_to_the_least_loaded_trainer():
    costs = [1, 9, 2, 8, 3, 7]
    dealt = deal_longest_first(costs, 2)
    assert dealt == [0, 0, 0, 1, 0, 1]
    assert loads(costs, dealt, 2) == [15, 15]
    # Dealt in order, 3 a trainer, one trainer would work 18 while the other idles after 12.
    assert max(loads(costs, [0, 0, 0, 1, 1, 1], 2)) == 18


def test_a_round_is_never_longer_than_four_thirds_of_the_best_split_and_every_trainer_gets_a_trial():
    rng = np.random.default_rng(0)
    for trainers, count in ((2, 4), (2, 6), (3, 6), (3, 7)):
        for _ in range(40):
            costs = list(rng.lognormal(0.0, 1.0, count))
            dealt = deal_longest_first(costs, trainers)
            assert set(dealt) == set(range(trainers))
            assert max(loads(costs, dealt, trainers)) <= 4 / 3 * best_split(costs, trainers) + 1e-9


def test_equal_costs_are_dealt_in_order_round_robin():
    assert deal_longest_first([5.0] * 4, 2) == [0, 1, 0, 1]


def round_of(trial_cost, per_trainer=3, count=6):
    history = simulate_study(get_algorithm("random"), SPACE, StructuredObjective(), rounds=2, per_round=4, seed=3)
    return loop.propose_round(get_algorithm("beam"), history, SPACE, count, 3, objective="classification", seed=1,
                              study="s", run_id="run1", per_trainer=per_trainer, trial_cost=trial_cost)


def test_a_costed_round_changes_only_which_trainer_trains_each_trial_and_shortens_the_round():
    cost = lambda trial: float(synthetic_num_params(trial.architecture))  # noqa: E731
    in_order, costed = round_of(None), round_of(cost)
    assert [t.trainer for t in in_order] == [0, 0, 0, 1, 1, 1]
    assert [dataclasses.replace(t, trainer=0) for t in costed] == [dataclasses.replace(t, trainer=0) for t in in_order]
    costs = [cost(t) for t in costed]
    assert [t.trainer for t in costed] == deal_longest_first(costs, 2)
    assert max(loads(costs, [t.trainer for t in costed], 2)) <= max(loads(costs, [t.trainer for t in in_order], 2))
    # The same round dealt again deals the same way.
    assert round_of(cost) == costed
    # One trainer: nothing to deal.
    assert {t.trainer for t in round_of(cost, per_trainer=6)} == {0}
