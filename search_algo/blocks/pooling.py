"""Blocks that turn feature maps into a vector.

The model builder inserts global average pooling on its own where a flat block
follows a map (see `search_algo.stack`); these blocks let the search choose a
different reduction explicitly.
"""

from __future__ import annotations

import keras

from search_algo.blocks._common import builtin_block, channels
from search_algo.blocks.layers import StatisticsPooling
from search_algo.blocks.registry import ArgSpec


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


# Moving statistics that settle within the few dozen steps a short trial on a
# small data set takes (Keras' default 0.99 needs hundreds): with 0.99, statistics
# pooling into a softmax reached 0.58 eval accuracy after 5 epochs of 16 steps on
# 256 keyword clips, with 0.9 0.82 (benchmarks/results/audio_probes.json).
POOLED_BATCH_NORM_MOMENTUM = 0.9


@builtin_block(
    "statistics_pooling",
    input_kinds=("sequence",),
    output_kind="flat",
    args={"batch_norm": ArgSpec(default=True, choices=(False, True),
                                help="normalise the pooled statistics")},
    description="Statistics pooling (x-vector): each channel's mean and standard deviation "
    "over time, concatenated, then batch-normalised.",
)
def statistics_pooling(x, *, batch_norm):
    pooled = StatisticsPooling(name="statistics")(x)
    if batch_norm:
        # Means and spreads of different bands live on very different scales;
        # a linear layer after them learns in a few epochs only once they are
        # brought to one scale (what a standard scaler does for logistic regression).
        pooled = keras.layers.BatchNormalization(momentum=POOLED_BATCH_NORM_MOMENTUM, name="bn")(pooled)
    return pooled
