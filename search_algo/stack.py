"""Checking a block stack and placing connectors where tensor kinds change.

Connector rules (the kind a block receives must be one it accepts; when it is
not, the first applicable rule in this order is used):

1. ``image -> sequence``: the rows become time steps, ``[H, W, C] -> [H, W*C]``
   (e.g. an LSTM reading an image row by row).
2. ``sequence -> image``: a channel axis is added, ``[T, C] -> [T, C, 1]`` (a
   spectrogram or any sequence seen as a one-channel image).
3. ``image -> flat`` and ``sequence -> flat``: ``to_flat`` - flattening when
   the map is small (at most 2048 values, e.g. an 8x8 digit or a 40-step
   signal, where pooling would throw away where things are), global average
   pooling otherwise.
4. ``flat -> image`` / ``flat -> sequence``: impossible - a vector has lost its
   spatial or time axis - and the architecture is rejected with an error
   naming the block (e.g. a 2-D convolution after ``flatten``).

Rules 1 and 2 keep more structure than pooling, so they are preferred when a
block accepts both a map kind and ``flat``. The head always needs ``flat``, so
a stack ending in a map goes through rule 3 too. To reduce a map differently, place
``flatten``, ``global_max_pool`` or ``attention_pool`` explicitly.

Dataset input kinds map to tensor kinds as ``tabular -> flat``,
``image -> image``, ``sequence -> sequence``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from search_algo.architecture import Architecture, BlockSpec
from search_algo.blocks.registry import BlockDef, get_block
from search_algo.errors import SearchSpaceError

INPUT_TO_TENSOR_KIND = {"tabular": "flat", "image": "image", "sequence": "sequence"}

# (from kind, to kind) -> connector name, in order of preference per from-kind.
CONNECTORS: dict[tuple[str, str], str] = {
    ("image", "sequence"): "rows_to_steps",
    ("sequence", "image"): "add_channel",
    ("image", "flat"): "to_flat",
    ("sequence", "flat"): "to_flat",
}

_KIND_WORDS = {
    "image": "a 2-D feature map",
    "sequence": "a 1-D sequence",
    "flat": "a flat vector",
}


@dataclasses.dataclass(frozen=True)
class PlannedBlock:
    """One block placed in a stack: where it is, what it receives and gives."""

    index: int
    spec: BlockSpec
    definition: BlockDef
    args: dict[str, Any]  # resolved: defaults filled, values checked
    connector: str | None  # inserted before the block, if any
    input_kind: str  # after the connector
    output_kind: str

    @property
    def layer_name(self) -> str:
        return block_layer_name(self.index, self.spec.name)


@dataclasses.dataclass(frozen=True)
class StackPlan:
    input_kind: str  # the dataset's input kind
    blocks: tuple[PlannedBlock, ...]
    head_connector: str | None


def block_layer_name(index: int, name: str) -> str:
    """`b02_resnet1d`: the sub-model holding block `index`'s layers."""
    return f"b{index:02d}_{name}"


def connector_for(from_kind: str, accepted: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(connector, resulting kind) to feed `from_kind` into a block accepting
    `accepted`; (None, from_kind) if no connector is needed, (None, None) if
    impossible."""
    if from_kind in accepted:
        return None, from_kind
    for (source, target), connector in CONNECTORS.items():
        if source == from_kind and target in accepted:
            return connector, target
    return None, None


def tensor_kind_of(input_kind: str) -> str:
    try:
        return INPUT_TO_TENSOR_KIND[input_kind]
    except KeyError:
        raise SearchSpaceError(
            f"input kind must be one of {sorted(INPUT_TO_TENSOR_KIND)}, got {input_kind!r}"
        ) from None


def plan_stack(architecture: Architecture, input_kind: str) -> StackPlan:
    """Validates `architecture` for data of `input_kind` and places connectors.

    Raises SearchSpaceError naming the block (and its position) for an unknown
    block, a bad argument, or a kind no connector can produce.
    """
    kind = tensor_kind_of(input_kind)
    planned = []
    previous = f"the {input_kind} input"
    for index, spec in enumerate(architecture.blocks):
        where = f"block {index} '{spec.name}'"
        definition = get_block(spec.name, where=where)
        args = definition.resolve_args(spec.args, where)
        connector, block_kind = connector_for(kind, definition.input_kinds)
        if block_kind is None:
            wanted = " or ".join(_KIND_WORDS[k] for k in definition.input_kinds)
            raise SearchSpaceError(
                f"{where} needs {wanted} but follows {previous}, which gives "
                f"{_KIND_WORDS[kind]}; nothing can turn {_KIND_WORDS[kind]} back into "
                f"{wanted}"
            )
        output_kind = definition.output_kind_for(block_kind)
        planned.append(
            PlannedBlock(index, spec, definition, args, connector, block_kind, output_kind)
        )
        kind = output_kind
        previous = f"block {index} '{spec.name}'"
    head_connector, _ = connector_for(kind, ("flat",))
    return StackPlan(input_kind, tuple(planned), head_connector)


def validate(architecture: Architecture, input_kind: str) -> None:
    """Raises SearchSpaceError if `architecture` cannot be built for `input_kind`."""
    plan_stack(architecture, input_kind)


def normalize(architecture: Architecture, input_kind: str) -> Architecture:
    """The same architecture with every default block argument written out,
    so that equal models have equal ids. Validates as a side effect."""
    plan = plan_stack(architecture, input_kind)
    return architecture.with_blocks(BlockSpec(p.spec.name, p.args) for p in plan.blocks)
