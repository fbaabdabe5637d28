"""Argument choices and small layer recipes shared by the built-in blocks."""

from __future__ import annotations

import keras

from search_algo.blocks.registry import ArgSpec, register_block

ACTIVATIONS = ("relu", "gelu", "swish", "tanh")
DROPOUTS = (0.0, 0.1, 0.2, 0.3, 0.5)


def builtin_block(name, **kwargs):
    return register_block(name, _builtin=True, **kwargs)


def activation_arg(default="relu") -> ArgSpec:
    return ArgSpec(default=default, choices=ACTIVATIONS, help="activation function")


def batch_norm_arg(default=False) -> ArgSpec:
    return ArgSpec(default=default, choices=(False, True), help="batch normalisation")


def dropout_arg(default=0.0) -> ArgSpec:
    return ArgSpec(default=default, choices=DROPOUTS, help="dropout rate after the block")


def normalise_activate(x, *, batch_norm: bool, activation: str | None, suffix: str = ""):
    """Optional batch norm then activation, named `bn{suffix}` / `act{suffix}`."""
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"bn{suffix}")(x)
    if activation:
        x = keras.layers.Activation(activation, name=f"act{suffix}")(x)
    return x


def maybe_dropout(x, rate: float, suffix: str = ""):
    if rate:
        x = keras.layers.Dropout(rate, name=f"dropout{suffix}")(x)
    return x


def channels(x) -> int:
    return int(x.shape[-1])
