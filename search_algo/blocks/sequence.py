"""Blocks on 1-D feature maps `[T, C]` (time series, audio spectrogram frames)."""

from __future__ import annotations

import keras

from search_algo.blocks._common import (
    activation_arg,
    batch_norm_arg,
    builtin_block,
    channels,
    maybe_dropout,
    normalise_activate,
)
from search_algo.blocks.layers import PositionalEmbedding
from search_algo.blocks.registry import ArgSpec

FILTERS = (8, 16, 32, 64, 128)
RNN_UNITS = (16, 32, 64, 128)


def _filters_arg(default=32) -> ArgSpec:
    return ArgSpec(default=default, choices=FILTERS, help="output channels")


@builtin_block(
    "conv1d",
    input_kinds=("sequence",),
    output_kind="sequence",
    args={
        "filters": _filters_arg(),
        "kernel_size": ArgSpec(default=5, choices=(3, 5, 7, 9)),
        "strides": ArgSpec(default=1, choices=(1, 2)),
        "activation": activation_arg(),
        "batch_norm": batch_norm_arg(),
    },
    description="1-D convolution (same padding), optional stride 2 and batch norm.",
)
def conv1d(x, *, filters, kernel_size, strides, activation, batch_norm):
    x = keras.layers.Conv1D(
        filters, kernel_size, strides=strides, padding="same", use_bias=not batch_norm,
        name="conv",
    )(x)
    return normalise_activate(x, batch_norm=batch_norm, activation=activation)


@builtin_block(
    "tcn",
    input_kinds=("sequence",),
    output_kind="sequence",
    args={
        "filters": _filters_arg(),
        "kernel_size": ArgSpec(default=3, choices=(2, 3, 5)),
        "levels": ArgSpec(default=3, choices=(2, 3, 4), help="dilations 1, 2, 4, ..."),
        "dropout": ArgSpec(default=0.0, choices=(0.0, 0.1, 0.2)),
    },
    description="Temporal convolutional network: residual levels of dilated causal 1-D "
    "convolutions, dilation doubling per level.",
)
def tcn(x, *, filters, kernel_size, levels, dropout):
    for level in range(levels):
        dilation = 2**level
        shortcut = x
        if channels(x) != filters:
            shortcut = keras.layers.Conv1D(filters, 1, name=f"l{level}_shortcut")(x)
        h = x
        for part in ("a", "b"):
            h = keras.layers.Conv1D(
                filters, kernel_size, padding="causal", dilation_rate=dilation,
                name=f"l{level}_conv_{part}",
            )(h)
            h = keras.layers.Activation("relu", name=f"l{level}_act_{part}")(h)
            h = maybe_dropout(h, dropout, suffix=f"_l{level}{part}")
        x = keras.layers.Add(name=f"l{level}_add")([shortcut, h])
        x = keras.layers.Activation("relu", name=f"l{level}_act_out")(x)
    return x


@builtin_block(
    "resnet1d",
    input_kinds=("sequence",),
    output_kind="sequence",
    args={
        "filters": _filters_arg(),
        "kernel_size": ArgSpec(default=5, choices=(3, 5, 7)),
        "strides": ArgSpec(default=1, choices=(1, 2)),
    },
    description="1-D ResNet block: two convolutions with batch norm and a skip.",
)
def resnet1d(x, *, filters, kernel_size, strides):
    shortcut = x
    if strides != 1 or channels(x) != filters:
        shortcut = keras.layers.Conv1D(
            filters, 1, strides=strides, use_bias=False, name="shortcut"
        )(x)
        shortcut = keras.layers.BatchNormalization(name="bn_shortcut")(shortcut)
    h = keras.layers.Conv1D(
        filters, kernel_size, strides=strides, padding="same", use_bias=False, name="conv_a"
    )(x)
    h = normalise_activate(h, batch_norm=True, activation="relu", suffix="_a")
    h = keras.layers.Conv1D(filters, kernel_size, padding="same", use_bias=False, name="conv_b")(h)
    h = normalise_activate(h, batch_norm=True, activation=None, suffix="_b")
    out = keras.layers.Add(name="add")([shortcut, h])
    return keras.layers.Activation("relu", name="act_out")(out)


def _units_arg() -> ArgSpec:
    return ArgSpec(default=32, choices=RNN_UNITS, help="hidden units (per direction)")


# Recurrent blocks return the whole sequence: the kind stays `sequence`, so a
# following block or the head pools it (see the connector rules), and an
# `attention_pool` block can weigh the steps instead of averaging them.
@builtin_block(
    "lstm",
    input_kinds=("sequence",),
    output_kind="sequence",
    args={"units": _units_arg()},
    description="LSTM returning every step.",
)
def lstm(x, *, units):
    return keras.layers.LSTM(units, return_sequences=True, name="lstm")(x)


@builtin_block(
    "bilstm",
    input_kinds=("sequence",),
    output_kind="sequence",
    args={"units": _units_arg()},
    description="Bidirectional LSTM returning every step (2 x units channels).",
)
def bilstm(x, *, units):
    return keras.layers.Bidirectional(
        keras.layers.LSTM(units, return_sequences=True, name="lstm"), name="bilstm"
    )(x)


@builtin_block(
    "gru",
    input_kinds=("sequence",),
    output_kind="sequence",
    args={"units": _units_arg()},
    description="GRU returning every step.",
)
def gru(x, *, units):
    return keras.layers.GRU(units, return_sequences=True, name="gru")(x)


@builtin_block(
    "transformer_encoder",
    input_kinds=("sequence",),
    output_kind="sequence",
    args={
        "num_heads": ArgSpec(default=2, choices=(1, 2, 4)),
        "key_dim": ArgSpec(default=16, choices=(8, 16, 32, 64)),
        "ff_dim": ArgSpec(default=64, choices=(32, 64, 128, 256)),
        "model_dim": ArgSpec(
            default=0, choices=(0, 16, 32, 64, 128),
            help="project the input to this width first; 0 keeps the input width",
        ),
        "positional_embedding": ArgSpec(default=True, choices=(False, True)),
        "dropout": ArgSpec(default=0.0, choices=(0.0, 0.1, 0.2)),
    },
    description="Transformer encoder layer (pre-norm): learned positional embedding, "
    "multi-head self-attention and a feed-forward network, each with a skip.",
)
def transformer_encoder(x, *, num_heads, key_dim, ff_dim, model_dim, positional_embedding,
                        dropout):
    if model_dim and model_dim != channels(x):
        x = keras.layers.Dense(model_dim, name="project")(x)
    if positional_embedding:
        x = PositionalEmbedding(name="position")(x)
    width = channels(x)
    # Pre-norm (normalise before each sub-layer) trains stably without warm-up,
    # which matters when every candidate gets a short, fixed budget.
    h = keras.layers.LayerNormalization(name="ln_attention")(x)
    h = keras.layers.MultiHeadAttention(
        num_heads=num_heads, key_dim=key_dim, dropout=dropout, name="attention"
    )(h, h)
    x = keras.layers.Add(name="add_attention")([x, h])
    h = keras.layers.LayerNormalization(name="ln_ff")(x)
    h = keras.layers.Dense(ff_dim, activation="gelu", name="ff_in")(h)
    h = maybe_dropout(h, dropout, suffix="_ff")
    h = keras.layers.Dense(width, name="ff_out")(h)
    return keras.layers.Add(name="add_ff")([x, h])
