"""Blocks that turn feature maps into a vector.

The model builder inserts global average pooling on its own where a flat block
follows a map (see `search_algo.stack`); these blocks let the search choose a
different reduction explicitly.
"""

from __future__ import annotations

import keras

from search_algo.blocks._common import builtin_block, channels
from search_algo.blocks.layers import StatisticsPooling


@builtin_block(
    "flatten",
    input_kinds=("image", "sequence"),
    output_kind="flat",
    args={},
    description="Flattens a feature map into one vector (keeps position information).",
)
def flatten(x):
    return keras.layers.Flatten(name="flatten")(x)


@builtin_block(
    "global_avg_pool",
    input_kinds=("image", "sequence"),
    output_kind="flat",
    args={},
    description="Averages a feature map over its spatial / time axes.",
)
def global_avg_pool(x):
    layer = (
        keras.layers.GlobalAveragePooling2D if len(x.shape) == 4 else keras.layers.GlobalAveragePooling1D
    )
    return layer(name="pool")(x)


@builtin_block(
    "global_max_pool",
    input_kinds=("image", "sequence"),
    output_kind="flat",
    args={},
    description="Takes the maximum of a feature map over its spatial / time axes.",
)
def global_max_pool(x):
    layer = keras.layers.GlobalMaxPooling2D if len(x.shape) == 4 else keras.layers.GlobalMaxPooling1D
    return layer(name="pool")(x)


@builtin_block(
    "attention_pool",
    input_kinds=("sequence",),
    output_kind="flat",
    args={},
    description="Attention pooling: a learned score per step, softmax over steps, "
    "weighted sum of the steps.",
)
def attention_pool(x):
    scores = keras.layers.Dense(1, name="score")(x)  # [T, 1]
    weights = keras.layers.Softmax(axis=1, name="weights")(scores)
    pooled = keras.layers.Dot(axes=1, name="weighted_sum")([weights, x])  # [1, C]
    return keras.layers.Reshape((channels(x),), name="squeeze")(pooled)


@builtin_block(
    "statistics_pooling",
    input_kinds=("sequence",),
    output_kind="flat",
    args={},
    description="Statistics pooling (x-vector): each channel's mean and standard deviation "
    "over time, concatenated.",
)
def statistics_pooling(x):
    return StatisticsPooling(name="statistics")(x)
