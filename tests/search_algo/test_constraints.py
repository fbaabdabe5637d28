"""Constraint-aware search (search_algo/constraints.py): no trial is spent on
an architecture over a limit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from search_algo import loop
from search_algo.algorithms import get_algorithm
from search_algo.algorithms.simulate import StructuredObjective, evaluate, make_trial, synthetic_num_params
from search_algo.constraints import ConstrainedAlgorithm, Constraints, Cost, ModelCost, training_cost
from search_algo.errors import UserError
from search_algo.model_builder import build_model, parameter_count
from search_algo.search_space import SearchSpace
from search_algo.testing import sequence_spec
from search_algo.trial import PROPOSED

SPACE = SearchSpace.from_dict({"blocks": ["conv1d", "resnet1d", "lstm", "dense"], "max_depth": 4}, "sequence")
LIMIT = 9000


def synthetic_cost(architecture) -> Cost:
    return Cost(synthetic_num_params(architecture), latency_ms=0.1 * architecture.depth)


def _study(algorithm: str, constraints: Constraints, seed: int = 0, budget: int = 24):
    constrained = ConstrainedAlgorithm(get_algorithm(algorithm), constraints, synthetic_cost)
    objective = StructuredObjective()
    trials = loop.run_search(constrained, SPACE, lambda proposed, _: [evaluate(t, objective) for t in proposed],
                             budget=budget, per_round=4, objective="classification", seed=seed, study="s",
                             run_id="run1")
    return trials, constrained


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["beam", "evolution", "surrogate", "optuna_tpe", "random", "portfolio"])
def test_no_algorithm_proposes_an_architecture_over_the_limits(algorithm):
    constraints = Constraints(max_params=LIMIT, max_latency_ms=0.35)
    trials, constrained = _study(algorithm, constraints)
    assert len(trials) == 24
    for trial in trials:
        cost = synthetic_cost(trial.architecture)
        assert constraints.violations(cost.num_params, cost.latency_ms) == [], trial.trial_id
    # The limits bite on this space: some candidates were turned away, and their reasons say which limit.
    assert constrained.rejected
    assert all("max_params" in " ".join(r.reasons) or "max_latency_ms" in " ".join(r.reasons)
               for r in constrained.rejected)
    again, _ = _study(algorithm, constraints)
    assert [t.to_dict() for t in again] == [t.to_dict() for t in trials]


def test_without_limits_the_algorithm_is_unchanged():
    plain = loop.run_search(get_algorithm("evolution"), SPACE,
                            lambda proposed, _: [evaluate(t, StructuredObjective()) for t in proposed],
                            budget=12, per_round=4, objective="classification", seed=3, study="s", run_id="run1")
    wrapped, constrained = _study("evolution", Constraints(), seed=3, budget=12)
    assert [t.to_dict() for t in wrapped] == [t.to_dict() for t in plain] and not constrained.rejected


def test_an_impossible_limit_is_a_user_error_naming_the_smallest_seen():
    constrained = ConstrainedAlgorithm(get_algorithm("random"), Constraints(max_params=10), synthetic_cost)
    with pytest.raises(UserError, match=r"no architecture of the search space satisfies.*at most 10 parameters"):
        constrained.propose([], SPACE, 4, np.random.default_rng(0), "classification")


@pytest.mark.parametrize("kwargs", [{"max_params": -1}, {"max_latency_ms": -2.0}, {"max_params": 1.5}])
def test_bad_limits_are_user_errors(kwargs):
    with pytest.raises(UserError):
        Constraints(**kwargs)


def test_constraints_travel_as_json():
    constraints = Constraints(max_params=10_000, max_latency_ms=2.5)
    assert Constraints.from_json(constraints.to_json()) == constraints
    assert Constraints.from_json("") == Constraints() and not Constraints().active
    assert constraints.describe() == "at most 10,000 parameters, batch-1 CPU latency at most 2.5 ms"


def test_model_cost_counts_the_built_models_parameters_and_times_it():
    spec = sequence_spec(steps=16)
    architecture = SPACE.sample(np.random.default_rng(5))
    cost = ModelCost(spec, Constraints(max_params=10**9, max_latency_ms=1000.0))(architecture)
    assert cost.num_params == parameter_count(build_model(architecture, spec, compile=False))
    assert cost.latency_ms is not None and 0 < cost.latency_ms < 1000
    # Latency is measured only when a latency limit is set.
    assert ModelCost(spec, Constraints(max_params=10**9))(architecture).latency_ms is None
    shrunk = dataclasses.replace(architecture, blocks=architecture.blocks[:1])
    assert ModelCost(spec, Constraints(max_params=1))(shrunk).num_params > 1


def test_a_trials_training_cost_is_its_models_parameters_times_the_epochs_it_trains():
    spec = sequence_spec(steps=16)
    model_cost = ModelCost(spec, Constraints())
    cost = training_cost(model_cost, epochs=4)
    architecture = SPACE.sample(np.random.default_rng(5))
    trial = make_trial(architecture, "t", status=PROPOSED)
    num_params = parameter_count(build_model(architecture, spec, compile=False))
    assert cost(trial) == 4 * num_params
    assert cost(dataclasses.replace(trial, planned_epochs=2)) == 2 * num_params

    def cannot_build(architecture):
        raise ValueError("no such block")

    # It fails at once in its trainer, which records why.
    assert training_cost(cannot_build, epochs=4)(trial) == 0.0
