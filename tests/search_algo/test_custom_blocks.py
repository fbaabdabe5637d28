"""Custom blocks from a user's module file (examples/custom_blocks.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from search_algo.architecture import Architecture, BlockSpec
from search_algo.blocks import get_block, list_blocks, unregister_block
from search_algo.errors import SearchSpaceError, UserError
from search_algo.model_builder import build_block, build_model
from search_algo.module_file import load_module_file, module_name_for
from search_algo.search_space import SearchSpace
from search_algo.testing import random_batch, sequence_spec
from search_algo.weight_transfer import transfer_weights


def test_example_module_registers_its_blocks(custom_blocks_module):
    se = get_block("se_conv1d")
    assert not se.builtin and se.source.endswith("examples/custom_blocks.py")
    assert se.input_kinds == ("sequence",) and se.output_kind == "sequence"
    assert se.args["ratio"].choices == (2, 4, 8)
    gated = get_block("gated_dense")
    assert gated.description.startswith("Gated linear unit")
    names = [b.name for b in list_blocks()]
    assert names.index("se_conv1d") > names.index("transformer_encoder")  # built-ins first


def test_loading_twice_is_idempotent(custom_blocks_module):
    count = len(list_blocks())
    again = load_module_file(custom_blocks_module.__file__)
    assert again is custom_blocks_module
    assert len(list_blocks()) == count
    assert custom_blocks_module.__name__ == module_name_for(custom_blocks_module.__file__)


@pytest.mark.slow
def test_custom_blocks_build_and_train_on_mnist1d_like_input(custom_blocks_module):
    spec = sequence_spec(steps=40, channels=1)  # mnist1d's [40, 1]
    se = build_block(BlockSpec("se_conv1d"), (40, 1), index=0)
    # conv 5x1x32 + 32, squeeze 32 -> 8 (+8), excite 8 -> 32 (+32)
    assert se.count_params() == (5 * 32 + 32) + (32 * 8 + 8) + (8 * 32 + 32)
    gated = build_block(BlockSpec("gated_dense", {"units": 32}), (16,), index=1)
    assert gated.count_params() == 2 * (16 * 32 + 32)

    arch = Architecture((
        BlockSpec("se_conv1d", {"filters": 16, "ratio": 4}),
        BlockSpec("gated_dense", {"units": 32}),  # global average pooling is inserted
    ))
    model = build_model(arch, spec)
    assert model.get_layer("c01_to_flat")
    assert "b00_se_conv1d/expand/kernel" in {w.path for w in model.weights}
    features, labels = random_batch(spec)
    loss, _ = model.train_on_batch(features, labels)
    assert np.isfinite(loss)

    child = arch.with_hyperparameters(learning_rate=1e-4)
    child_model = build_model(child, spec, seed=5)
    report = transfer_weights(model, arch, child_model, child)
    assert report.transferred_blocks == ["b00_se_conv1d", "b01_gated_dense"]


def test_custom_blocks_can_be_searched(custom_blocks_module):
    space = SearchSpace.from_dict(
        {"blocks": ["se_conv1d", "gated_dense"], "block_args": {"se_conv1d": {"ratio": [2]}}},
        input_kind="sequence",
    )
    arch = space.sample(np.random.default_rng(0))
    assert {b.name for b in arch.blocks} <= {"se_conv1d", "gated_dense"}
    assert all(b.args["ratio"] == 2 for b in arch.blocks if b.name == "se_conv1d")


def write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_missing_module_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_module_file(tmp_path / "nope.py")


def test_failed_import_registers_nothing(tmp_path):
    path = write(tmp_path, "broken.py", """
        from search_algo.blocks import register_block

        @register_block("half_registered", input_kinds="flat", output_kind="flat")
        def half_registered(x):
            return x

        1 / 0
    """)
    with pytest.raises(UserError, match=r"broken.py' failed to import: ZeroDivisionError"):
        load_module_file(path)
    assert "half_registered" not in {b.name for b in list_blocks()}
    assert module_name_for(path) not in sys.modules


def test_name_clash_with_a_builtin(tmp_path):
    path = write(tmp_path, "clash.py", """
        from search_algo.blocks import register_block

        @register_block("lstm", input_kinds="sequence", output_kind="sequence")
        def my_lstm(x):
            return x
    """)
    with pytest.raises(SearchSpaceError, match="block 'lstm' clashes with a built-in block"):
        load_module_file(path)
    assert get_block("lstm").builtin


@pytest.mark.slow
def test_name_clash_with_a_builtin_in_a_fresh_process(tmp_path):
    # The user's file runs before anything has loaded the built-ins: they must still win.
    path = write(tmp_path, "first.py", """
        from search_algo.blocks import register_block

        @register_block("dense", input_kinds="flat", output_kind="flat")
        def dense(x):
            return x
    """)
    code = (
        "import runpy\n"
        "from search_algo.errors import SearchSpaceError\n"
        "try:\n"
        f"    runpy.run_path({str(path)!r})\n"
        "except SearchSpaceError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert "block 'dense' clashes with a built-in block" in result.stdout


def test_name_clash_between_two_module_files(tmp_path):
    body = """
        from search_algo.blocks import register_block

        @register_block("twice", input_kinds="flat", output_kind="flat")
        def twice(x):
            return x
    """
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    load_module_file(write(tmp_path / "a", "blocks.py", body))
    try:
        with pytest.raises(SearchSpaceError, match="block 'twice' is already registered"):
            load_module_file(write(tmp_path / "b", "blocks.py", body))
    finally:
        unregister_block("twice")


@pytest.mark.parametrize(
    "decorator,message",
    [
        ('"bad", input_kinds=("video",), output_kind="flat"', "input_kinds must be"),
        ('"bad", input_kinds="flat", output_kind="table"', "output_kind must be"),
        ('"bad name", input_kinds="flat", output_kind="flat"', "must start with a letter"),
        ('"bad", input_kinds="flat", output_kind="flat", args={"k": {"default": 9, '
         '"choices": [1, 2]}}', "bad argument spec"),
        ('"bad", input_kinds="flat", output_kind="flat", args={"name": {"default": 1, '
         '"choices": [1]}}', "other than 'name'"),
    ],
)
def test_bad_block_declarations(tmp_path, decorator, message):
    path = write(tmp_path, "bad.py", f"""
        from search_algo.blocks import register_block

        @register_block({decorator})
        def bad(x):
            return x
    """)
    with pytest.raises(SearchSpaceError, match=message):
        load_module_file(path)


def test_block_returning_the_wrong_kind_is_caught(tmp_path):
    path = write(tmp_path, "liar.py", """
        import keras
        from search_algo.blocks import register_block

        @register_block("liar", input_kinds="sequence", output_kind="flat")
        def liar(x):
            return keras.layers.Conv1D(4, 3, name="conv")(x)
    """)
    load_module_file(path)
    try:
        with pytest.raises(SearchSpaceError, match="block 0 'liar' declares output kind 'flat'"):
            build_model(Architecture((BlockSpec("liar"),)), sequence_spec())
    finally:
        unregister_block("liar")
