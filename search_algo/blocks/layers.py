"""Keras layers the built-in blocks need and Keras does not ship.

Registered as serializable so a saved model loads without this package's
help beyond importing it.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="search_algo")
class PositionalEmbedding(keras.layers.Layer):
    """Adds a learned embedding of each position to a `[T, C]` sequence."""

    def build(self, input_shape):
        _, length, channels = input_shape
        if length is None:
            raise ValueError("a positional embedding needs a fixed sequence length")
        self.embedding = self.add_weight(
            name="embedding",
            shape=(length, channels),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, inputs):
        return inputs + keras.ops.expand_dims(self.embedding, 0)

    def compute_output_shape(self, input_shape):
        return input_shape
