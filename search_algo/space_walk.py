"""The search space walked one named draw at a time, as define-by-run tuners
(Optuna, KerasTuner) see it, and back again.

`architecture_from(suggest, space)` draws an architecture: the depth, then a
block per slot among those valid after the previous one, each block's
arguments, the head and the optimizer settings, each draw named. `replay`
answers the same draws from a given architecture, so a tuner can be told what
the platform's other trials were (`algorithms/optuna_tpe.py`).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Protocol

from search_algo.architecture import Architecture, BlockSpec, HeadSpec, Hyperparameters
from search_algo.search_space import SearchSpace
from search_algo.stack import tensor_kind_of


class Suggest(Protocol):
    """How a tuner draws one named value (KerasTuner's `hp`, Optuna's `trial`)."""

    def boolean(self, name: str) -> bool: ...
    def choice(self, name: str, values: list) -> Any: ...
    def integer(self, name: str, low: int, high: int, log: bool) -> int: ...
    def real(self, name: str, low: float, high: float, log: bool) -> float: ...


def architecture_from(suggest: Suggest, space: SearchSpace) -> Architecture:
    """An Architecture drawn by a define-by-run tuner over `space`. The names
    and the order of the draws are what the committed KerasTuner results of
    benchmarks/search_efficiency.py used."""

    def choose(name: str, arg_spec):
        if arg_spec.is_choice and set(arg_spec.choices) == {False, True}:
            return suggest.boolean(name)
        if arg_spec.is_choice:
            # Tuners keep choices as numbers or strings; the block wants its own types back.
            return arg_spec.coerce(suggest.choice(name, list(arg_spec.choices)))
        if isinstance(arg_spec.default, bool):
            return suggest.boolean(name)
        if isinstance(arg_spec.default, int):
            return suggest.integer(name, int(arg_spec.low), int(arg_spec.high), arg_spec.log)
        return suggest.real(name, float(arg_spec.low), float(arg_spec.high), arg_spec.log)

    depth = suggest.integer("depth", space.min_depth, space.max_depth, False)
    kind = tensor_kind_of(space.input_kind)
    blocks = []
    for position in range(depth):
        options = space.slot_options(kind, depth - position - 1)
        # One choice per (slot, allowed set), so the tuner never sees an invalid value.
        names = [n for n, _ in options]
        name = suggest.choice(f"block{position}_{'-'.join(names)}", names)
        kind = dict(options)[name]
        args = {arg: choose(f"block{position}_{name}_{arg}", s) for arg, s in space.block_arg_specs(name).items()}
        blocks.append(BlockSpec(name, args))
    head = HeadSpec(hidden_units=choose("head_hidden_units", space.head_hidden_units))
    values = {name: choose(name, s) for name, s in sorted(space.hyperparameters.items())}
    return Architecture(tuple(blocks), head, Hyperparameters(**values))


class NotInSpace(ValueError):
    """The architecture is not one `architecture_from` can draw from the space."""


@dataclasses.dataclass(frozen=True)
class Draw:
    """One named draw and its answer: `kind` is boolean, choice, integer or
    real; `values` the choices, `low`/`high`/`log` the range."""
    name: str
    kind: str
    value: Any
    values: tuple = ()
    low: float = 0
    high: float = 0
    log: bool = False


_SLOT = re.compile(r"block(\d+)_(.+)")


class _Replay:
    """A Suggest that answers each draw from `architecture` and records it."""

    def __init__(self, architecture: Architecture):
        self.architecture = architecture
        self.draws: list[Draw] = []

    def _value(self, name: str, values=None):
        arch = self.architecture
        if name == "depth":
            return arch.depth
        if name == "head_hidden_units":
            return arch.head.hidden_units
        slot = _SLOT.fullmatch(name)
        if slot:
            position, rest = int(slot.group(1)), slot.group(2)
            if position >= arch.depth:
                raise NotInSpace(f"{name}: the architecture has {arch.depth} blocks")
            block = arch.blocks[position]
            if values is not None and rest == "-".join(str(v) for v in values):
                return block.name
            if not rest.startswith(block.name + "_") or rest[len(block.name) + 1:] not in block.args:
                raise NotInSpace(f"{name}: not an argument of block {position} ({block.name})")
            return block.args[rest[len(block.name) + 1:]]
        if not hasattr(arch.hyperparameters, name):
            raise NotInSpace(f"{name}: no such hyperparameter")
        return getattr(arch.hyperparameters, name)

    def boolean(self, name):
        value = self._value(name, [False, True])
        if value not in (False, True):
            raise NotInSpace(f"{name}: {value!r} is not a boolean")
        self.draws.append(Draw(name, "boolean", bool(value), (False, True)))
        return bool(value)

    def choice(self, name, values):
        value = self._value(name, values)
        if value not in values:
            raise NotInSpace(f"{name}: {value!r} is not one of {values}")
        self.draws.append(Draw(name, "choice", value, tuple(values)))
        return value

    def integer(self, name, low, high, log):
        value = self._value(name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise NotInSpace(f"{name}: {value!r} is not an integer in [{low}, {high}]")
        self.draws.append(Draw(name, "integer", value, low=low, high=high, log=log))
        return value

    def real(self, name, low, high, log):
        value = self._value(name)
        if not isinstance(value, (int, float)) or not low <= float(value) <= high:
            raise NotInSpace(f"{name}: {value!r} is not in [{low}, {high}]")
        self.draws.append(Draw(name, "real", float(value), low=low, high=high, log=log))
        return float(value)


def replay(architecture: Architecture, space: SearchSpace) -> list[Draw]:
    """The draws `architecture_from` would make to produce `architecture`, with
    their answers; NotInSpace when it cannot produce it (another space, a
    value out of range)."""
    recorder = _Replay(architecture)
    again = architecture_from(recorder, space)
    if again.arch_id != architecture.arch_id:
        raise NotInSpace("the space's walk does not give this architecture back")
    return recorder.draws
