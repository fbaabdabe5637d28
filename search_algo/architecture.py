"""The architecture encoding: a candidate model as plain, hashable data.

An `Architecture` is a sequence of blocks (a registered block name plus its
arguments), a head and the training hyperparameters. It is frozen: the
mutation helpers (`with_blocks`, `insert_block`, `replace_block`, ...) return
new architectures. It serialises to JSON and back, and has a stable id, the
SHA-256 of its canonical JSON (sorted keys, no whitespace), so the same
candidate always gets the same id in every process.

The id hashes the encoding as written. `search_algo.stack.normalize` fills in
default block arguments; the search space only ever produces normalised
architectures, so two spellings of one model do not get two ids.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any, Iterable, Mapping

import numpy as np

from search_algo.errors import SearchSpaceError

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
LR_SCHEDULES = ("constant", "cosine")
ENCODING_VERSION = 1


def _canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _plain(value: Any) -> Any:
    """NumPy scalars (what a sampler often produces) as the Python values JSON takes."""
    return value.item() if isinstance(value, np.generic) else value


def _check_json_value(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise SearchSpaceError(f"{where}: {value!r} is not a finite number")
    if not isinstance(value, (str, int, float, bool, type(None))):
        raise SearchSpaceError(
            f"{where}: argument values must be strings, numbers, booleans or null, got {value!r}"
        )


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One block of a candidate: a registered block name and its arguments."""

    name: str
    args: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SearchSpaceError(f"a block name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.args, Mapping):
            raise SearchSpaceError(f"block '{self.name}': args must be a mapping")
        args = {str(key): _plain(value) for key, value in self.args.items()}
        for key, value in args.items():
            _check_json_value(value, f"block '{self.name}' argument '{key}'")
        # A sorted private copy: callers cannot change a frozen block through
        # the dict they passed in, and equal blocks compare equal.
        object.__setattr__(self, "args", dict(sorted(args.items())))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "args": dict(self.args)}

    @classmethod
    def from_dict(cls, data: Any) -> "BlockSpec":
        if isinstance(data, str):  # shorthand: a bare name means default arguments
            return cls(data)
        if not isinstance(data, Mapping) or "name" not in data:
            raise SearchSpaceError(f"a block must be a name or {{name, args}}, got {data!r}")
        extra = sorted(set(data) - {"name", "args"})
        if extra:
            raise SearchSpaceError(f"block '{data['name']}': unknown field(s) {extra}")
        return cls(data["name"], dict(data.get("args") or {}))

    def key(self) -> str:
        """Name plus arguments, canonical: equal keys mean the same block."""
        return _canonical_json(self.to_dict())

    def __hash__(self) -> int:
        return hash(self.key())


@dataclasses.dataclass(frozen=True)
class HeadSpec:
    """What sits between the last block and the output layer.

    `hidden_units` > 0 adds one dense layer (ReLU) before the output; the
    dropout before the output layer is the `dropout` hyperparameter.
    """

    hidden_units: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_units", _plain(self.hidden_units))
        if (
            isinstance(self.hidden_units, bool)
            or not isinstance(self.hidden_units, int)
            or self.hidden_units < 0
        ):
            raise SearchSpaceError(
                f"head: hidden_units must be an integer >= 0, got {self.hidden_units!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "HeadSpec":
        return _from_fields(cls, data or {}, "head")


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    batch_size: int = 32
    weight_decay: float = 0.0  # decoupled (AdamW-style) for every optimizer
    dropout: float = 0.0  # before the output layer
    # How the learning rate moves over a training run's epochs: kept, or cosine-decayed to ~0.
    lr_schedule: str = "constant"

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, _plain(getattr(self, field.name)))

        def number(value) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool)

        if not number(self.learning_rate) or not 0 < self.learning_rate <= 10:
            raise SearchSpaceError(
                f"hyperparameters: learning_rate must be in (0, 10], got {self.learning_rate!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise SearchSpaceError(
                f"hyperparameters: optimizer must be one of {list(OPTIMIZERS)}, "
                f"got {self.optimizer!r}"
            )
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or (
            self.batch_size < 1
        ):
            raise SearchSpaceError(
                f"hyperparameters: batch_size must be a positive integer, got {self.batch_size!r}"
            )
        if not number(self.weight_decay) or not 0 <= self.weight_decay < 1:
            raise SearchSpaceError(
                f"hyperparameters: weight_decay must be in [0, 1), got {self.weight_decay!r}"
            )
        if not number(self.dropout) or not 0 <= self.dropout < 1:
            raise SearchSpaceError(
                f"hyperparameters: dropout must be in [0, 1), got {self.dropout!r}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise SearchSpaceError(
                f"hyperparameters: lr_schedule must be one of {list(LR_SCHEDULES)}, "
                f"got {self.lr_schedule!r}"
            )
        object.__setattr__(self, "learning_rate", float(self.learning_rate))
        object.__setattr__(self, "weight_decay", float(self.weight_decay))
        object.__setattr__(self, "dropout", float(self.dropout))

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        # Left out when constant, so architectures encoded before the schedule existed keep their ids.
        if values["lr_schedule"] == "constant":
            del values["lr_schedule"]
        return values

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Hyperparameters":
        return _from_fields(cls, data or {}, "hyperparameters")


def _from_fields(cls, data: Mapping[str, Any], where: str):
    if not isinstance(data, Mapping):
        raise SearchSpaceError(f"{where}: expected a mapping, got {data!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SearchSpaceError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
    return cls(**dict(data))


@dataclasses.dataclass(frozen=True)
class Architecture:
    blocks: tuple[BlockSpec, ...]
    head: HeadSpec = HeadSpec()
    hyperparameters: Hyperparameters = Hyperparameters()

    def __post_init__(self) -> None:
        blocks = tuple(
            b if isinstance(b, BlockSpec) else BlockSpec.from_dict(b) for b in self.blocks
        )
        object.__setattr__(self, "blocks", blocks)

    # --- serialisation -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": ENCODING_VERSION,
            "blocks": [b.to_dict() for b in self.blocks],
            "head": self.head.to_dict(),
            "hyperparameters": self.hyperparameters.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Architecture":
        if not isinstance(data, Mapping):
            raise SearchSpaceError(f"an architecture must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - {"version", "blocks", "head", "hyperparameters"})
        if unknown:
            raise SearchSpaceError(f"architecture: unknown field(s) {unknown}")
        version = data.get("version", ENCODING_VERSION)
        if version != ENCODING_VERSION:
            raise SearchSpaceError(
                f"architecture encoding version {version!r} is not supported "
                f"(this code reads version {ENCODING_VERSION})"
            )
        blocks = data.get("blocks")
        if not isinstance(blocks, (list, tuple)):
            raise SearchSpaceError("architecture: 'blocks' must be a list")
        return cls(
            blocks=tuple(BlockSpec.from_dict(b) for b in blocks),
            head=HeadSpec.from_dict(data.get("head")),
            hyperparameters=Hyperparameters.from_dict(data.get("hyperparameters")),
        )

    def to_json(self, indent: int | None = None) -> str:
        if indent is None:
            return _canonical_json(self.to_dict())
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "Architecture":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SearchSpaceError(f"architecture JSON is invalid: {error}") from None
        return cls.from_dict(data)

    # --- identity ------------------------------------------------------------
    @property
    def arch_id(self) -> str:
        """Stable id of the whole candidate (blocks, head and hyperparameters)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @property
    def structure_id(self) -> str:
        """Stable id of the network alone (blocks and head): candidates that differ
        only in hyperparameters share it."""
        structure = {"blocks": [b.to_dict() for b in self.blocks], "head": self.head.to_dict()}
        return hashlib.sha256(_canonical_json(structure).encode()).hexdigest()[:16]

    def __hash__(self) -> int:
        return hash(self.to_json())

    def validate(self, input_kind: str) -> "Architecture":
        """Raises SearchSpaceError (naming the block) if this stack cannot be
        built on `input_kind` data (tabular / image / sequence); returns self."""
        from search_algo.stack import validate  # stack imports this module

        validate(self, input_kind)
        return self

    @property
    def depth(self) -> int:
        return len(self.blocks)

    # --- mutation helpers (each returns a new Architecture) -------------------
    def with_blocks(self, blocks: Iterable[BlockSpec | Mapping | str]) -> "Architecture":
        return dataclasses.replace(self, blocks=tuple(blocks))

    def insert_block(self, index: int, block: BlockSpec) -> "Architecture":
        blocks = list(self.blocks)
        blocks.insert(index, block)
        return self.with_blocks(blocks)

    def replace_block(self, index: int, block: BlockSpec) -> "Architecture":
        self._check_index(index)
        blocks = list(self.blocks)
        blocks[index] = block
        return self.with_blocks(blocks)

    def remove_block(self, index: int) -> "Architecture":
        self._check_index(index)
        blocks = list(self.blocks)
        del blocks[index]
        return self.with_blocks(blocks)

    def with_block_args(self, index: int, **changes: Any) -> "Architecture":
        self._check_index(index)
        block = self.blocks[index]
        return self.replace_block(index, BlockSpec(block.name, {**block.args, **changes}))

    def with_head(self, **changes: Any) -> "Architecture":
        return dataclasses.replace(self, head=dataclasses.replace(self.head, **changes))

    def with_hyperparameters(self, **changes: Any) -> "Architecture":
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(Hyperparameters)})
        if unknown:
            raise SearchSpaceError(f"hyperparameters: unknown field(s) {unknown}")
        return dataclasses.replace(
            self, hyperparameters=dataclasses.replace(self.hyperparameters, **changes)
        )

    def _check_index(self, index: int) -> None:
        if not -len(self.blocks) <= index < len(self.blocks):
            raise IndexError(f"block index {index} out of range for depth {len(self.blocks)}")

    def describe(self) -> str:
        """One line, e.g. `conv1d(filters=32) > lstm(units=64) | head(0)`."""
        parts = []
        for block in self.blocks:
            args = ",".join(f"{k}={v}" for k, v in block.args.items())
            parts.append(f"{block.name}({args})")
        return " > ".join(parts) + f" | head({self.head.hidden_units})"
