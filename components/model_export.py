"""Servable SavedModels, as TFX's Evaluator and Pusher expect them.

Every model this platform exports - a trial, an ensemble, a distilled student -
has the same signatures under `<model uri>/Format-Serving/`:
`serving_default` takes serialized tf.Example strings (`examples`) and returns
`probabilities` [batch, classes], `class_ids` and `classes` (classification)
or `predictions` [batch] (regression). Keras 3's `model.export()` gives a
raw-tensor signature that TFX's Evaluator rejects, hence this module.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from search_algo.dataset_spec import DatasetSpec
from search_algo.model_builder import parse_feature_spec

SERVING_DIR = "Format-Serving"
SIGNATURE = "serving_default"
# Inside a serving directory: the dataset spec of the data the model was trained on.
SPEC_DIR = "assets.extra"
EXAMPLES_SPEC = tf.TensorSpec([None], tf.string, name="examples")


def serving_dir(model_uri: str) -> str:
    return os.path.join(model_uri, SERVING_DIR)


def _outputs(values: tf.Tensor, spec: DatasetSpec, class_names: tf.Tensor | None) -> dict[str, tf.Tensor]:
    if spec.task == "classification":
        class_ids = tf.argmax(values, axis=-1)
        return {
            "probabilities": values,
            "class_ids": class_ids,
            "classes": tf.gather(class_names, class_ids),
        }
    return {"predictions": tf.reshape(values, [-1])}


class _ServingModule(tf.Module):
    """Parses tf.Examples and calls `predict` (a Keras model or a function of
    the parsed features); `predict` must return probabilities or predictions."""

    def __init__(self, predict: Callable, spec: DatasetSpec, trackables: Sequence = ()):
        super().__init__()
        self._predict = predict
        self._trackables = list(trackables)  # keeps the members' variables in the SavedModel
        self._parse = parse_feature_spec(spec)
        self._spec = spec
        self._class_names = tf.constant(spec.class_names or [""])

        @tf.function(input_signature=[EXAMPLES_SPEC])
        def serve(examples):
            features = tf.io.parse_example(examples, self._parse)
            return _outputs(self._predict(features), self._spec, self._class_names)

        self.serve = serve


def export_keras_model(model, spec: DatasetSpec, model_uri: str) -> str:
    """Saves a Keras model with the tf.Example serving signature."""
    module = _ServingModule(lambda features: model(features, training=False), spec, [model])
    return _save(module, spec, model_uri)


def export_ensemble(members: Sequence, weights: Sequence[float], spec: DatasetSpec, model_uri: str) -> str:
    """One SavedModel averaging the members' outputs (Keras models giving
    probabilities, or predictions for regression) with the given weights."""
    shares = np.asarray(weights, dtype=np.float32) / float(np.sum(weights))

    def predict(features):
        outputs = [float(share) * member(features, training=False) for member, share in zip(members, shares)]
        return tf.add_n(outputs)

    return _save(_ServingModule(predict, spec, list(members)), spec, model_uri)


def _save(module: tf.Module, spec: DatasetSpec, model_uri: str) -> str:
    export_dir = serving_dir(model_uri)
    tf.saved_model.save(module, export_dir, signatures={SIGNATURE: module.serve})
    # The pushed model must say how raw input becomes its features (`model-search
    # predict`); `assets.extra` is TF Serving's place for files it ignores.
    spec.save(os.path.join(export_dir, SPEC_DIR))
    return export_dir


def load_predict_fn(model_uri: str) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """A function from serialized examples to the model's outputs (NumPy)."""
    loaded = tf.saved_model.load(serving_dir(model_uri))
    signature = loaded.signatures[SIGNATURE]

    def predict(serialized: np.ndarray, batch_size: int = 1024) -> dict[str, np.ndarray]:
        parts: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(serialized), batch_size):
            batch = tf.constant(list(serialized[start : start + batch_size]), dtype=tf.string)
            for key, value in signature(examples=batch).items():
                parts.setdefault(key, []).append(value.numpy())
        return {key: np.concatenate(values) for key, values in parts.items()}

    predict.loaded = loaded  # keep the SavedModel alive as long as the function
    return predict
