"""Helpers the search algorithms share."""

from __future__ import annotations

from typing import AbstractSet, Optional, Sequence

import numpy as np

from search_algo.architecture import Architecture
from search_algo.search_space import SearchSpace
from search_algo.trial import COMPLETED, Trial

MAX_ATTEMPTS = 64


def seen_ids(history: Sequence[Trial]) -> set[str]:
    """Every architecture already tried or in flight: completed, failed or proposed."""
    return {t.architecture.arch_id for t in history}


def completed(history: Sequence[Trial]) -> list[Trial]:
    """Completed trials in history order (the order they were recorded)."""
    return [t for t in history if t.status == COMPLETED]


def finished_count(history: Sequence[Trial]) -> int:
    """Trials that used budget: completed and failed alike."""
    return sum(1 for t in history if t.status != "proposed")


def initial_member(space: SearchSpace, rng: np.random.Generator, exclude: AbstractSet[str], index: int) -> Architecture:
    """The `index`-th proposal of a search with nothing to build on yet: the
    space's starting stack `index` mod their number (families that train well
    in a few epochs) with arguments and hyperparameters drawn, or, when the
    space names none or that stack has nothing new left, a random architecture
    of the shallowest feasible depth."""
    stacks = space.starting_stacks
    if stacks:
        arch = sample_new(space, rng, exclude, stack=stacks[index % len(stacks)])
        if arch.arch_id not in exclude:
            return arch
    return sample_new(space, rng, exclude, depth=min(space.feasible_depths))


def sample_new(
    space: SearchSpace,
    rng: np.random.Generator,
    exclude: AbstractSet[str],
    depth: Optional[int] = None,
    attempts: int = MAX_ATTEMPTS,
    stack: Optional[tuple[str, ...]] = None,
) -> Architecture:
    """A random architecture not in `exclude` (of depth `depth`, if given and
    reachable within `attempts` draws; of the blocks `stack`, if given); the
    last draw if the space is exhausted."""
    arch = fallback = None
    for _ in range(attempts):
        arch = space.sample(rng) if stack is None else space.sample_stack(stack, rng)
        if arch.arch_id in exclude:
            continue
        if depth is None or stack is not None or arch.depth == depth:
            return arch
        fallback = fallback or arch
    return fallback or arch
