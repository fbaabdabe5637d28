"""Mutating an architecture within a search space: grow (add a new block),
repeat (stack a copy of one of its blocks), replace or remove a block, change
a block argument or a hyperparameter (the head's hidden units count as one).
Always returns a valid child.

A changed argument or hyperparameter is, half of the time, a local step (the
neighbouring choice, or a small move within a numeric range: coordinate
descent) and otherwise a fresh draw from the space; it always differs from the
current value when the space allows another one."""

from __future__ import annotations

from typing import Callable, Optional

import math

import numpy as np

from search_algo.architecture import Architecture
from search_algo.blocks.registry import ArgSpec
from search_algo.errors import SearchSpaceError
from search_algo.search_space import SearchSpace
from search_algo.stack import plan_stack

MUTATIONS = ("grow", "repeat", "replace", "remove", "block_args", "hyperparameters")
MAX_ATTEMPTS = 64
# Chance that a changed value is a local step rather than a fresh draw.
LOCAL_STEP_PROBABILITY = 0.5
# A local step in a numeric range: this fraction of the (log) range, as a normal's sigma.
LOCAL_STEP_SCALE = 0.15


def new_value(spec: ArgSpec, current, rng: np.random.Generator):
    """A value of `spec` for an argument now at `current`: a local step or a
    fresh draw, different from `current` when the spec allows another value."""
    if spec.is_choice:
        others = [c for c in spec.choices if c != current]
        if not others:
            return current
        if current in spec.choices and rng.random() < LOCAL_STEP_PROBABILITY:
            index = spec.choices.index(current)
            neighbours = [spec.choices[i] for i in (index - 1, index + 1) if 0 <= i < len(spec.choices)]
            neighbours = [n for n in neighbours if n in others]
            if neighbours:
                return neighbours[int(rng.integers(len(neighbours)))]
        return others[int(rng.integers(len(others)))]
    if spec.low == spec.high:
        return spec.coerce(spec.low)
    numeric = isinstance(current, (int, float)) and not isinstance(current, bool)
    if numeric and spec.low <= current <= spec.high and rng.random() < LOCAL_STEP_PROBABILITY:
        if spec.log:
            span = math.log(spec.high) - math.log(spec.low)
            value = math.exp(math.log(current) + rng.normal(0.0, LOCAL_STEP_SCALE * span))
        else:
            value = current + rng.normal(0.0, LOCAL_STEP_SCALE * (spec.high - spec.low))
        value = min(max(value, spec.low), spec.high)
        if spec.value_type is int:
            value = int(round(value))
        else:
            value = float(f"{value:.4g}")
        if value != current:
            return value
    for _ in range(8):
        value = spec.sample(rng)
        if value != current:
            return value
    return value


def _grow(arch: Architecture, space: SearchSpace, rng: np.random.Generator) -> Optional[Architecture]:
    if arch.depth >= space.max_depth:
        return None
    name = space.blocks[int(rng.integers(len(space.blocks)))]
    # Growing at the end is Model Search's "append a block"; elsewhere widens the search.
    index = arch.depth if rng.random() < 0.6 else int(rng.integers(arch.depth + 1))
    return arch.insert_block(index, space.sample_block(name, rng))


def _repeat(arch: Architecture, space: SearchSpace, rng: np.random.Generator) -> Optional[Architecture]:
    """Stacks a copy of one of the blocks (arguments included) at the end, or
    right after the original when the end cannot take it: repeated motifs are
    how most good networks are built."""
    if not arch.depth or arch.depth >= space.max_depth:
        return None
    index = int(rng.integers(arch.depth))
    block = arch.blocks[index]
    if block.name not in space.blocks:
        return None
    at_end = arch.insert_block(arch.depth, block)
    if is_valid(at_end, space):
        return at_end
    return arch.insert_block(index + 1, block)


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
    current = arch.blocks[index].args.get(arg, specs[arg].default)
    return arch.with_block_args(index, **{arg: new_value(specs[arg], current, rng)})


HEAD_HIDDEN_UNITS = "head_hidden_units"


def _hyperparameters(arch: Architecture, space: SearchSpace, rng: np.random.Generator) -> Optional[Architecture]:
    """Changes one training hyperparameter, or the head's hidden units."""
    names = sorted(space.hyperparameters) + [HEAD_HIDDEN_UNITS]
    name = names[int(rng.integers(len(names)))]
    if name == HEAD_HIDDEN_UNITS:
        return arch.with_head(hidden_units=int(new_value(space.head_hidden_units, arch.head.hidden_units, rng)))
    current = getattr(arch.hyperparameters, name)
    return arch.with_hyperparameters(**{name: new_value(space.hyperparameters[name], current, rng)})


_OPERATORS: dict[str, Callable] = {
    "grow": _grow,
    "repeat": _repeat,
    "replace": _replace,
    "remove": _remove,
    "block_args": _block_args,
    "hyperparameters": _hyperparameters,
}


def is_valid(arch: Architecture, space: SearchSpace, max_depth: Optional[int] = None) -> bool:
    """Within the space's depth range (and `max_depth`, if given) and buildable."""
    if not space.min_depth <= arch.depth <= space.max_depth:
        return False
    if max_depth is not None and arch.depth > max(max_depth, space.min_depth):
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
    max_depth: Optional[int] = None,
) -> Architecture:
    """A valid child of `arch` that differs from it and from every id in
    `exclude` (and is at most `max_depth` deep, if given, unless `arch`
    already is deeper); falls back to a fresh sample when no mutation works."""
    if max_depth is not None:
        max_depth = max(max_depth, arch.depth)
    probabilities = None
    if weights is not None:
        probabilities = np.asarray(weights, dtype=float) / float(np.sum(weights))
    for _ in range(MAX_ATTEMPTS):
        operator = operators[int(rng.choice(len(operators), p=probabilities))]
        child = _OPERATORS[operator](arch, space, rng)
        if child is None or child.arch_id == arch.arch_id or child.arch_id in exclude:
            continue
        if is_valid(child, space, max_depth):
            return child
    for _ in range(MAX_ATTEMPTS):
        child = space.sample(rng)
        if child.arch_id not in exclude:
            return child
    return space.sample(rng)
