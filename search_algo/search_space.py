"""The search space: which blocks, how deep, which hyperparameters.

`SearchSpace.default(input_kind)` gives a sensible space per input kind;
`SearchSpace.from_dict(data, input_kind)` starts from that default and applies
overrides from a plain dict (a study config's `search_space:` section):

    blocks: [conv1d, lstm, dense]        # block names allowed (custom ones too)
    min_depth: 1
    max_depth: 4
    block_args:                          # narrow a block's argument values
      conv1d: {filters: [16, 32], kernel_size: 5}
    hyperparameters:
      learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}
      optimizer: [adam, adamw]
      batch_size: [32, 64]
      lr_schedule: cosine                # constant (default) | cosine
    head_hidden_units: [0, 64]

A value override is a list (choices), a single value (fixed) or a dict
``{low, high, log, default}`` (a range, for numeric ranged arguments); every
override must stay inside what the block or hyperparameter allows.

`sample(rng)` draws a random, valid, default-filled Architecture from a
`numpy.random.Generator`; the same seed gives the same architecture.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping

import numpy as np

from search_algo.architecture import LR_SCHEDULES, OPTIMIZERS, Architecture, BlockSpec, HeadSpec, Hyperparameters
from search_algo.blocks.registry import ArgSpec, get_block
from search_algo.dataset_spec import INPUT_KINDS, DatasetSpec
from search_algo.errors import SearchSpaceError
from search_algo.stack import connector_for, tensor_kind_of

MAX_DEPTH_LIMIT = 32

DEFAULT_BLOCKS: dict[str, tuple[str, ...]] = {
    "tabular": ("dense", "residual_dense", "bottleneck_dense"),
    "image": (
        "conv2d", "downsample_conv2d", "separable_conv2d", "resnet_basic2d",
        "resnet_bottleneck2d", "max_pool2d", "avg_pool2d", "dense",
    ),
    "sequence": (
        "conv1d", "tcn", "resnet1d", "lstm", "bilstm", "gru", "transformer_encoder",
        "attention_pool", "dense",
    ),
}
DEFAULT_DEPTH: dict[str, tuple[int, int]] = {
    "tabular": (1, 4),
    "image": (1, 5),
    "sequence": (1, 4),
}
# Audio is ingested as a `sequence` of log-mel frames [frames, n_mels]; the
# dataset spec's `source.kind` says it was audio. Its default space holds the
# two recipes that learn from a few hundred clips: statistics pooling (mean and
# spread of every mel band over time, the x-vector recipe) and the 2-D view of
# the spectrogram for keyword-spotting convolutions; 1-D convolutions beside them.
AUDIO_BLOCKS: tuple[str, ...] = (
    "statistics_pooling", "conv1d", "resnet1d", "image_view", "conv2d", "resnet_basic2d",
    "max_pool2d", "dense",
)
AUDIO_DEPTH = (1, 4)
# Five epochs on a few hundred clips leave no time for a small learning rate:
# statistics pooling into a softmax reached 0.30 eval accuracy at 1e-3 and 0.62
# at 1e-2 (256 keyword clips, batch 32, 5 epochs; audio_probes.json).
AUDIO_LEARNING_RATE = ArgSpec(default=3e-3, low=1e-3, high=1e-2, log=True)
# The stacks beam search's first round starts from, one per proposal in this
# order: families that train well in a few epochs on little data. Recurrent and
# attention blocks stay in the space, reached by mutation once a good model
# exists. Empty: the first round draws any block. For audio, the x-vector
# recipe (a convolution, then statistics pooling) and its 2-D variant: on 256
# keyword clips, 5 epochs at batch 16, eval accuracy 0.91 (conv1d) and 0.89
# (image_view, conv2d) into statistics pooling, against 0.39 for a conv1d whose
# map is flattened (audio_probes.json).
STARTING_STACKS: dict[str, tuple[tuple[str, ...], ...]] = {
    "tabular": (),
    "image": (("conv2d",), ("resnet_basic2d",), ("downsample_conv2d",)),
    "sequence": (("conv1d",), ("resnet1d",)),
    "audio": (
        ("statistics_pooling",), ("conv1d", "statistics_pooling"),
        ("image_view", "conv2d", "statistics_pooling"), ("resnet1d", "statistics_pooling"),
    ),
}
# An epoch of fewer steps than this barely moves a model within the few epochs
# a trial gets (a batch of 128 on 256 examples is 2 steps): the default space
# drops such batch sizes for small training sets (`for_dataset`). On 256 log-mel
# clips, a 1-D convolution with statistics pooling reached 0.79 eval accuracy in
# 5 epochs at batch 32 (8 steps an epoch) and 0.90 at batch 16 (16 steps;
# benchmarks/results/audio_probes.json).
MIN_STEPS_PER_EPOCH = 16
# The smallest batch the rule falls back to, however small the data: below it
# batch-norm statistics get noisy.
SMALLEST_BATCH_SIZE = 8

# What a hyperparameter may ever be (overrides are checked against these) ...
HYPERPARAMETER_LIMITS: dict[str, ArgSpec] = {
    "learning_rate": ArgSpec(default=1e-3, low=1e-6, high=10.0, log=True),
    "optimizer": ArgSpec(default="adam", choices=OPTIMIZERS),
    "batch_size": ArgSpec(default=32, low=1, high=65536),
    "weight_decay": ArgSpec(default=0.0, low=0.0, high=0.5),
    "dropout": ArgSpec(default=0.0, low=0.0, high=0.9),
    "lr_schedule": ArgSpec(default="constant", choices=LR_SCHEDULES),
}
# ... and what the default space samples.
DEFAULT_HYPERPARAMETERS: dict[str, ArgSpec] = {
    "learning_rate": ArgSpec(default=1e-3, low=1e-4, high=1e-2, log=True),
    "optimizer": ArgSpec(default="adam", choices=("adam", "adamw")),
    "batch_size": ArgSpec(default=32, choices=(32, 64, 128)),
    "weight_decay": ArgSpec(default=0.0, choices=(0.0, 1e-5, 1e-4)),
    "dropout": ArgSpec(default=0.0, choices=(0.0, 0.1, 0.2, 0.3)),
}
HEAD_HIDDEN_LIMIT = ArgSpec(default=0, low=0, high=4096)
DEFAULT_HEAD_HIDDEN = ArgSpec(default=0, choices=(0, 64, 128))


def override_spec(base: ArgSpec, value: Any, where: str) -> ArgSpec:
    """Narrows `base` by a config value: a list (choices), a scalar (fixed)
    or a dict {low, high, log, default} (a numeric range)."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"low", "high", "log", "default"})
        if unknown:
            raise SearchSpaceError(f"{where}: unknown range field(s) {unknown}")
        if "low" not in value or "high" not in value:
            raise SearchSpaceError(f"{where}: a range needs both 'low' and 'high'")
        if base.is_choice:
            raise SearchSpaceError(
                f"{where}: takes one of {list(base.choices)}, not a range; give a list"
            )
        low, high = value["low"], value["high"]
        for bound in (low, high):
            problem = base.check(bound)
            if problem:
                raise SearchSpaceError(f"{where}: range bound {problem}")
        if low > high:
            raise SearchSpaceError(f"{where}: low {low} is above high {high}")
        default = value.get("default", base.default if low <= base.default <= high else low)
        try:
            return ArgSpec(
                default=base.coerce(default), low=base.coerce(low), high=base.coerce(high),
                log=bool(value.get("log", base.log)),
            )
        except ValueError as error:
            raise SearchSpaceError(f"{where}: {error}") from None
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise SearchSpaceError(f"{where}: the list of values is empty")
    for item in values:
        problem = base.check(item)
        if problem:
            raise SearchSpaceError(f"{where}: {problem}")
    values = list(dict.fromkeys(base.coerce(v) for v in values))
    default = base.default if base.default in values else values[0]
    return ArgSpec(default=default, choices=tuple(values))


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    input_kind: str
    blocks: tuple[str, ...]
    min_depth: int
    max_depth: int
    # Narrowed argument specs, only for blocks whose arguments were overridden.
    block_args: Mapping[str, Mapping[str, ArgSpec]] = dataclasses.field(default_factory=dict)
    hyperparameters: Mapping[str, ArgSpec] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_HYPERPARAMETERS)
    )
    head_hidden_units: ArgSpec = DEFAULT_HEAD_HIDDEN
    # Where beam search's first round starts (see STARTING_STACKS); a stack
    # using a block not in `blocks`, or outside the depth range, is dropped.
    starting_stacks: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.input_kind not in INPUT_KINDS:
            raise SearchSpaceError(
                f"search space: input_kind must be one of {list(INPUT_KINDS)}, "
                f"got {self.input_kind!r}"
            )
        object.__setattr__(self, "blocks", tuple(self.blocks))
        object.__setattr__(self, "starting_stacks", tuple(
            tuple(stack) for stack in self.starting_stacks
            if set(stack) <= set(self.blocks) and self.min_depth <= len(stack) <= self.max_depth
        ))
        if not self.blocks:
            raise SearchSpaceError("search space: 'blocks' must name at least one block")
        if len(set(self.blocks)) != len(self.blocks):
            raise SearchSpaceError(f"search space: 'blocks' lists a block twice: {self.blocks}")
        for name in self.blocks:
            get_block(name, where="search space")
        for name in self.block_args:
            if name not in self.blocks:
                raise SearchSpaceError(
                    f"search space: block_args given for '{name}', which is not in 'blocks'"
                )
        for field in ("min_depth", "max_depth"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SearchSpaceError(f"search space: {field} must be an integer, got {value!r}")
        if not 1 <= self.min_depth <= self.max_depth <= MAX_DEPTH_LIMIT:
            raise SearchSpaceError(
                f"search space: need 1 <= min_depth <= max_depth <= {MAX_DEPTH_LIMIT}, "
                f"got min_depth={self.min_depth}, max_depth={self.max_depth}"
            )
        unreachable = sorted(set(self.blocks) - self._reachable_blocks())
        if unreachable:
            raise SearchSpaceError(
                f"search space: block(s) {unreachable} can never be placed on "
                f"{self.input_kind} input with the other blocks listed "
                "(e.g. a 2-D block after only flat blocks)"
            )
        if not self.feasible_depths:
            raise SearchSpaceError(
                f"search space: no stack of depth {self.min_depth}..{self.max_depth} "
                f"can be built from {list(self.blocks)} on {self.input_kind} input"
            )

    # --- construction ------------------------------------------------------------
    @classmethod
    def default(cls, input_kind: str) -> "SearchSpace":
        if input_kind not in DEFAULT_BLOCKS:
            raise SearchSpaceError(
                f"search space: input_kind must be one of {list(DEFAULT_BLOCKS)}, "
                f"got {input_kind!r}"
            )
        low, high = DEFAULT_DEPTH[input_kind]
        return cls(input_kind, DEFAULT_BLOCKS[input_kind], low, high,
                   starting_stacks=STARTING_STACKS[input_kind])

    @classmethod
    def default_audio(cls) -> "SearchSpace":
        """The default space for log-mel spectrogram frames (a `sequence`)."""
        low, high = AUDIO_DEPTH
        return cls("sequence", AUDIO_BLOCKS, low, high, starting_stacks=STARTING_STACKS["audio"],
                   hyperparameters={**DEFAULT_HYPERPARAMETERS, "learning_rate": AUDIO_LEARNING_RATE})

    @classmethod
    def for_dataset(cls, data: Mapping[str, Any] | None, spec: DatasetSpec) -> "SearchSpace":
        """The space a study searches on `spec`'s data: the default for its
        input kind (the audio space when ingestion recorded audio), with its
        batch sizes fitted to the training split's size (`batch_sizes_for`),
        then `data`'s overrides (a batch size the user gives is kept as given)."""
        base = cls.default_audio() if spec.source.get("kind") == "audio" else cls.default(spec.input_kind)
        train_size = spec.split_sizes.get("train")
        hyperparameters = dict(base.hyperparameters)
        if train_size:
            hyperparameters["batch_size"] = batch_sizes_for(hyperparameters["batch_size"], train_size)
        return cls.from_dict(data, spec.input_kind,
                             base=dataclasses.replace(base, hyperparameters=hyperparameters))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, input_kind: str | None = None,
                  base: "SearchSpace | None" = None) -> "SearchSpace":
        """The default space for the input kind (or `base`) with `data`'s overrides applied."""
        data = dict(data or {})
        known = {
            "input_kind", "blocks", "min_depth", "max_depth", "block_args",
            "hyperparameters", "head_hidden_units",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise SearchSpaceError(
                f"search space: unknown key(s) {unknown}; known: {sorted(known)}"
            )
        kind = data.get("input_kind", input_kind)
        if input_kind is not None and kind != input_kind:
            raise SearchSpaceError(
                f"search space: input_kind {kind!r} does not match the data ({input_kind!r})"
            )
        if kind is None:
            raise SearchSpaceError("search space: input_kind is not given")
        space = base if base is not None else cls.default(kind)
        blocks = data.get("blocks", space.blocks)
        if isinstance(blocks, str) or not isinstance(blocks, (list, tuple)):
            raise SearchSpaceError("search space: 'blocks' must be a list of block names")
        blocks = tuple(blocks)

        block_args: dict[str, dict[str, ArgSpec]] = {}
        raw_block_args = data.get("block_args") or {}
        if not isinstance(raw_block_args, Mapping):
            raise SearchSpaceError("search space: 'block_args' must map block names to args")
        for name, overrides in raw_block_args.items():
            where = f"search space: block_args '{name}'"
            if name not in blocks:
                raise SearchSpaceError(f"{where}: '{name}' is not in 'blocks'")
            definition = get_block(name, where=where)
            if not isinstance(overrides, Mapping):
                raise SearchSpaceError(f"{where}: expected a mapping of argument overrides")
            specs = dict(definition.args)
            for arg, value in overrides.items():
                if arg not in definition.args:
                    raise SearchSpaceError(
                        f"{where}: '{name}' has no argument '{arg}'; it takes "
                        f"{sorted(definition.args) or 'none'}"
                    )
                specs[arg] = override_spec(definition.args[arg], value, f"{where}.{arg}")
            block_args[name] = specs

        hyperparameters = dict(space.hyperparameters)
        raw_hps = data.get("hyperparameters") or {}
        if not isinstance(raw_hps, Mapping):
            raise SearchSpaceError("search space: 'hyperparameters' must be a mapping")
        for name, value in raw_hps.items():
            if name not in HYPERPARAMETER_LIMITS:
                raise SearchSpaceError(
                    f"search space: unknown hyperparameter '{name}'; known: "
                    f"{sorted(HYPERPARAMETER_LIMITS)}"
                )
            hyperparameters[name] = override_spec(
                HYPERPARAMETER_LIMITS[name], value, f"search space: hyperparameters.{name}"
            )
        head = space.head_hidden_units
        if "head_hidden_units" in data:
            head = override_spec(
                HEAD_HIDDEN_LIMIT, data["head_hidden_units"], "search space: head_hidden_units"
            )
        return cls(
            input_kind=kind,
            blocks=blocks,
            min_depth=data.get("min_depth", space.min_depth),
            max_depth=data.get("max_depth", space.max_depth),
            block_args=block_args,
            hyperparameters=hyperparameters,
            head_hidden_units=head,
            starting_stacks=space.starting_stacks,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_kind": self.input_kind,
            "blocks": list(self.blocks),
            "min_depth": self.min_depth,
            "max_depth": self.max_depth,
            "block_args": {
                name: {arg: spec.describe() for arg, spec in specs.items()}
                for name, specs in self.block_args.items()
            },
            "hyperparameters": {n: s.describe() for n, s in self.hyperparameters.items()},
            "head_hidden_units": self.head_hidden_units.describe(),
            "starting_stacks": [list(stack) for stack in self.starting_stacks],
        }

    # --- structure -----------------------------------------------------------------
    def block_arg_specs(self, name: str) -> Mapping[str, ArgSpec]:
        """The argument specs the space samples for block `name`."""
        return self.block_args.get(name) or get_block(name).args

    def usable_blocks(self, tensor_kind: str) -> list[tuple[str, str]]:
        """(block name, its output kind) for every block that can follow a tensor
        of `tensor_kind`, connectors included, in the space's order."""
        usable = []
        for name in self.blocks:
            definition = get_block(name)
            _, block_kind = connector_for(tensor_kind, definition.input_kinds)
            if block_kind is not None:
                usable.append((name, definition.output_kind_for(block_kind)))
        return usable

    def _reachable_blocks(self) -> set[str]:
        seen_kinds, reachable = set(), set()
        frontier = [tensor_kind_of(self.input_kind)]
        while frontier:
            kind = frontier.pop()
            if kind in seen_kinds:
                continue
            seen_kinds.add(kind)
            for name, output_kind in self.usable_blocks(kind):
                reachable.add(name)
                frontier.append(output_kind)
        return reachable

    @functools.cached_property
    def feasible_depths(self) -> tuple[int, ...]:
        start = tensor_kind_of(self.input_kind)
        return tuple(
            d for d in range(self.min_depth, self.max_depth + 1) if self._can_fill(start, d)
        )

    def _can_fill(self, kind: str, remaining: int) -> bool:
        # Memoised per instance: the space is frozen, so the answer never changes.
        cache = self.__dict__.setdefault("_fill_cache", {})
        key = (kind, remaining)
        if key not in cache:
            cache[key] = remaining == 0 or any(
                self._can_fill(out, remaining - 1) for _, out in self.usable_blocks(kind)
            )
        return cache[key]

    def slot_options(self, kind: str, remaining: int) -> list[tuple[str, str]]:
        """(block, output kind) pairs that may take a slot whose input is `kind`
        and still leave a valid stack of `remaining` more blocks."""
        return [(name, out) for name, out in self.usable_blocks(kind) if self._can_fill(out, remaining)]

    # --- sampling ------------------------------------------------------------------
    def sample_block(self, name: str, rng: np.random.Generator) -> BlockSpec:
        """Block `name` with every argument drawn from the space."""
        return BlockSpec(name, {arg: s.sample(rng) for arg, s in self.block_arg_specs(name).items()})

    def sample_hyperparameters(self, rng: np.random.Generator) -> Hyperparameters:
        values = {name: spec.sample(rng) for name, spec in sorted(self.hyperparameters.items())}
        return Hyperparameters(**values)

    def sample_stack(self, names: tuple[str, ...], rng: np.random.Generator) -> Architecture:
        """The blocks `names` in this order, with arguments, head and
        hyperparameters drawn from the space."""
        return self._with_head_and_hyperparameters([self.sample_block(name, rng) for name in names], rng)

    def sample(self, rng: np.random.Generator) -> Architecture:
        """A random valid architecture; deterministic for the generator's state."""
        depths = self.feasible_depths
        depth = depths[int(rng.integers(len(depths)))]
        kind = tensor_kind_of(self.input_kind)
        blocks = []
        for position in range(depth):
            options = self.slot_options(kind, depth - position - 1)
            name, kind = options[int(rng.integers(len(options)))]
            blocks.append(self.sample_block(name, rng))
        return self._with_head_and_hyperparameters(blocks, rng)

    def _with_head_and_hyperparameters(self, blocks: list[BlockSpec], rng: np.random.Generator) -> Architecture:
        head = HeadSpec(hidden_units=int(self.head_hidden_units.sample(rng)))
        return Architecture(tuple(blocks), head, self.sample_hyperparameters(rng))


def batch_sizes_for(spec: ArgSpec, train_size: int) -> ArgSpec:
    """`spec` without the batch-size choices that give fewer than
    MIN_STEPS_PER_EPOCH steps an epoch on `train_size` examples. When none
    is left, the one batch size is the largest power of two that gives that
    many steps, but at least SMALLEST_BATCH_SIZE (256 examples: 16). A range
    is left as is."""
    if not spec.is_choice:
        return spec
    kept = tuple(b for b in spec.choices if train_size / b >= MIN_STEPS_PER_EPOCH)
    if not kept:
        fitting = 2 ** int(np.floor(np.log2(max(train_size / MIN_STEPS_PER_EPOCH, 1))))
        kept = (min(max(fitting, SMALLEST_BATCH_SIZE), min(spec.choices)),)
    return ArgSpec(default=spec.default if spec.default in kept else kept[0], choices=kept)
