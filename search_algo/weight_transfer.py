"""Weight sharing: a child candidate starts from its parent's trained weights.

Blocks are matched by identity - same block name, same (default-filled)
arguments and same input shape - and aligned in stack order with a longest
common subsequence. So the unchanged prefix always transfers, and after a block
was inserted, removed or changed, later blocks still transfer wherever their
input shape is unchanged (e.g. the blocks after an inserted shape-preserving
block). Each matched block's weights, including batch-norm statistics, are
copied whole; weight shapes are checked before anything is copied.

The input adapter's layers (embeddings) are copied by name when their shapes
agree. The head is copied only when every block matched in order, i.e. the
child computes the same features as the parent (a hyperparameter-only or
head-dropout change). Everything else keeps the child's fresh initialisation.
Optimizer state is not transferred.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import keras

from search_algo.architecture import Architecture, BlockSpec
from search_algo.blocks.registry import get_block
from search_algo.model_builder import block_layers
from search_algo.stack import block_layer_name

HEAD_LAYERS = ("head_hidden", "head_logits", "head_output")


@dataclasses.dataclass(frozen=True)
class BlockTransfer:
    child_index: int
    parent_index: int
    layer: str  # the child's block sub-model, e.g. b03_lstm
    parent_layer: str
    weights_copied: int  # scalars copied (0 for weight-less blocks such as pooling)


@dataclasses.dataclass
class TransferReport:
    parent_arch_id: str = ""
    child_arch_id: str = ""
    transferred: list[BlockTransfer] = dataclasses.field(default_factory=list)
    fresh: list[str] = dataclasses.field(default_factory=list)  # child block layers
    adapter_layers: list[str] = dataclasses.field(default_factory=list)
    head_layers: list[str] = dataclasses.field(default_factory=list)

    @property
    def transferred_blocks(self) -> list[str]:
        return [t.layer for t in self.transferred]

    @property
    def weights_copied(self) -> int:
        return sum(t.weights_copied for t in self.transferred)

    def to_dict(self) -> dict[str, Any]:
        return {
            "parent_arch_id": self.parent_arch_id,
            "child_arch_id": self.child_arch_id,
            "transferred": [dataclasses.asdict(t) for t in self.transferred],
            "fresh": list(self.fresh),
            "adapter_layers": list(self.adapter_layers),
            "head_layers": list(self.head_layers),
        }


def transfer_weights(
    parent_model: keras.Model,
    parent_arch: Architecture,
    child_model: keras.Model,
    child_arch: Architecture,
) -> TransferReport:
    """Copies the parent's weights into every matching part of the child."""
    parent_keys = _block_keys(parent_model, parent_arch)
    child_keys = _block_keys(child_model, child_arch)
    report = TransferReport(parent_arch_id=parent_arch.arch_id, child_arch_id=child_arch.arch_id)
    matched_children = set()
    for parent_index, child_index in _longest_common_subsequence(parent_keys, child_keys):
        parent_layer = parent_model.get_layer(
            block_layer_name(parent_index, parent_arch.blocks[parent_index].name)
        )
        child_layer = child_model.get_layer(
            block_layer_name(child_index, child_arch.blocks[child_index].name)
        )
        if not _copy_weights(parent_layer, child_layer):
            continue
        matched_children.add(child_index)
        report.transferred.append(
            BlockTransfer(
                child_index=child_index,
                parent_index=parent_index,
                layer=child_layer.name,
                parent_layer=parent_layer.name,
                weights_copied=_scalars(child_layer),
            )
        )
    report.fresh = [
        block_layer_name(i, spec.name)
        for i, spec in enumerate(child_arch.blocks)
        if i not in matched_children
    ]

    parent_layers = {layer.name: layer for layer in parent_model.layers}
    for layer in child_model.layers:
        if layer.name.startswith("adapter_") and layer.weights:
            source = parent_layers.get(layer.name)
            if source is not None and _copy_weights(source, layer):
                report.adapter_layers.append(layer.name)

    same_features = len(matched_children) == len(child_keys) == len(parent_keys) and all(
        t.child_index == t.parent_index for t in report.transferred
    )
    if same_features:
        head_pairs = [
            (parent_layers.get(name), _get_layer(child_model, name)) for name in HEAD_LAYERS
        ]
        head_pairs = [(p, c) for p, c in head_pairs if c is not None]
        # All or nothing: half a head would mix trained and random layers.
        if all(p is not None and _same_shapes(p, c) for p, c in head_pairs):
            for parent_layer, child_layer in head_pairs:
                _copy_weights(parent_layer, child_layer)
                report.head_layers.append(child_layer.name)
    return report


def _block_keys(model: keras.Model, architecture: Architecture) -> list[str]:
    """One key per block: name, default-filled arguments and input shape."""
    layers = block_layers(model)
    keys = []
    for index, spec in enumerate(architecture.blocks):
        name = block_layer_name(index, spec.name)
        if name not in layers:
            raise ValueError(
                f"model {model.name!r} has no block layer {name!r}; was it built from this "
                "architecture?"
            )
        keys.append(_block_key(index, spec, layers[name]))
    return keys


def _block_key(index: int, spec: BlockSpec, layer: keras.Model) -> str:
    definition = get_block(spec.name, where=f"block {index} '{spec.name}'")
    args = definition.resolve_args(spec.args, f"block {index} '{spec.name}'")
    input_shape = list(layer.inputs[0].shape[1:])
    return json.dumps([spec.name, args, input_shape], sort_keys=True)


def _longest_common_subsequence(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """Index pairs (i, j) with a[i] == b[j], in order, as many as possible.

    Ties go to the earliest pairing, so the result is deterministic and the
    unchanged prefix is always part of it.
    """
    rows, cols = len(a), len(b)
    # suffix[i][j] = LCS length of a[i:] and b[j:]
    suffix = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            if a[i] == b[j]:
                suffix[i][j] = suffix[i + 1][j + 1] + 1
            else:
                suffix[i][j] = max(suffix[i + 1][j], suffix[i][j + 1])
    pairs = []
    i = j = 0
    while i < rows and j < cols:
        if a[i] == b[j]:
            pairs.append((i, j))
            i += 1
            j += 1
        elif suffix[i + 1][j] >= suffix[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _get_layer(model: keras.Model, name: str):
    try:
        return model.get_layer(name)
    except ValueError:
        return None


def _same_shapes(source, target) -> bool:
    return [tuple(w.shape) for w in source.weights] == [tuple(w.shape) for w in target.weights]


def _copy_weights(source, target) -> bool:
    if not _same_shapes(source, target):
        return False
    target.set_weights(source.get_weights())
    return True


def _scalars(layer) -> int:
    total = 0
    for weight in layer.weights:
        size = 1
        for dim in weight.shape:
            size *= int(dim)
        total += size
    return total
