"""Turns an `Architecture` and a `DatasetSpec` into a compiled Keras model.

The model takes the dict of parsed tf.Example features (`parse_feature_spec`
gives the spec for `tf.io.parse_example`) and is laid out as:

    inputs -> input adapter -> [connector] block 0 -> ... -> [connector] head

Layer names are stable so weights can be found and transferred again:

- input adapter: ``adapter_<feature>_norm`` (normalisation with the spec's
  train-split mean/std), ``adapter_<feature>_lookup`` / ``adapter_<feature>_embed``
  (categorical features: StringLookup over the spec vocabulary with one
  out-of-vocabulary bucket, then an embedding), ``adapter_concat``;
- block ``i``: a sub-model ``b{i:02d}_<block name>`` whose layers the block
  names itself (``b02_resnet1d`` > ``conv_a``); a connector inserted before it
  is the layer ``c{i:02d}_<connector>`` (see `search_algo.stack`);
- head: ``head_pool`` (if the stack ends in a map), ``head_hidden``,
  ``head_dropout``, then ``head_logits`` + ``probabilities`` for
  classification or ``head_output`` + ``prediction`` for regression.

Heads:

- classification, including binary: a softmax over ``len(class_names)``
  units (2 for binary). One head shape for every task keeps ensembling
  (averaging probability vectors) and distillation (soft labels from
  ``head_logits``) uniform; the loss is sparse categorical cross-entropy on
  the int64 class index, the metric ``accuracy``.
- regression: ``head_output`` predicts the standardised target and
  ``prediction`` maps it back to label units (``x * label_std + label_mean``),
  so the served model answers in the units of the data. The loss is the mean
  squared error of the standardised values (`StandardizedMeanSquaredError`),
  so its scale does not depend on the label's units; the metric ``rmse`` is
  in label units.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import keras
import tensorflow as tf

from search_algo.architecture import Architecture, BlockSpec, Hyperparameters
from search_algo.blocks.registry import get_block
from search_algo.blocks.layers import add_channel_axis
from search_algo.dataset_spec import DatasetSpec, FeatureSpec
from search_algo.errors import SearchSpaceError
from search_algo.stack import PlannedBlock, StackPlan, plan_stack

# A map this small is flattened on its way to a flat block or the head; a
# larger one is averaged (flattening it would make the next layer huge).
FLATTEN_MAX_VALUES = 2048
_RANK_OF_KIND = {"flat": 2, "sequence": 3, "image": 4}


# --- tf.Example parsing --------------------------------------------------------
def parse_feature_spec(
    dataset_spec: DatasetSpec, include_label: bool = False
) -> dict[str, tf.io.FixedLenFeature]:
    """The `tf.io.parse_example` spec for the model's features (and the label)."""
    spec = {}
    for feature in dataset_spec.features:
        dtype = tf.string if feature.dtype == "string" else tf.float32
        spec[feature.name] = tf.io.FixedLenFeature(list(feature.shape), dtype)
    if include_label:
        label_dtype = tf.int64 if dataset_spec.task == "classification" else tf.float32
        spec[dataset_spec.label] = tf.io.FixedLenFeature([], label_dtype)
    return spec


# --- the model -------------------------------------------------------------------
def build_model(
    architecture: Architecture,
    dataset_spec: DatasetSpec,
    seed: int = 0,
    compile: bool = True,
) -> keras.Model:
    """Builds (and by default compiles) the candidate; deterministic for `seed`.

    Seeds Python, NumPy and the Keras backend globally (that is what makes the
    initial weights reproducible). Raises SearchSpaceError for an architecture
    that cannot be built on this data.
    """
    _check_dataset(dataset_spec)
    plan = plan_stack(architecture, dataset_spec.input_kind)
    keras.utils.set_random_seed(seed)
    inputs = {
        feature.name: keras.Input(
            shape=tuple(feature.shape), dtype=_keras_dtype(feature), name=feature.name
        )
        for feature in dataset_spec.features
    }
    x = _input_adapter(inputs, dataset_spec)
    for planned in plan.blocks:
        if planned.connector:
            x = _connector(x, planned.connector, f"c{planned.index:02d}_{planned.connector}")
        x = _block(planned, x)
    outputs = _head(x, plan, architecture, dataset_spec)
    model = keras.Model(inputs, outputs, name=f"candidate_{architecture.arch_id}")
    if compile:
        compile_model(model, architecture.hyperparameters, dataset_spec)
    return model


def compile_model(
    model: keras.Model, hyperparameters: Hyperparameters, dataset_spec: DatasetSpec
) -> None:
    """Compiles with the optimizer, loss and metrics for the dataset's task."""
    if dataset_spec.task == "classification":
        loss: Any = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    else:
        loss = StandardizedMeanSquaredError(label_std=_label_std(dataset_spec))
        metrics = [keras.metrics.RootMeanSquaredError(name="rmse")]
    model.compile(optimizer=make_optimizer(hyperparameters), loss=loss, metrics=metrics)


class CosineDecay(keras.callbacks.LearningRateScheduler):
    """Cosine decay per epoch from the base learning rate to near zero at
    `epochs`, the schedule's end; `end_at` moves the end (a trial fitted to
    the study's time budget anneals over the epochs that fit)."""

    def __init__(self, base: float, epochs: int):
        self.base, self.epochs = base, max(1, int(epochs))
        super().__init__(self.rate)

    def rate(self, epoch: int, learning_rate: Optional[float] = None) -> float:
        return self.base * 0.5 * (1.0 + math.cos(math.pi * min(epoch, self.epochs) / self.epochs))

    def end_at(self, epochs: int) -> None:
        self.epochs = max(1, int(epochs))


def learning_rate_callbacks(hyperparameters: Hyperparameters, epochs: int) -> list[keras.callbacks.Callback]:
    """What `fit` needs for the hyperparameters' learning-rate schedule over `epochs`.

    Cosine decay is applied per epoch, from the learning rate at the first epoch to
    near zero at the last, so a run stopped early has already had its high-rate phase."""
    if hyperparameters.lr_schedule == "constant":
        return []
    return [CosineDecay(hyperparameters.learning_rate, epochs)]


def make_optimizer(hyperparameters: Hyperparameters) -> keras.optimizers.Optimizer:
    """The optimizer named in the hyperparameters; weight decay is decoupled
    (AdamW-style) for all of them and spares biases and normalisation scales."""
    lr = hyperparameters.learning_rate
    decay = hyperparameters.weight_decay or None
    name = hyperparameters.optimizer
    if name == "adam":
        optimizer = keras.optimizers.Adam(learning_rate=lr, weight_decay=decay)
    elif name == "adamw":
        optimizer = keras.optimizers.AdamW(learning_rate=lr, weight_decay=decay or 0.0)
    elif name == "sgd":
        optimizer = keras.optimizers.SGD(
            learning_rate=lr, momentum=0.9, nesterov=True, weight_decay=decay
        )
    elif name == "rmsprop":
        optimizer = keras.optimizers.RMSprop(learning_rate=lr, weight_decay=decay)
    else:  # Hyperparameters already validates this; kept for a clear message.
        raise SearchSpaceError(f"unknown optimizer {name!r}")
    if decay:
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def parameter_count(model: keras.Model, trainable_only: bool = False) -> int:
    """Number of scalars in the model's weights (all of them by default)."""
    weights = model.trainable_weights if trainable_only else model.weights
    return int(sum(math.prod(w.shape) for w in weights))


def block_layers(model: keras.Model) -> dict[str, keras.Model]:
    """The block sub-models by name (``b00_conv1d`` ...), in stack order."""
    return {
        layer.name: layer
        for layer in model.layers
        if isinstance(layer, keras.Model) and _is_block_name(layer.name)
    }


def find_layer(model: keras.Model, path: str) -> keras.layers.Layer:
    """A layer by its path, e.g. ``b02_resnet1d/conv_a`` or ``head_logits``."""
    layer: Any = model
    for part in path.split("/"):
        try:
            layer = layer.get_layer(part)
        except ValueError:
            raise KeyError(f"no layer {path!r} in model {model.name!r}") from None
    return layer


def build_block(block: BlockSpec, input_shape: tuple[int, ...], index: int = 0) -> keras.Model:
    """One block alone, as the sub-model `build_model` would place at `index`,
    on inputs of `input_shape` (without the batch axis). For tests, benchmarks
    and parameter estimates; no connector is inserted."""
    kind = {rank - 1: kind for kind, rank in _RANK_OF_KIND.items()}.get(len(input_shape))
    where = f"block {index} '{block.name}'"
    definition = get_block(block.name, where=where)
    if kind not in definition.input_kinds:
        raise SearchSpaceError(
            f"{where} accepts {list(definition.input_kinds)}, not input shape {input_shape}"
        )
    planned = PlannedBlock(
        index=index,
        spec=block,
        definition=definition,
        args=definition.resolve_args(block.args, where),
        connector=None,
        input_kind=kind,
        output_kind=definition.output_kind_for(kind),
    )
    return _block_model(planned, tuple(input_shape))


def intermediate_model(model: keras.Model, layer_name: str) -> keras.Model:
    """A model from `model`'s inputs to the output of its top-level layer
    `layer_name` (a block such as ``b01_resnet1d``, an adapter or head layer),
    sharing `model`'s weights. Used to compare a child's shared prefix with its
    parent's, or to read ``head_logits`` for distillation."""
    layer = model.get_layer(layer_name)
    # For a block sub-model, `layer.output` is the sub-model's own internal
    # tensor; the tensor in `model`'s graph is the output of the node that
    # calls the block, and each layer here is called exactly once.
    output = layer._inbound_nodes[0].outputs[0]
    return keras.Model(model.input, output, name=f"{model.name}_to_{layer_name}")


def _is_block_name(name: str) -> bool:
    return len(name) > 4 and name[0] == "b" and name[1:3].isdigit() and name[3] == "_"


# --- pieces ------------------------------------------------------------------------
def _check_dataset(spec: DatasetSpec) -> None:
    if not spec.features:
        raise SearchSpaceError(f"dataset '{spec.name}' has no features")
    if spec.input_kind in ("image", "sequence"):
        if len(spec.features) != 1 or spec.features[0].kind != "numeric":
            raise SearchSpaceError(
                f"dataset '{spec.name}': {spec.input_kind} input needs exactly one numeric "
                f"feature, got {[f.name for f in spec.features]}"
            )
        rank = len(spec.features[0].shape)
        wanted = (2, 3) if spec.input_kind == "image" else (1, 2)
        if rank not in wanted:
            raise SearchSpaceError(
                f"dataset '{spec.name}': {spec.input_kind} feature "
                f"'{spec.features[0].name}' has shape {spec.features[0].shape}; "
                f"expected rank {' or '.join(map(str, wanted))}"
            )
    if spec.task == "classification" and spec.num_classes < 2:
        raise SearchSpaceError(
            f"dataset '{spec.name}': classification needs at least 2 class names, "
            f"got {spec.class_names}"
        )
    for feature in spec.features:
        if feature.kind == "categorical" and not feature.vocabulary:
            raise SearchSpaceError(
                f"dataset '{spec.name}': categorical feature '{feature.name}' has no vocabulary"
            )


def _keras_dtype(feature: FeatureSpec) -> str:
    return "string" if feature.dtype == "string" else "float32"


def embedding_dim(vocabulary_size: int) -> int:
    """Embedding width for a categorical feature: the fast.ai rule of thumb
    (1.6 * n^0.56), capped at 16 because tabular vocabularies here are small."""
    return int(min(16, max(2, round(1.6 * vocabulary_size**0.56))))


def _normalizer(feature: FeatureSpec, name: str):
    """Standardises with the train-split statistics; None if the spec has none."""
    if feature.mean is None or feature.std is None:
        return None
    # A constant feature has std 0; dividing by 1 keeps it at 0 after centring.
    variance = [float(s) ** 2 if s else 1.0 for s in feature.std]
    return keras.layers.Normalization(
        axis=-1, mean=[float(m) for m in feature.mean], variance=variance, name=name
    )


def _input_adapter(inputs: dict[str, Any], spec: DatasetSpec):
    if spec.input_kind == "tabular":
        columns = []
        for feature in spec.features:
            x = inputs[feature.name]
            prefix = f"adapter_{feature.name}"
            if feature.kind == "categorical":
                lookup = keras.layers.StringLookup(
                    vocabulary=list(feature.vocabulary), num_oov_indices=1,
                    name=f"{prefix}_lookup",
                )
                size = len(feature.vocabulary) + 1  # + the out-of-vocabulary bucket
                x = keras.layers.Embedding(size, embedding_dim(size), name=f"{prefix}_embed")(
                    lookup(x)
                )
                if len(feature.shape) > 0:
                    x = keras.layers.Flatten(name=f"{prefix}_flatten")(x)
            else:
                if len(feature.shape) == 0:
                    x = keras.layers.Reshape((1,), name=f"{prefix}_reshape")(x)
                elif len(feature.shape) > 1:
                    x = keras.layers.Flatten(name=f"{prefix}_flatten")(x)
                normalizer = _normalizer(feature, f"{prefix}_norm")
                if normalizer is not None:
                    x = normalizer(x)
            columns.append(x)
        if len(columns) == 1:
            return columns[0]
        return keras.layers.Concatenate(name="adapter_concat")(columns)

    feature = spec.features[0]
    x = inputs[feature.name]
    prefix = f"adapter_{feature.name}"
    want_rank = 3 if spec.input_kind == "image" else 2
    if len(feature.shape) == want_rank - 1:
        # A grayscale image stored as [H, W] or a univariate series as [T].
        x = keras.layers.Reshape(tuple(feature.shape) + (1,), name=f"{prefix}_channel")(x)
    normalizer = _normalizer(feature, f"{prefix}_norm")
    return normalizer(x) if normalizer is not None else x


def _connector(x, connector: str, name: str):
    if connector == "rows_to_steps":
        _, height, width, channels = x.shape
        return keras.layers.Reshape((height, width * channels), name=name)(x)
    if connector == "add_channel":
        return add_channel_axis(x, name)
    if connector == "to_flat":
        if math.prod(x.shape[1:]) <= FLATTEN_MAX_VALUES:
            return keras.layers.Flatten(name=name)(x)
        pool = (
            keras.layers.GlobalAveragePooling2D
            if len(x.shape) == 4
            else keras.layers.GlobalAveragePooling1D
        )
        return pool(name=name)(x)
    raise AssertionError(f"unknown connector {connector!r}")


def _block(planned: PlannedBlock, x):
    return _block_model(planned, tuple(x.shape[1:]))(x)


def _block_model(planned: PlannedBlock, input_shape: tuple) -> keras.Model:
    name = planned.layer_name
    where = f"block {planned.index} '{planned.spec.name}'"
    block_input = keras.Input(shape=input_shape, name=f"{name}_in")
    try:
        # The name scope prefixes variable paths: b02_resnet1d/conv_a/kernel.
        with keras.name_scope(name):
            out = planned.definition.build(block_input, **planned.args)
    except SearchSpaceError:
        raise
    except Exception as error:  # noqa: BLE001 - a user's block may raise anything
        raise SearchSpaceError(
            f"{where} failed to build on input shape {input_shape}: "
            f"{type(error).__name__}: {error}"
        ) from error
    if not keras.utils.is_keras_tensor(out):
        raise SearchSpaceError(f"{where}: its builder must return one Keras tensor")
    if len(out.shape) != _RANK_OF_KIND[planned.output_kind]:
        raise SearchSpaceError(
            f"{where} declares output kind '{planned.output_kind}' but returned shape "
            f"{tuple(out.shape[1:])}"
        )
    return keras.Model(block_input, out, name=name)


def _head(x, plan: StackPlan, architecture: Architecture, spec: DatasetSpec):
    if plan.head_connector:
        x = _connector(x, plan.head_connector, "head_pool")
    if architecture.head.hidden_units:
        x = keras.layers.Dense(
            architecture.head.hidden_units, activation="relu", name="head_hidden"
        )(x)
    if architecture.hyperparameters.dropout:
        x = keras.layers.Dropout(architecture.hyperparameters.dropout, name="head_dropout")(x)
    if spec.task == "classification":
        logits = keras.layers.Dense(spec.num_classes, name="head_logits")(x)
        return keras.layers.Activation("softmax", name="probabilities")(logits)
    standardized = keras.layers.Dense(1, name="head_output")(x)
    return keras.layers.Rescaling(
        scale=_label_std(spec), offset=float(spec.label_mean or 0.0), name="prediction"
    )(standardized)


def _label_std(spec: DatasetSpec) -> float:
    return float(spec.label_std) if spec.label_std else 1.0


@keras.saving.register_keras_serializable(package="search_algo")
class StandardizedMeanSquaredError(keras.losses.Loss):
    """Mean squared error measured in label standard deviations.

    The model predicts in label units; dividing the error by the train split's
    label std keeps the loss (and so the useful learning rates) independent of
    the label's scale.
    """

    def __init__(self, label_std: float = 1.0, name: str = "standardized_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_std = float(label_std)

    def call(self, y_true, y_pred):
        y_pred = keras.ops.reshape(y_pred, (-1,))
        y_true = keras.ops.reshape(keras.ops.cast(y_true, y_pred.dtype), (-1,))
        return keras.ops.square((y_true - y_pred) / self.label_std)

    def get_config(self):
        return {**super().get_config(), "label_std": self.label_std}
