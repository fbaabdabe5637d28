"""A trained trial's Keras model, rebuilt from its files: the parent whose
weights a child shares, the trial a promotion continues, a teacher, a student
taken from the search, a candidate exported for serving.

A trial's files hold its weights with its optimizer's state (`model.weights.h5`,
Keras 3's `save_weights` of a compiled model), not a SavedModel: exporting one
took ~6.5 s per trial against ~0.4 s for the weights (an mnist1d-sized model,
2 shared cores), and only the few models the post-search nodes pick are ever
served. `export_trial` makes a trial servable when one is picked.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from components import files, model_export, trial_files
from components.examples_io import Split, stack_rows
from search_algo.architecture import Architecture
from search_algo.dataset_spec import DatasetSpec
from search_algo.model_builder import build_model
from search_algo.trial import Trial

# Examples per batch when predicting.
PREDICT_BATCH_SIZE = 1024


def read_trial_record(trial_dir: str) -> Trial:
    return Trial.from_json(files.read_text(os.path.join(trial_dir, trial_files.TRIAL_FILE)))


def load_trial_weights(model: keras.Model, trial_dir: str, with_optimizer: bool = False) -> None:
    """Loads a trial's weights into `model` (the same architecture). With
    `with_optimizer`, the optimizer's state too (its moments and iteration
    count): `model` must be compiled and its optimizer built, or Keras skips it."""
    with tempfile.TemporaryDirectory() as scratch:  # h5py needs a local file
        local = os.path.join(scratch, trial_files.WEIGHTS_FILE)
        from tfx.dsl.io import fileio

        fileio.copy(os.path.join(trial_dir, trial_files.WEIGHTS_FILE), local, overwrite=True)
        with warnings.catch_warnings():
            if not with_optimizer:
                # The file also holds the trial's optimizer state, which a fresh
                # optimizer cannot take; only the model weights matter here.
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(local)


def load_trial_model(trial_dir: str, spec: DatasetSpec) -> tuple[keras.Model, Architecture]:
    """Rebuilds a trained trial's Keras model from its architecture and weights."""
    record = read_trial_record(trial_dir)
    model = build_model(record.architecture, spec, seed=record.seed)
    load_trial_weights(model, trial_dir)
    return model, record.architecture


def restore_training_state(model: keras.Model, trial_dir: str) -> None:
    """Continues a trial in `model` (built and compiled like it): its weights
    and its optimizer's state, so training goes on where it stopped."""
    model.optimizer.build(model.trainable_variables)
    load_trial_weights(model, trial_dir, with_optimizer=True)


def inference_function(model: keras.Model, split: Split):
    """`model(features, training=False)` traced once for any batch size.

    Keras' `predict` traces its step function per model and again for a batch
    of another shape (the split's last); called once per model, as a trial's
    eval pass is, every call traced, and TensorFlow warned of "excessive
    retracing". A concrete function with a batch-polymorphic signature is
    traced once here and called without tracing."""
    signature = split.features(PREDICT_BATCH_SIZE).element_spec
    return tf.function(lambda features: model(features, training=False)).get_concrete_function(signature)


def predict_split(model: keras.Model, split: Split, function=None) -> np.ndarray:
    """The model's outputs for every example of `split`, in its canonical order."""
    function = function or inference_function(model, split)
    return stack_rows((function(batch) for batch in split.features(PREDICT_BATCH_SIZE)), len(split))


def model_outputs(model: keras.Model, split: Split, spec: DatasetSpec) -> np.ndarray:
    """What the model's serving signature would return for every example of
    `split`: probabilities [examples, classes], or predictions [examples]."""
    values = predict_split(model, split)
    return values if spec.task == "classification" else values.reshape(-1)


def export_trial(trial_dir: str, spec: DatasetSpec, model_uri: str, model: Optional[keras.Model] = None) -> str:
    """Exports a trial's model for serving under `model_uri` (model_export's
    signatures), rebuilt from its weights unless given."""
    if model is None:
        model, _ = load_trial_model(trial_dir, spec)
    return model_export.export_keras_model(model, spec, model_uri)
