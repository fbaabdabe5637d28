"""Simulated studies: run a search algorithm against a cheap synthetic
objective (no training), round by round, the way the pipeline does.

The Proposer's loop is reproduced without TFX: each round the algorithm gets
every finished trial as history and a generator seeded from
(seed, study, run_id, round); its candidates become `Trial` records (ids
`<run_id>-r<round>-<index>`, the parent and transfer as the Proposer would
set them when the parent has files, the algorithm name - a portfolio's member
if it says so); the objective "trains" each one: a score, or a failure.

    from search_algo.algorithms import get_algorithm
    from search_algo.algorithms.simulate import StructuredObjective, simulate_study, best_score

    trials = simulate_study(get_algorithm("beam"), SearchSpace.default("sequence"),
                            StructuredObjective(), rounds=5, per_round=4, seed=0)
    best_score(trials)

Used by the algorithm tests and reusable by a search-efficiency benchmark.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Optional, Sequence

import numpy as np

from search_algo import loop
from search_algo.architecture import Architecture
from search_algo.proposals import derived_seed
from search_algo.search_space import SearchSpace
from search_algo.trial import COMPLETED, FAILED, PROPOSED, TRANSFER_NONE, Trial, rank_trials

# An objective maps (architecture, trial seed) to a score (higher is better)
# or raises `TrialFailed` (a failed trial).
Objective = Callable[[Architecture, int], float]


class TrialFailed(Exception):
    """Raised by an objective for a trial that fails (the message is its error)."""


def width_of(arch: Architecture) -> int:
    """Sum of the blocks' width arguments (filters, units, model/feed-forward widths)."""
    total = 0
    for block in arch.blocks:
        for key in ("filters", "units", "model_dim", "ff_dim"):
            value = block.args.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                total += value
    return total


def synthetic_num_params(arch: Architecture) -> int:
    """A cheap stand-in for a model's size: grows with depth and width."""
    return 1000 + 50 * width_of(arch) * max(1, arch.depth) + 10 * arch.head.hidden_units


def synthetic_train_seconds(arch: Architecture) -> float:
    return round(1.0 + 0.5 * arch.depth + width_of(arch) / 256.0, 3)


def make_trial(
    arch: Architecture,
    trial_id: str,
    *,
    round: int = 1,
    trainer: int = 0,
    seed: int = 0,
    algorithm: str = "simulated",
    run_id: str = "sim",
    study: str = "sim",
    status: str = COMPLETED,
    score: Optional[float] = None,
    task: str = "classification",
    parent: Optional[str] = None,
    transfer: str = TRANSFER_NONE,
    error: Optional[str] = None,
) -> Trial:
    """A trial record; a completed one carries `score` as its metric:
    accuracy = score for classification, rmse = 1 - score for regression (so
    `Trial.score` ranks them the same way)."""
    metrics: dict[str, float] = {}
    if status == COMPLETED:
        if score is None:
            raise ValueError("a completed trial needs a score")
        metrics = {"accuracy": float(score)} if task == "classification" else {"rmse": 1.0 - float(score)}
        metrics["loss"] = 1.0 - float(score)
    return Trial(
        trial_id=trial_id, round=round, trainer=trainer, architecture=arch, seed=seed,
        algorithm=algorithm, run_id=run_id, study=study, parent=parent, transfer=transfer,
        status=status, error=error if status == FAILED else None, metrics=metrics,
        num_params=synthetic_num_params(arch) if status == COMPLETED else None,
        train_seconds=synthetic_train_seconds(arch) if status != PROPOSED else None,
    )


def propose_round(
    algorithm,
    history: Sequence[Trial],
    space: SearchSpace,
    count: int,
    round_index: int,
    *,
    seed: int = 0,
    task: str = "classification",
    study: str = "sim",
    run_id: str = "sim",
    per_trainer: Optional[int] = None,
) -> list[Trial]:
    """One Proposer step (search_algo/loop.py) with the simulator's defaults."""
    return loop.propose_round(algorithm, history, space, count, round_index, objective=task, seed=seed,
                              study=study, run_id=run_id, per_trainer=per_trainer)


def evaluate(trial: Trial, objective: Objective, task: str = "classification") -> Trial:
    """The "trained" trial: completed with the objective's score, or failed."""
    try:
        score = float(objective(trial.architecture, trial.seed))
    except TrialFailed as error:
        return dataclasses.replace(
            trial, status=FAILED, error=str(error),
            train_seconds=synthetic_train_seconds(trial.architecture),
        )
    done = make_trial(trial.architecture, trial.trial_id, round=trial.round, task=task, score=score)
    # A simulated trial's "files" exist, so its children share weights as in a real study.
    return dataclasses.replace(
        trial, status=COMPLETED, metrics=done.metrics, num_params=done.num_params,
        train_seconds=done.train_seconds, path=f"simulated/{trial.trial_id}",
    )


def simulate_study(
    algorithm,
    space: SearchSpace,
    objective: Objective,
    *,
    rounds: int = 5,
    per_round: int = 4,
    seed: int = 0,
    task: str = "classification",
    study: str = "sim",
    run_id: str = "sim",
    history: Sequence[Trial] = (),
    first_round: int = 1,
) -> list[Trial]:
    """`history` plus `rounds` rounds of `per_round` finished trials each."""
    return loop.run_search(
        algorithm, space, lambda proposed, _: [evaluate(t, objective, task) for t in proposed],
        budget=rounds * per_round, per_round=per_round, objective=task, seed=seed, study=study, run_id=run_id,
        history=history, first_round=first_round,
    )


def best_score(trials: Sequence[Trial], task: str = "classification") -> float:
    ranked = rank_trials(trials, task)
    return ranked[0].score(task) if ranked else -math.inf


@dataclasses.dataclass(frozen=True)
class StructuredObjective:
    """A deterministic synthetic "accuracy" with structure a search can exploit.

    Each `target_block` (default ``resnet1d``) adds `block_reward`, up to
    `target_count` of them; every other block costs `other_penalty`; the
    learning rate's distance from `lr_optimum` (in decades, squared) and the
    dropout's from `dropout_optimum` cost a little; wide target blocks and
    `head_units` hidden head units earn a little more. Plus Gaussian noise of
    `noise` seeded by the trial seed and the architecture. Architectures
    containing a block of `fail_blocks` raise `TrialFailed`.
    """

    target_block: str = "resnet1d"
    target_count: int = 3
    block_reward: float = 0.1
    other_penalty: float = 0.04
    lr_optimum: float = 3e-3
    lr_weight: float = 0.08
    dropout_optimum: float = 0.1
    dropout_weight: float = 1.0
    wide_filters: int = 64
    wide_reward: float = 0.01
    head_units: int = 64
    head_reward: float = 0.02
    base: float = 0.5
    noise: float = 0.005
    fail_blocks: tuple[str, ...] = ()

    def clean_score(self, arch: Architecture) -> float:
        names = [b.name for b in arch.blocks]
        failing = sorted(set(names) & set(self.fail_blocks))
        if failing:
            raise TrialFailed(f"synthetic failure: {failing[0]} does not train")
        targets = [b for b in arch.blocks if b.name == self.target_block]
        hp = arch.hyperparameters
        score = self.base
        score += self.block_reward * min(len(targets), self.target_count)
        score -= self.other_penalty * (len(names) - len(targets))
        score -= self.lr_weight * (math.log10(hp.learning_rate) - math.log10(self.lr_optimum)) ** 2
        score -= self.dropout_weight * (hp.dropout - self.dropout_optimum) ** 2
        score += self.wide_reward * sum(
            1 for b in targets[: self.target_count] if b.args.get("filters", 0) >= self.wide_filters
        )
        score += self.head_reward * (arch.head.hidden_units == self.head_units)
        return score

    def __call__(self, arch: Architecture, seed: int) -> float:
        score = self.clean_score(arch)
        if self.noise:
            rng = np.random.default_rng(derived_seed(seed, arch.arch_id, "objective"))
            score += float(rng.normal(0.0, self.noise))
        return min(1.0, max(0.0, score))


def compare(
    names: Sequence[str],
    space: SearchSpace,
    objective: Objective,
    seeds: Sequence[int],
    *,
    rounds: int = 5,
    per_round: int = 4,
    task: str = "classification",
    make: Optional[Callable[[str], Any]] = None,
) -> dict[str, list[float]]:
    """Best score per seed of each named algorithm on the same objective."""
    if make is None:
        from search_algo.algorithms import get_algorithm as make
    return {
        name: [
            best_score(simulate_study(make(name), space, objective, rounds=rounds, per_round=per_round,
                                      seed=seed, task=task), task)
            for seed in seeds
        ]
        for name in names
    }
