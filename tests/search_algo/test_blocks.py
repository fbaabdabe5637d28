"""Every built-in block, on every input kind it accepts: output shape and size."""

from __future__ import annotations

import numpy as np
import pytest

from search_algo.architecture import BlockSpec
from search_algo.blocks import get_block, list_blocks
from search_algo.model_builder import build_block

FLAT, SEQ, IMG = (6,), (10, 3), (8, 8, 3)


def bn(channels):  # gamma, beta, moving mean, moving variance
    return 4 * channels


def mha(width, heads, key_dim):  # q, k, v projections (+bias) and the output projection
    return 4 * width * heads * key_dim + 3 * heads * key_dim + width


# (block, args, input shape, expected output shape, expected parameter count)
CASES = [
    ("dense", {"units": 16}, FLAT, (16,), 6 * 16 + 16),
    ("dense", {"units": 16, "batch_norm": True, "dropout": 0.2}, FLAT, (16,), 6 * 16 + bn(16)),
    ("residual_dense", {"units": 16}, FLAT, (16,), 6 * 16 + (6 * 16 + 16) + (16 * 16 + 16)),
    ("residual_dense", {"units": 16, "batch_norm": True}, (16,), (16,),
     2 * 16 * 16 + 2 * bn(16)),
    ("bottleneck_dense", {"units": 16, "rank": 4}, FLAT, (16,), 6 * 4 + 4 * 16 + 16),
    ("conv2d", {"filters": 8, "kernel_size": 3}, IMG, (8, 8, 8), 3 * 3 * 3 * 8 + 8),
    ("conv2d", {"filters": 8, "kernel_size": 1, "batch_norm": True}, IMG, (8, 8, 8),
     3 * 8 + bn(8)),
    ("downsample_conv2d", {"filters": 8}, IMG, (4, 4, 8), 3 * 3 * 3 * 8 + 8),
    ("separable_conv2d", {"filters": 8}, IMG, (8, 8, 8), 3 * 3 * 3 + 3 * 8 + 8),
    ("resnet_basic2d", {"filters": 8, "strides": 2}, IMG, (4, 4, 8),
     (3 * 8 + bn(8)) + (9 * 3 * 8 + bn(8)) + (9 * 8 * 8 + bn(8))),
    # Same channels and stride 1: an identity shortcut, no projection.
    ("resnet_basic2d", {"filters": 8}, (4, 4, 8), (4, 4, 8), 2 * (9 * 8 * 8 + bn(8))),
    ("resnet_bottleneck2d", {"filters": 32}, IMG, (8, 8, 32),
     (3 * 32 + bn(32)) + (3 * 8 + bn(8)) + (9 * 8 * 8 + bn(8)) + (8 * 32 + bn(32))),
    ("max_pool2d", {"pool_size": 2}, IMG, (4, 4, 3), 0),
    ("avg_pool2d", {"pool_size": 3}, IMG, (3, 3, 3), 0),
    ("conv1d", {"filters": 8, "kernel_size": 5}, SEQ, (10, 8), 5 * 3 * 8 + 8),
    ("conv1d", {"filters": 8, "kernel_size": 3, "strides": 2}, SEQ, (5, 8), 3 * 3 * 8 + 8),
    ("tcn", {"filters": 8, "kernel_size": 3, "levels": 2}, SEQ, (10, 8),
     (3 * 8 + 8) + (3 * 3 * 8 + 8) + (3 * 8 * 8 + 8) + 2 * (3 * 8 * 8 + 8)),
    ("resnet1d", {"filters": 8, "kernel_size": 3}, SEQ, (10, 8),
     (3 * 8 + bn(8)) + (3 * 3 * 8 + bn(8)) + (3 * 8 * 8 + bn(8))),
    ("resnet1d", {"filters": 8, "kernel_size": 3, "strides": 2}, SEQ, (5, 8),
     (3 * 8 + bn(8)) + (3 * 3 * 8 + bn(8)) + (3 * 8 * 8 + bn(8))),
    ("lstm", {"units": 16}, SEQ, (10, 16), 4 * (3 * 16 + 16 * 16 + 16)),
    ("bilstm", {"units": 16}, SEQ, (10, 32), 2 * 4 * (3 * 16 + 16 * 16 + 16)),
    # Keras' GRU keeps separate input and recurrent biases (reset_after=True).
    ("gru", {"units": 16}, SEQ, (10, 16), 3 * (3 * 16 + 16 * 16) + 2 * 3 * 16),
    ("transformer_encoder",
     {"num_heads": 2, "key_dim": 8, "ff_dim": 32, "model_dim": 16}, SEQ, (10, 16),
     (3 * 16 + 16) + 10 * 16 + 2 * 16 + mha(16, 2, 8) + 2 * 16 + (16 * 32 + 32)
     + (32 * 16 + 16)),
    ("transformer_encoder",
     {"num_heads": 1, "key_dim": 8, "ff_dim": 32, "model_dim": 0,
      "positional_embedding": False}, SEQ, (10, 3),
     2 * 3 + mha(3, 1, 8) + 2 * 3 + (3 * 32 + 32) + (32 * 3 + 3)),
    ("attention_pool", {}, SEQ, (3,), 3 + 1),
    ("flatten", {}, SEQ, (30,), 0),
    ("flatten", {}, IMG, (192,), 0),
    ("global_avg_pool", {}, SEQ, (3,), 0),
    ("global_avg_pool", {}, IMG, (3,), 0),
    ("global_max_pool", {}, SEQ, (3,), 0),
    ("global_max_pool", {}, IMG, (3,), 0),
    ("statistics_pooling", {}, SEQ, (6,), bn(6)),
    ("statistics_pooling", {"batch_norm": False}, SEQ, (6,), 0),
    ("image_view", {}, SEQ, (10, 3, 1), 0),
]

KIND_OF_SHAPE = {1: "flat", 2: "sequence", 3: "image"}


@pytest.mark.parametrize(
    "name,args,input_shape,output_shape,params",
    CASES,
    ids=[f"{c[0]}-{KIND_OF_SHAPE[len(c[2])]}-{i}" for i, c in enumerate(CASES)],
)
def test_block_output_shape_and_parameter_count(name, args, input_shape, output_shape, params):
    block = build_block(BlockSpec(name, args), input_shape, index=3)
    batch = np.random.default_rng(0).random((2, *input_shape)).astype("float32")
    output = np.asarray(block(batch, training=False))
    assert output.shape == (2, *output_shape)
    assert np.all(np.isfinite(output))
    assert block.count_params() == params
    # The block's layers account for all of it: nothing hides outside them.
    assert sum(layer.count_params() for layer in block.layers) == params
    # Every weight lives under the block's stable name.
    assert block.name == f"b03_{name}"
    assert all(w.path.startswith(f"b03_{name}/") for w in block.weights)


def test_every_builtin_block_is_covered_on_every_input_kind():
    covered = {(name, KIND_OF_SHAPE[len(shape)]) for name, _, shape, _, _ in CASES}
    wanted = {
        (block.name, kind)
        for block in list_blocks()
        if block.builtin
        for kind in block.input_kinds
    }
    assert wanted - covered == set()


def test_sub_layers_have_stable_names():
    block = build_block(BlockSpec("resnet1d", {"filters": 8}), SEQ, index=2)
    assert block.name == "b02_resnet1d"
    assert {"conv_a", "bn_a", "conv_b", "bn_b", "shortcut", "add"} <= {
        layer.name for layer in block.layers
    }
    assert "b02_resnet1d/conv_a/kernel" in {w.path for w in block.weights}


def test_defaults_are_allowed_values():
    for block in list_blocks():
        for arg_name, spec in block.args.items():
            assert spec.check(spec.default) is None, (block.name, arg_name)


def test_block_on_a_kind_it_does_not_accept_is_refused():
    from search_algo.errors import SearchSpaceError

    with pytest.raises(SearchSpaceError, match="block 0 'conv2d'"):
        build_block(BlockSpec("conv2d"), SEQ)


def test_registry_describes_blocks():
    described = get_block("transformer_encoder").describe()
    assert described["input_kinds"] == ["sequence"]
    assert described["output_kind"] == "sequence"
    assert described["args"]["num_heads"] == {"default": 2, "choices": [1, 2, 4]}


def test_statistics_pooling_is_each_channels_mean_then_standard_deviation():
    rng = np.random.default_rng(0)
    frames = rng.normal(3.0, 2.0, (2, 50, 4)).astype("float32")
    frames[1, :, 2] = 7.0  # a channel constant over time: std 0, no NaN
    block = build_block(BlockSpec("statistics_pooling", {"batch_norm": False}), (50, 4))
    pooled = np.asarray(block(frames))
    np.testing.assert_allclose(pooled[:, :4], frames.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(pooled[:, 4:], np.sqrt(frames.var(axis=1) + 1e-5), rtol=1e-4)
    assert pooled[1, 6] == pytest.approx(np.sqrt(1e-5))


def test_statistics_pooling_has_a_finite_gradient_on_a_constant_channel():
    import tensorflow as tf

    block = build_block(BlockSpec("statistics_pooling", {"batch_norm": False}), (20, 2))
    frames = tf.constant(np.ones((1, 20, 2), dtype="float32"))
    with tf.GradientTape() as tape:
        tape.watch(frames)
        total = tf.reduce_sum(block(frames))
    assert np.all(np.isfinite(tape.gradient(total, frames).numpy()))


def test_image_view_keeps_every_value_in_place():
    frames = np.arange(2 * 10 * 3, dtype="float32").reshape(2, 10, 3)
    image = np.asarray(build_block(BlockSpec("image_view"), (10, 3))(frames))
    np.testing.assert_array_equal(image[..., 0], frames)
