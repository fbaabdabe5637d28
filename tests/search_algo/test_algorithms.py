"""Search algorithms on cheap synthetic objectives (no training): determinism,
valid proposals, parents, state rebuilt from history, failed trials, and
beam / evolution / surrogate beating random on a structured objective."""

from __future__ import annotations

import math

import numpy as np
import pytest

from search_algo.algorithms import ALGORITHM_NAMES, get_algorithm
from search_algo.algorithms.beam import BeamSearch
from search_algo.algorithms.portfolio import Portfolio
from search_algo.algorithms.simulate import (
    StructuredObjective, compare, make_trial, propose_round, simulate_study,
)
from search_algo.algorithms.surrogate import SurrogateSearch, features
from search_algo.architecture import Architecture
from search_algo.errors import UserError
from search_algo.mutation import mutate, new_value
from search_algo.search_space import SearchSpace
from search_algo.stack import plan_stack
from search_algo.trial import COMPLETED, FAILED, TRANSFER_NONE, TRANSFER_WEIGHTS, trials_from_json, trials_to_json

SPACE = SearchSpace.default("sequence")
# A smaller sequence space for the efficiency comparison: 6 blocks, depth 1-4.
COMPARISON_SPACE = SearchSpace.from_dict(
    {"blocks": ["conv1d", "resnet1d", "lstm", "gru", "attention_pool", "dense"]}, "sequence"
)
OBJECTIVE = StructuredObjective()
# lstm and gru "do not train": a study with failures.
FAILING = StructuredObjective(fail_blocks=("lstm", "gru"))
MUTATING = ("beam", "evolution", "surrogate")


def key(candidates):
    return [(c.architecture.arch_id, c.parent, c.transfer, c.algorithm) for c in candidates]


def study(name, rounds=5, per_round=4, seed=0, objective=OBJECTIVE, space=SPACE):
    return simulate_study(get_algorithm(name), space, objective, rounds=rounds, per_round=per_round, seed=seed)


@pytest.fixture(scope="module")
def studies():
    """Every algorithm, 5 rounds x 4 proposals, with and without failures."""
    return {
        (name, label): study(name, objective=objective, seed=seed)
        for name in ALGORITHM_NAMES
        for label, objective, seed in (("clean", OBJECTIVE, 0), ("failing", FAILING, 1))
    }


def test_every_name_resolves_and_unknown_names_are_rejected():
    assert set(ALGORITHM_NAMES) == {"beam", "evolution", "surrogate", "optuna_tpe", "random", "portfolio"}
    for name in ALGORITHM_NAMES:
        assert get_algorithm(name).name == name
    with pytest.raises(UserError, match="unknown search algorithm 'nope'.*beam"):
        get_algorithm("nope")


@pytest.mark.slow
@pytest.mark.parametrize("name", ALGORITHM_NAMES)
def test_same_seed_and_history_give_identical_proposals(name):
    history = study("random", rounds=3, seed=5)  # 12 finished trials: every algorithm is past its warm-up
    first = get_algorithm(name).propose(history, SPACE, 6, np.random.default_rng(7), "classification")
    again = get_algorithm(name).propose(history, SPACE, 6, np.random.default_rng(7), "classification")
    other = get_algorithm(name).propose(history, SPACE, 6, np.random.default_rng(8), "classification")
    assert len(first) == 6 and key(first) == key(again)
    assert key(first) != key(other)
    assert study(name, rounds=3, seed=3) == study(name, rounds=3, seed=3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ALGORITHM_NAMES)
@pytest.mark.parametrize("label", ["clean", "failing"])
def test_proposals_are_valid_new_and_parents_exist(studies, name, label):
    trials = studies[(name, label)]
    assert len(trials) == 20 and [t.round for t in trials] == [r for r in range(1, 6) for _ in range(4)]
    ids = [t.architecture.arch_id for t in trials]
    assert len(set(ids)) == len(ids), "an architecture was proposed twice (failed ones included)"
    by_id = {t.trial_id: t for t in trials}
    for trial in trials:
        plan_stack(trial.architecture, SPACE.input_kind)
        assert SPACE.min_depth <= trial.architecture.depth <= SPACE.max_depth
        assert set(trial.block_names) <= set(SPACE.blocks)
        if trial.parent is not None:
            parent = by_id[trial.parent]
            assert parent.round < trial.round and parent.status == COMPLETED
            assert trial.transfer == TRANSFER_WEIGHTS
        else:
            assert trial.transfer == TRANSFER_NONE
    if label == "failing":
        assert any(t.status == FAILED for t in trials)
    if name == "portfolio":
        assert {t.algorithm for t in trials} == {"beam", "evolution", "surrogate", "random"}
    else:
        assert {t.algorithm for t in trials} == {name}


def test_mutating_algorithms_set_parents_once_they_have_history(studies):
    for label in ("clean", "failing"):
        beam = studies[("beam", label)]
        assert all(t.parent is None for t in beam if t.round == 1)
        assert all(t.parent is not None for t in beam if t.round > 1)
        # Evolution: random until the population (8 completed trials) is full, then children only.
        evolution = studies[("evolution", label)]
        assert all(t.parent is not None for t in evolution if t.round == 5)
        assert all(t.parent is None for t in evolution if t.round == 1)
        surrogate = studies[("surrogate", label)]
        assert all(t.parent is None for t in surrogate if t.round == 1)
        assert any(t.parent is not None for t in surrogate if t.round > 2)
        portfolio = studies[("portfolio", label)]
        assert all(t.parent is not None for t in portfolio if t.round > 1 and t.algorithm == "beam")
        assert all(t.parent is None for t in portfolio if t.algorithm == "random")


@pytest.mark.slow
@pytest.mark.parametrize("name", ALGORITHM_NAMES)
def test_state_is_rebuilt_from_the_history_alone(name):
    algorithm = get_algorithm(name)
    whole = simulate_study(algorithm, SPACE, FAILING, rounds=5, seed=2)
    # A fresh instance, given the first three rounds read back from JSON, goes on identically.
    start = trials_from_json(trials_to_json(whole[:12]))
    resumed = simulate_study(get_algorithm(name), SPACE, FAILING, rounds=2, seed=2, history=start, first_round=4)
    assert [t.to_dict() for t in resumed] == [t.to_dict() for t in whole]
    # And one Proposer step on the rebuilt history equals the step of the instance that made it.
    again = propose_round(get_algorithm(name), start, SPACE, 4, 4, seed=2)
    assert [t.to_dict() for t in again] == [
        t.to_dict() for t in propose_round(algorithm, whole[:12], SPACE, 4, 4, seed=2)
    ]


# The smallest interesting space: 5 architectures (conv1d, dense, conv1d>conv1d,
# conv1d>dense, dense>dense); every argument and hyperparameter is fixed.
TINY = SearchSpace.from_dict({
    "blocks": ["conv1d", "dense"], "min_depth": 1, "max_depth": 2,
    "block_args": {
        "conv1d": {"filters": [16], "kernel_size": [3], "strides": [1], "activation": ["relu"], "batch_norm": [False]},
        "dense": {"units": [32], "activation": ["relu"], "batch_norm": [False], "dropout": [0.0]},
    },
    "hyperparameters": {"learning_rate": [0.001], "optimizer": ["adam"], "batch_size": [32],
                        "weight_decay": [0.0], "dropout": [0.0]},
    "head_hidden_units": [0],
}, "sequence")


def tiny(*names):
    return Architecture.from_dict({"blocks": [TINY.sample_block(n, np.random.default_rng(0)).to_dict() for n in names]})


@pytest.mark.parametrize("name", ALGORITHM_NAMES)
def test_failed_architectures_are_never_proposed_again(name):
    history = [
        make_trial(tiny("conv1d"), "r1-00", status=FAILED, error="oom"),
        make_trial(tiny("dense"), "r1-01", status=FAILED, error="nan"),
        make_trial(tiny("conv1d", "conv1d"), "r1-02", status=FAILED, error="oom"),
        make_trial(tiny("conv1d", "dense"), "r1-03", score=0.7),
    ]
    for seed in range(5):
        [only] = get_algorithm(name).propose(history, TINY, 1, np.random.default_rng(seed), "classification")
        assert only.architecture == tiny("dense", "dense")
        assert only.parent in (None, "r1-03")


@pytest.mark.parametrize("name", ALGORITHM_NAMES)
def test_a_round_of_only_failures_starts_afresh(name):
    failed = [t for t in study("random", rounds=2, seed=4, objective=StructuredObjective(fail_blocks=SPACE.blocks))]
    assert all(t.status == FAILED for t in failed)
    proposals = get_algorithm(name).propose(failed, SPACE, 4, np.random.default_rng(0), "classification")
    assert len(proposals) == 4 and all(c.parent is None for c in proposals)
    assert not {c.architecture.arch_id for c in proposals} & {t.architecture.arch_id for t in failed}


def test_beam_starts_shallow_and_deepens_with_the_budget(studies):
    beam, trials = BeamSearch(), studies[("beam", "clean")]
    assert all(t.architecture.depth == min(SPACE.feasible_depths) for t in trials if t.round == 1)
    for round_index in range(2, 6):
        limit = beam.depth_limit([t for t in trials if t.round < round_index], SPACE)
        assert limit == min(SPACE.max_depth, 1 + (round_index - 1) * 4 // 4)
        assert all(t.architecture.depth <= limit for t in trials if t.round == round_index)


def test_portfolio_rotates_members_across_rounds_and_names_them():
    portfolio = Portfolio()
    assert [m.name for m in portfolio.members] == ["beam", "evolution", "surrogate", "random"]
    assert portfolio.allocation([], 3) == [1, 1, 1, 0]
    history = study("random", rounds=1, per_round=3)
    assert portfolio.allocation(history, 3) == [1, 1, 0, 1]
    assert portfolio.allocation(history, 9) == [2, 2, 2, 3]
    proposals = portfolio.propose(history, SPACE, 3, np.random.default_rng(0), "classification")
    assert [c.algorithm for c in proposals] == ["random", "beam", "evolution"]
    assert len({c.architecture.arch_id for c in proposals}) == 3
    assert all(c.algorithm is None for c in get_algorithm("beam").propose(history, SPACE, 2, np.random.default_rng(0), "classification"))


def test_surrogate_learns_the_structure_of_the_objective():
    rng = np.random.default_rng(0)
    train = [make_trial(a, f"t{i}", score=OBJECTIVE(a, i)) for i, a in enumerate(SPACE.sample(rng) for _ in range(40))]
    model = SurrogateSearch().fit(train, SPACE, np.random.default_rng(1), "classification")
    test = [SPACE.sample(rng) for _ in range(60)]
    predicted, spread = model.predict(np.stack([features(a, SPACE) for a in test]))
    truth = np.array([OBJECTIVE.clean_score(a) for a in test])
    ranks = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    assert np.corrcoef(ranks(predicted), ranks(truth))[0, 1] > 0.5
    assert np.all(spread >= 0) and len(features(test[0], SPACE)) == len(features(test[1], SPACE))
    assert SurrogateSearch().fit(train[:3], SPACE, rng, "classification") is None  # too little history


def test_surrogate_does_not_let_one_block_sequence_hold_the_search():
    """One strong early trial and its many mutants: a round takes at most
    half its candidates of that block sequence."""
    rng = np.random.default_rng(3)
    star = SPACE.sample(rng)
    history = [make_trial(star, "star", score=0.98)]
    for i in range(12):
        history.append(make_trial(mutate(star, SPACE, rng, operators=("hyperparameters",)), f"m{i}", score=0.9))
    history += [make_trial(SPACE.sample(rng), f"r{i}", score=0.5) for i in range(4)]
    shapes = [tuple(b.name for b in c.architecture.blocks)
              for c in SurrogateSearch().propose(history, SPACE, 4, np.random.default_rng(0), "classification")]
    assert len(shapes) == 4 and shapes.count(tuple(b.name for b in star.blocks)) <= 2
    no_diversity = SurrogateSearch(diversity=0.0).propose(history, SPACE, 4, np.random.default_rng(0), "classification")
    assert len(no_diversity) == 4


def test_evolution_starts_as_beam_does_from_the_starting_stacks_in_turn_across_rounds(studies):
    trials = studies[("evolution", "clean")]
    first = [t for t in trials if t.parent is None][:8]
    assert len(first) == 8 and {t.round for t in first} == {1, 2}
    assert [tuple(b.name for b in t.architecture.blocks) for t in first] == list(SPACE.starting_stacks) * 4
    plain = SearchSpace.from_dict({"blocks": ["lstm", "gru", "dense"], "min_depth": 2}, "sequence")
    assert plain.starting_stacks == ()
    proposals = get_algorithm("evolution").propose([], plain, 3, np.random.default_rng(0), "classification")
    assert all(c.architecture.depth == 2 and c.parent is None for c in proposals)


def test_mutation_changes_one_thing_stays_valid_and_respects_the_depth_cap():
    rng = np.random.default_rng(0)
    spec = SPACE.hyperparameters["learning_rate"]
    values = [new_value(spec, 1e-3, rng) for _ in range(50)]
    assert all(v != 1e-3 and spec.low <= v <= spec.high for v in values)
    choice = SPACE.hyperparameters["dropout"]
    assert all(new_value(choice, 0.1, rng) in (0.0, 0.2, 0.3) for _ in range(20))
    parent = SPACE.sample(np.random.default_rng(3))
    for seed in range(30):
        child = mutate(parent, SPACE, np.random.default_rng(seed), max_depth=parent.depth)
        assert child != parent and child.depth <= parent.depth
        plan_stack(child, SPACE.input_kind)
    one = Architecture.from_dict({"blocks": [SPACE.sample_block("resnet1d", rng).to_dict()]})
    repeated = mutate(one, SPACE, rng, operators=("repeat",))
    assert repeated.blocks == one.blocks * 2


def test_regression_is_searched_on_minus_rmse():
    trials = study("beam", rounds=2, seed=0)
    rmse = [make_trial(t.architecture, t.trial_id, score=t.score("classification"), task="regression") for t in trials]
    assert [t.score("regression") for t in rmse] == pytest.approx([t.score("classification") - 1 for t in trials])
    first = get_algorithm("surrogate").propose(rmse, SPACE, 3, np.random.default_rng(0), "regression")
    second = get_algorithm("surrogate").propose(trials, SPACE, 3, np.random.default_rng(0), "classification")
    assert key(first) == key(second)


SEEDS = range(16)


@pytest.fixture(scope="module")
def comparison():
    """Best score after 5 rounds x 4 proposals, per algorithm and seed."""
    return compare(["random", *MUTATING], COMPARISON_SPACE, OBJECTIVE, SEEDS, rounds=5, per_round=4)


@pytest.mark.slow
@pytest.mark.parametrize("name", MUTATING)
def test_guided_search_beats_random_on_a_structured_objective(comparison, name):
    medians = {n: float(np.median(scores)) for n, scores in comparison.items()}
    print("median best score:", {n: round(m, 4) for n, m in medians.items()})
    assert all(math.isfinite(s) for s in comparison[name])
    assert medians[name] > medians["random"] + 0.01, medians


def test_beam_first_round_proposes_the_spaces_starting_stacks_in_order():
    proposals = get_algorithm("beam").propose([], SPACE, 4, np.random.default_rng(0), "classification")
    assert SPACE.starting_stacks == (("conv1d",), ("resnet1d",))
    assert [tuple(b.name for b in c.architecture.blocks) for c in proposals] == [("conv1d",), ("resnet1d",)] * 2
    assert len({c.architecture.arch_id for c in proposals}) == 4  # arguments and hyperparameters differ
    audio = SearchSpace.default_audio()
    first = get_algorithm("beam").propose([], audio, 5, np.random.default_rng(0), "classification")
    assert [tuple(b.name for b in c.architecture.blocks) for c in first] == [
        ("statistics_pooling",), ("conv1d", "statistics_pooling"),
        ("image_view", "conv2d", "statistics_pooling"), ("resnet1d", "statistics_pooling"),
        ("statistics_pooling",)]
    for candidate in first:
        plan_stack(candidate.architecture, "sequence")  # raises if a stack cannot be built


def test_without_starting_stacks_beam_starts_at_the_shallowest_depth():
    space = SearchSpace.from_dict({"blocks": ["lstm", "gru", "dense"], "min_depth": 2}, "sequence")
    assert space.starting_stacks == ()
    proposals = get_algorithm("beam").propose([], space, 3, np.random.default_rng(0), "classification")
    assert all(c.architecture.depth == 2 for c in proposals)
