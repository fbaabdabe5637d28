"""The encoding: JSON round trip, stable ids, validation, mutation helpers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from search_algo.architecture import Architecture, BlockSpec, HeadSpec, Hyperparameters
from search_algo.errors import SearchSpaceError
from search_algo.stack import normalize


def example() -> Architecture:
    return Architecture(
        blocks=(
            BlockSpec("conv1d", {"kernel_size": 3, "filters": 16}),
            BlockSpec("lstm", {"units": 32}),
            BlockSpec("attention_pool"),
        ),
        head=HeadSpec(hidden_units=64),
        hyperparameters=Hyperparameters(learning_rate=3e-3, optimizer="adamw", batch_size=64,
                                        weight_decay=1e-4, dropout=0.1),
    )


def test_json_round_trip_is_lossless():
    arch = example()
    again = Architecture.from_json(arch.to_json())
    assert again == arch
    assert again.to_json() == arch.to_json()
    assert Architecture.from_json(arch.to_json(indent=2)) == arch
    assert Architecture.from_dict(json.loads(json.dumps(arch.to_dict()))) == arch


def test_id_is_stable_across_processes_and_argument_order():
    arch = example()
    reordered = arch.with_blocks(
        [BlockSpec("conv1d", {"filters": 16, "kernel_size": 3}), *arch.blocks[1:]]
    )
    assert reordered.arch_id == arch.arch_id
    code = (
        "import sys; from search_algo.architecture import Architecture; "
        "print(Architecture.from_json(sys.stdin.read()).arch_id)"
    )
    other_process = subprocess.run(
        [sys.executable, "-c", code], input=arch.to_json(), capture_output=True, text=True,
        check=True,
    )
    assert other_process.stdout.strip() == arch.arch_id
    assert len(arch.arch_id) == 16 and int(arch.arch_id, 16) >= 0


def test_id_changes_with_any_part():
    arch = example()
    ids = {
        arch.arch_id,
        arch.with_block_args(0, filters=32).arch_id,
        arch.with_head(hidden_units=0).arch_id,
        arch.with_hyperparameters(learning_rate=1e-3).arch_id,
        arch.remove_block(1).arch_id,
    }
    assert len(ids) == 5
    # The structure id ignores hyperparameters only.
    assert arch.with_hyperparameters(batch_size=32).structure_id == arch.structure_id
    assert arch.with_head(hidden_units=0).structure_id != arch.structure_id


def test_normalize_fills_defaults_so_spellings_share_an_id():
    terse = Architecture((BlockSpec("dense"),))
    explicit = Architecture((BlockSpec("dense", {"units": 64, "activation": "relu"}),))
    assert terse.arch_id != explicit.arch_id
    assert normalize(terse, "tabular").arch_id == normalize(explicit, "tabular").arch_id
    assert normalize(terse, "tabular").blocks[0].args == {
        "activation": "relu", "batch_norm": False, "dropout": 0.0, "units": 64
    }


def test_mutation_helpers_return_new_architectures():
    arch = example()
    inserted = arch.insert_block(1, BlockSpec("conv1d", {"filters": 16}))
    assert [b.name for b in inserted.blocks] == ["conv1d", "conv1d", "lstm", "attention_pool"]
    assert [b.name for b in arch.blocks] == ["conv1d", "lstm", "attention_pool"]
    assert arch.replace_block(1, BlockSpec("gru")).blocks[1].name == "gru"
    assert arch.with_block_args(1, units=64).blocks[1].args == {"units": 64}
    with pytest.raises(IndexError):
        arch.remove_block(5)
    with pytest.raises(Exception):
        arch.blocks = ()  # frozen


def test_block_args_are_copied_not_shared():
    args = {"units": 32}
    block = BlockSpec("lstm", args)
    args["units"] = 64
    assert block.args == {"units": 32}


def test_numpy_scalars_become_plain_json_values():
    import numpy as np

    arch = Architecture(
        (BlockSpec("dense", {"units": np.int64(32), "dropout": np.float32(0.5)}),),
        HeadSpec(hidden_units=np.int64(16)),
        Hyperparameters(learning_rate=np.float32(0.5), batch_size=np.int64(8)),
    )
    assert type(arch.blocks[0].args["units"]) is int
    assert type(arch.hyperparameters.batch_size) is int
    assert Architecture.from_json(arch.to_json()) == arch


def test_shorthand_block_names_are_accepted():
    arch = Architecture.from_dict({"blocks": ["dense", {"name": "dense", "args": {"units": 32}}]})
    assert arch.blocks == (BlockSpec("dense"), BlockSpec("dense", {"units": 32}))
    assert arch.hyperparameters == Hyperparameters()


@pytest.mark.parametrize(
    "data,message",
    [
        ({"blocks": "dense"}, "'blocks' must be a list"),
        ({"blocks": [], "colour": 1}, r"unknown field\(s\) \['colour'\]"),
        ({"blocks": [{"name": "dense", "argz": {}}]}, r"block 'dense': unknown field"),
        ({"blocks": [], "hyperparameters": {"optimizer": "adagrad"}}, "optimizer must be one of"),
        ({"blocks": [], "hyperparameters": {"learning_rate": -1}}, "learning_rate"),
        ({"blocks": [], "hyperparameters": {"batch_size": 0}}, "batch_size"),
        ({"blocks": [], "hyperparameters": {"momentum": 0.9}}, "unknown field"),
        ({"blocks": [], "head": {"hidden_units": -3}}, "hidden_units"),
        ({"blocks": [], "version": 99}, "version 99"),
        ({"blocks": [{"name": "dense", "args": {"units": [1, 2]}}]}, "argument values"),
    ],
)
def test_malformed_encodings_are_rejected_clearly(data, message):
    with pytest.raises(SearchSpaceError, match=message):
        Architecture.from_dict(data)


def test_invalid_json_is_a_search_space_error():
    with pytest.raises(SearchSpaceError, match="JSON is invalid"):
        Architecture.from_json("{not json")


def test_describe_is_readable():
    assert example().describe().startswith("conv1d(filters=16,kernel_size=3) > lstm(units=32)")


def test_lr_schedule_is_encoded_only_when_not_constant():
    arch = Architecture.from_dict({"blocks": [{"name": "dense", "args": {"units": 8}}]})
    assert "lr_schedule" not in arch.to_dict()["hyperparameters"]
    # An id from before the schedule existed: the default spelling keeps it.
    assert Architecture.from_dict({**arch.to_dict(), "hyperparameters": {
        **arch.to_dict()["hyperparameters"], "lr_schedule": "constant"}}).arch_id == arch.arch_id
    cosine = arch.with_hyperparameters(lr_schedule="cosine")
    assert cosine.to_dict()["hyperparameters"]["lr_schedule"] == "cosine"
    assert Architecture.from_json(cosine.to_json()) == cosine
    assert cosine.arch_id != arch.arch_id
    with pytest.raises(SearchSpaceError, match="lr_schedule must be one of"):
        arch.with_hyperparameters(lr_schedule="step")
