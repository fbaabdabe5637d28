"""Optuna's TPE sampler as a pipeline algorithm: told the history, asked for proposals."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from search_algo.algorithms import get_algorithm
from search_algo.algorithms.optuna_tpe import OptunaTPE
from search_algo.algorithms.simulate import StructuredObjective, compare, make_trial
from search_algo.search_space import SearchSpace
from search_algo.trial import FAILED

SPACE = SearchSpace.default("sequence")


def test_the_study_is_told_each_architecture_once_at_its_latest_training():
    first, second = (SPACE.sample(np.random.default_rng(seed)) for seed in (1, 2))
    deeper = SearchSpace.from_dict({"blocks": ["conv1d"], "max_depth": SPACE.max_depth + 1}, "sequence")
    foreign = deeper.sample_stack(("conv1d",) * (SPACE.max_depth + 1), np.random.default_rng(0))
    history = [
        make_trial(first, "r1-00", score=0.6),
        make_trial(second, "r1-01", score=0.7),
        make_trial(foreign, "r1-02", score=0.9),  # deeper than SPACE allows: not told
        make_trial(second, "r1-03", score=0.5, status=FAILED, error="oom"),
        make_trial(first, "r2-00", round=2, score=0.8),  # a promotion: the same architecture, trained longer
    ]
    study = OptunaTPE().study(history, SPACE, np.random.default_rng(0), "classification")
    told = sorted(t.value for t in study.trials)
    assert told == [0.7, 0.8]


def test_proposals_follow_the_seed_and_are_new():
    history = [make_trial(SPACE.sample(np.random.default_rng(s)), f"r1-{s:02d}", score=0.5 + s / 100)
               for s in range(12)]
    algorithm = get_algorithm("optuna_tpe")
    first = algorithm.propose(history, SPACE, 4, np.random.default_rng(7), "classification")
    again = algorithm.propose(history, SPACE, 4, np.random.default_rng(7), "classification")
    assert [c.architecture for c in first] == [c.architecture for c in again]
    tried = {t.architecture.arch_id for t in history}
    assert len({c.architecture.arch_id for c in first} - tried) == 4
    assert all(c.parent is None for c in first)


@pytest.mark.slow
def test_it_beats_random_search_on_the_synthetic_objective():
    space = SearchSpace.from_dict({"blocks": ["conv1d", "resnet1d", "lstm", "gru", "attention_pool", "dense"]},
                                  "sequence")
    scores = compare(["random", "optuna_tpe"], space, StructuredObjective(), seeds=range(8), rounds=5, per_round=4)
    medians = {name: statistics.median(values) for name, values in scores.items()}
    assert medians["optuna_tpe"] > medians["random"] + 0.01, medians
