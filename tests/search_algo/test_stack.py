"""Stack validation and the connector rules."""

from __future__ import annotations

import pytest

from search_algo.architecture import Architecture, BlockSpec
from search_algo.errors import SearchSpaceError
from search_algo.stack import plan_stack, validate


def arch(*names, **args_by_index) -> Architecture:
    return Architecture(tuple(BlockSpec(n, args_by_index.get(f"b{i}", {}))
                              for i, n in enumerate(names)))


def connectors(architecture, input_kind):
    plan = plan_stack(architecture, input_kind)
    return [(p.connector, p.input_kind, p.output_kind) for p in plan.blocks], plan.head_connector


def test_dense_after_conv_gets_global_average_pooling():
    placed, head = connectors(arch("conv2d", "dense"), "image")
    assert placed == [(None, "image", "image"), ("to_flat", "flat", "flat")]
    assert head is None


def test_stack_ending_in_a_map_is_pooled_before_the_head():
    _, head = connectors(arch("conv1d"), "sequence")
    assert head == "to_flat"


def test_sequence_block_on_image_reads_rows_as_steps():
    placed, _ = connectors(arch("lstm"), "image")
    assert placed == [("rows_to_steps", "sequence", "sequence")]


def test_image_block_on_sequence_adds_a_channel_axis():
    placed, _ = connectors(arch("conv2d"), "sequence")
    assert placed == [("add_channel", "image", "image")]


def test_explicit_reductions_need_no_connector():
    placed, head = connectors(arch("lstm", "attention_pool", "dense"), "sequence")
    assert [p[0] for p in placed] == [None, None, None]
    assert head is None


def test_conv_after_flatten_is_impossible_and_names_the_block():
    with pytest.raises(SearchSpaceError) as error:
        validate(arch("conv2d", "flatten", "conv2d"), "image")
    message = str(error.value)
    assert "block 2 'conv2d'" in message
    assert "block 1 'flatten'" in message
    assert "flat vector" in message
    assert "\n" not in message


def test_architecture_validate_shortcut():
    good = arch("conv1d", "dense")
    assert good.validate("sequence") is good
    with pytest.raises(SearchSpaceError, match="block 1 'conv1d'"):
        arch("dense", "conv1d").validate("sequence")


def test_image_block_on_tabular_input_is_impossible():
    with pytest.raises(
        SearchSpaceError, match="block 0 'conv1d' needs a 1-D sequence but follows the tabular input"
    ):
        validate(arch("conv1d"), "tabular")


def test_unknown_block_is_named_with_its_position():
    with pytest.raises(SearchSpaceError, match=r"block 1 'resnet9000': unknown block 'resnet9000'"):
        validate(arch("dense", "resnet9000"), "tabular")


@pytest.mark.parametrize(
    "args,message",
    [
        ({"units": 7}, r"block 0 'dense': argument 'units' must be one of"),
        ({"units": "64"}, r"argument 'units' must be one of"),
        ({"batch_norm": 1}, r"argument 'batch_norm' must be one of \[False, True\]"),
        ({"width": 64}, r"block 0 'dense': unknown argument\(s\) \['width'\]"),
    ],
)
def test_bad_block_arguments_are_named(args, message):
    with pytest.raises(SearchSpaceError, match=message):
        validate(Architecture((BlockSpec("dense", args),)), "tabular")


def test_unknown_input_kind():
    with pytest.raises(SearchSpaceError, match="input kind"):
        validate(arch("dense"), "video")


def test_empty_stack_is_valid():
    # Input adapter straight into the head: the smallest possible candidate.
    plan = plan_stack(Architecture(()), "image")
    assert plan.blocks == () and plan.head_connector == "to_flat"
