"""Blocks on 2-D feature maps `[H, W, C]` (images, spectrograms seen as images).

Convolutions use "same" padding so a stack never shrinks a map to nothing;
only strided blocks and pooling halve (or third) the spatial size.
"""

from __future__ import annotations

import keras

from search_algo.blocks._common import (
    activation_arg,
    batch_norm_arg,
    builtin_block,
    channels,
    normalise_activate,
)
from search_algo.blocks.layers import add_channel_axis
from search_algo.blocks.registry import ArgSpec

FILTERS = (8, 16, 32, 64, 128)


def _filters_arg(default=32, choices=FILTERS) -> ArgSpec:
    return ArgSpec(default=default, choices=choices, help="output channels")


def _strides_arg() -> ArgSpec:
    return ArgSpec(default=1, choices=(1, 2), help="stride of the first convolution")


@builtin_block(
    "conv2d",
    input_kinds=("image",),
    output_kind="image",
    args={
        "filters": _filters_arg(),
        "kernel_size": ArgSpec(default=3, choices=(1, 3, 5, 7)),
        "activation": activation_arg(),
        "batch_norm": batch_norm_arg(),
    },
    description="2-D convolution (same padding), optional batch norm.",
)
def conv2d(x, *, filters, kernel_size, activation, batch_norm):
    x = keras.layers.Conv2D(
        filters, kernel_size, padding="same", use_bias=not batch_norm, name="conv"
    )(x)
    return normalise_activate(x, batch_norm=batch_norm, activation=activation)


@builtin_block(
    "downsample_conv2d",
    input_kinds=("image",),
    output_kind="image",
    args={
        "filters": _filters_arg(),
        "kernel_size": ArgSpec(default=3, choices=(3, 5)),
        "activation": activation_arg(),
        "batch_norm": batch_norm_arg(),
    },
    description="Stride-2 2-D convolution: halves height and width.",
)
def downsample_conv2d(x, *, filters, kernel_size, activation, batch_norm):
    x = keras.layers.Conv2D(
        filters, kernel_size, strides=2, padding="same", use_bias=not batch_norm, name="conv"
    )(x)
    return normalise_activate(x, batch_norm=batch_norm, activation=activation)


@builtin_block(
    "separable_conv2d",
    input_kinds=("image",),
    output_kind="image",
    args={
        "filters": _filters_arg(),
        "kernel_size": ArgSpec(default=3, choices=(3, 5)),
        "activation": activation_arg(),
        "batch_norm": batch_norm_arg(),
    },
    description="Depthwise-separable 2-D convolution.",
)
def separable_conv2d(x, *, filters, kernel_size, activation, batch_norm):
    x = keras.layers.SeparableConv2D(
        filters, kernel_size, padding="same", use_bias=not batch_norm, name="conv"
    )(x)
    return normalise_activate(x, batch_norm=batch_norm, activation=activation)


def _shortcut(x, filters, strides, conv_layer):
    """Identity when shapes agree, else a strided 1x1 projection with batch norm."""
    if strides == 1 and channels(x) == filters:
        return x
    shortcut = conv_layer(filters, 1, strides=strides, use_bias=False, name="shortcut")(x)
    return keras.layers.BatchNormalization(name="bn_shortcut")(shortcut)


@builtin_block(
    "resnet_basic2d",
    input_kinds=("image",),
    output_kind="image",
    args={"filters": _filters_arg(), "strides": _strides_arg()},
    description="ResNet basic block: two 3x3 convolutions with batch norm and a skip.",
)
def resnet_basic2d(x, *, filters, strides):
    shortcut = _shortcut(x, filters, strides, keras.layers.Conv2D)
    h = keras.layers.Conv2D(
        filters, 3, strides=strides, padding="same", use_bias=False, name="conv_a"
    )(x)
    h = normalise_activate(h, batch_norm=True, activation="relu", suffix="_a")
    h = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name="conv_b")(h)
    h = normalise_activate(h, batch_norm=True, activation=None, suffix="_b")
    out = keras.layers.Add(name="add")([shortcut, h])
    return keras.layers.Activation("relu", name="act_out")(out)


@builtin_block(
    "resnet_bottleneck2d",
    input_kinds=("image",),
    output_kind="image",
    args={
        "filters": _filters_arg(default=64, choices=(32, 64, 128, 256)),
        "strides": _strides_arg(),
    },
    description="ResNet bottleneck block: 1x1 reduce (filters/4), 3x3, 1x1 expand, skip.",
)
def resnet_bottleneck2d(x, *, filters, strides):
    inner = filters // 4
    shortcut = _shortcut(x, filters, strides, keras.layers.Conv2D)
    h = keras.layers.Conv2D(inner, 1, use_bias=False, name="conv_a")(x)
    h = normalise_activate(h, batch_norm=True, activation="relu", suffix="_a")
    h = keras.layers.Conv2D(
        inner, 3, strides=strides, padding="same", use_bias=False, name="conv_b"
    )(h)
    h = normalise_activate(h, batch_norm=True, activation="relu", suffix="_b")
    h = keras.layers.Conv2D(filters, 1, use_bias=False, name="conv_c")(h)
    h = normalise_activate(h, batch_norm=True, activation=None, suffix="_c")
    out = keras.layers.Add(name="add")([shortcut, h])
    return keras.layers.Activation("relu", name="act_out")(out)


def _pool_args() -> dict:
    return {"pool_size": ArgSpec(default=2, choices=(2, 3), help="window and stride")}


@builtin_block(
    "max_pool2d",
    input_kinds=("image",),
    output_kind="image",
    args=_pool_args(),
    description="2-D max pooling (stride = window).",
)
def max_pool2d(x, *, pool_size):
    return keras.layers.MaxPooling2D(pool_size, padding="same", name="pool")(x)


@builtin_block(
    "avg_pool2d",
    input_kinds=("image",),
    output_kind="image",
    args=_pool_args(),
    description="2-D average pooling (stride = window).",
)
def avg_pool2d(x, *, pool_size):
    return keras.layers.AveragePooling2D(pool_size, padding="same", name="pool")(x)


@builtin_block(
    "image_view",
    input_kinds=("sequence",),
    output_kind="image",
    args={},
    description="Sees a sequence [T, C] as a one-channel image [T, C, 1] (a spectrogram as "
    "time x mel bands), so 2-D convolutions, ResNet blocks and pooling can follow.",
)
def image_view(x):
    return add_channel_axis(x, name="view")
