"""Blocks on flat feature vectors (tabular data, or after pooling)."""

from __future__ import annotations

import keras

from search_algo.blocks._common import (
    activation_arg,
    batch_norm_arg,
    builtin_block,
    channels,
    dropout_arg,
    maybe_dropout,
    normalise_activate,
)
from search_algo.blocks.registry import ArgSpec

WIDTHS = (16, 32, 64, 128, 256, 512)


def _units_arg(default=64) -> ArgSpec:
    return ArgSpec(default=default, choices=WIDTHS, help="output width")


@builtin_block(
    "dense",
    input_kinds=("flat",),
    output_kind="flat",
    args={
        "units": _units_arg(),
        "activation": activation_arg(),
        "batch_norm": batch_norm_arg(),
        "dropout": dropout_arg(),
    },
    description="Fully connected layer, optional batch norm and dropout.",
)
def dense(x, *, units, activation, batch_norm, dropout):
    # The bias is redundant before batch norm, which has its own shift.
    x = keras.layers.Dense(units, use_bias=not batch_norm, name="dense")(x)
    x = normalise_activate(x, batch_norm=batch_norm, activation=activation)
    return maybe_dropout(x, dropout)


@builtin_block(
    "residual_dense",
    input_kinds=("flat",),
    output_kind="flat",
    args={
        "units": _units_arg(),
        "activation": activation_arg(),
        "batch_norm": batch_norm_arg(),
        "dropout": dropout_arg(),
    },
    description="Two dense layers with a skip connection (projected if the width changes).",
)
def residual_dense(x, *, units, activation, batch_norm, dropout):
    shortcut = x
    if channels(x) != units:
        shortcut = keras.layers.Dense(units, use_bias=False, name="shortcut")(x)
    h = keras.layers.Dense(units, use_bias=not batch_norm, name="dense_a")(x)
    h = normalise_activate(h, batch_norm=batch_norm, activation=activation, suffix="_a")
    h = maybe_dropout(h, dropout)
    h = keras.layers.Dense(units, use_bias=not batch_norm, name="dense_b")(h)
    h = normalise_activate(h, batch_norm=batch_norm, activation=None, suffix="_b")
    out = keras.layers.Add(name="add")([shortcut, h])
    return keras.layers.Activation(activation, name="act_out")(out)


@builtin_block(
    "bottleneck_dense",
    input_kinds=("flat",),
    output_kind="flat",
    args={
        "units": _units_arg(),
        "rank": ArgSpec(default=16, choices=(4, 8, 16, 32), help="inner (low-rank) width"),
        "activation": activation_arg(),
        "batch_norm": batch_norm_arg(),
        "dropout": dropout_arg(),
    },
    description="Low-rank dense layer: a linear projection to `rank` then a dense layer.",
)
def bottleneck_dense(x, *, units, rank, activation, batch_norm, dropout):
    x = keras.layers.Dense(rank, use_bias=False, name="down")(x)
    x = keras.layers.Dense(units, use_bias=not batch_norm, name="up")(x)
    x = normalise_activate(x, batch_norm=batch_norm, activation=activation)
    return maybe_dropout(x, dropout)
