"""Mutating an architecture within a search space: grow, replace, remove,
re-draw block arguments or hyperparameters. Always returns a valid child."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from search_algo.architecture import Architecture
from search_algo.errors import SearchSpaceError
from search_algo.search_space import SearchSpace
from search_algo.stack import plan_stack

MUTATIONS = ("grow", "replace", "remove", "block_args", "hyperparameters")
MAX_ATTEMPTS = 64


def _grow(arch: Architecture, space: SearchSpace, rng: np.random.Generator) -> Optional[Architecture]:
    if arch.depth >= space.max_depth:
        return None
    name = space.blocks[int(rng.integers(len(space.blocks)))]
    # Growing at the end is Model Search's "append a block"; elsewhere widens the search.
    index = arch.depth if rng.random() < 0.6 else int(rng.integers(arch.depth + 1))
    return arch.insert_block(index, space.sample_block(name, rng))


def _replace(arch: Architecture, space: SearchSpace, rng: np.random.Generator) -> Optional[Architecture]:
    if not arch.depth:
        return None
    name = space.blocks[int(rng.integers(len(space.blocks)))]
    return arch.replace_block(int(rng.integers(arch.depth)), space.sample_block(name, rng))


def _remove(arch: Architecture, space: SearchSpace, rng: np.random.Generator) -> Optional[Architecture]:
    if arch.depth <= space.min_depth:
        return None
    return arch.remove_block(int(rng.integers(arch.depth)))


def _block_args(arch: Architecture, space: SearchSpace, rng: np.random.Generator) -> Optional[Architecture]:
    if not arch.depth:
        return None
    index = int(rng.integers(arch.depth))
    name = arch.blocks[index].name
    if name not in space.blocks:
        return None
    specs = space.block_arg_specs(name)
    if not specs:
        return None
    arg = sorted(specs)[int(rng.integers(len(specs)))]
    return arch.with_block_args(index, **{arg: specs[arg].sample(rng)})


def _hyperparameters(arch: Architecture, space: SearchSpace, rng: np.random.Generator) -> Optional[Architecture]:
    names = sorted(space.hyperparameters)
    name = names[int(rng.integers(len(names)))]
    return arch.with_hyperparameters(**{name: space.hyperparameters[name].sample(rng)})


_OPERATORS: dict[str, Callable] = {
    "grow": _grow,
    "replace": _replace,
    "remove": _remove,
    "block_args": _block_args,
    "hyperparameters": _hyperparameters,
}


def is_valid(arch: Architecture, space: SearchSpace) -> bool:
    if not space.min_depth <= arch.depth <= space.max_depth:
        return False
    try:
        plan_stack(arch, space.input_kind)
    except SearchSpaceError:
        return False
    return True


def mutate(
    arch: Architecture,
    space: SearchSpace,
    rng: np.random.Generator,
    operators: tuple[str, ...] = MUTATIONS,
    weights: Optional[tuple[float, ...]] = None,
    exclude: frozenset[str] = frozenset(),
) -> Architecture:
    """A valid child of `arch` that differs from it and from every id in
    `exclude`; falls back to a fresh sample when no mutation works."""
    probabilities = None
    if weights is not None:
        probabilities = np.asarray(weights, dtype=float) / float(np.sum(weights))
    for _ in range(MAX_ATTEMPTS):
        operator = operators[int(rng.choice(len(operators), p=probabilities))]
        child = _OPERATORS[operator](arch, space, rng)
        if child is None or child.arch_id == arch.arch_id or child.arch_id in exclude:
            continue
        if is_valid(child, space):
            return child
    for _ in range(MAX_ATTEMPTS):
        child = space.sample(rng)
        if child.arch_id not in exclude:
            return child
    return space.sample(rng)
