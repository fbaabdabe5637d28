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


@keras.saving.register_keras_serializable(package="search_algo")
class StatisticsPooling(keras.layers.Layer):
    """`[T, C] -> [2C]`: each channel's mean over time, then its standard deviation.

    The x-vector recipe for speaker and language identification: who speaks,
    and in which language, shows in a clip's overall spectral statistics more
    than in where things happen. `epsilon` inside the square root keeps the
    gradient finite for a channel that is constant over time (silence, padding).
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, inputs):
        mean = keras.ops.mean(inputs, axis=1)
        # Deviations from the mean, not E[x^2] - E[x]^2: no cancellation into a
        # negative variance when the mean is large next to the spread.
        variance = keras.ops.mean(keras.ops.square(inputs - keras.ops.expand_dims(mean, 1)), axis=1)
        return keras.ops.concatenate([mean, keras.ops.sqrt(variance + self.epsilon)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def add_channel_axis(x, name: str):
    """`[T, C] -> [T, C, 1]`: a sequence seen as a one-channel image (time x
    mel bands for a spectrogram), so 2-D blocks can read it."""
    _, steps, channels = x.shape
    return keras.layers.Reshape((steps, channels, 1), name=name)(x)
