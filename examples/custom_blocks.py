"""Custom blocks for tfx-model-search: copy this file and edit it.

Point a study at it with `module_file: examples/custom_blocks.py` (or
`model-search blocks --module-file examples/custom_blocks.py` to list what it
registers). Each block is registered under a name, with the tensor kinds it
accepts (`image` [H, W, C], `sequence` [T, C], `flat` [D]), the kind it
produces ("same" = the kind it received) and its arguments, each with a
default and the values the search may try.

Two ways to write a block:

1. a builder function `fn(inputs, **args) -> outputs` that calls Keras layers
   (give every layer a name: names are how weights are found again), or
2. a Keras Layer class, built as `LayerClass(**args, name="layer")(inputs)`;
   decorate it with `keras.saving.register_keras_serializable` as well so
   saved models load again.
"""

import keras

from search_algo.blocks import register_block


@register_block(
    "se_conv1d",
    input_kinds=("sequence",),
    output_kind="sequence",
    args={
        "filters": {"default": 32, "choices": [16, 32, 64]},
        "kernel_size": {"default": 5, "choices": [3, 5, 7]},
        "ratio": {"default": 4, "choices": [2, 4, 8], "help": "squeeze reduction ratio"},
    },
)
def se_conv1d(x, *, filters, kernel_size, ratio):
    """1-D convolution followed by squeeze-and-excitation channel gating."""
    x = keras.layers.Conv1D(filters, kernel_size, padding="same", activation="relu", name="conv")(x)
    # Squeeze: one summary per channel; excite: a learned gate in (0, 1) per channel.
    squeezed = keras.layers.GlobalAveragePooling1D(name="squeeze")(x)
    gate = keras.layers.Dense(max(1, filters // ratio), activation="relu", name="reduce")(squeezed)
    gate = keras.layers.Dense(filters, activation="sigmoid", name="expand")(gate)
    gate = keras.layers.Reshape((1, filters), name="gate")(gate)
    return keras.layers.Multiply(name="scale")([x, gate])


@keras.saving.register_keras_serializable(package="custom_blocks")
@register_block(
    "gated_dense",
    input_kinds=("flat",),
    output_kind="flat",
    args={"units": {"default": 64, "choices": [32, 64, 128]}},
)
class GatedDense(keras.layers.Layer):
    """Gated linear unit: a dense layer multiplied by a sigmoid gate."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.value = keras.layers.Dense(units, name="value")
        self.gate = keras.layers.Dense(units, activation="sigmoid", name="gate")

    def build(self, input_shape):
        self.value.build(input_shape)
        self.gate.build(input_shape)

    def call(self, inputs):
        return self.value(inputs) * self.gate(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
