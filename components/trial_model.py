"""A trained trial's Keras model, rebuilt from its files: the parent whose
weights a child shares, a teacher, a student taken from the search."""

from __future__ import annotations

import os
import tempfile
import warnings

import keras

from components import files, trial_files
from search_algo.architecture import Architecture
from search_algo.dataset_spec import DatasetSpec
from search_algo.model_builder import build_model
from search_algo.trial import Trial


def load_trial_model(trial_dir: str, spec: DatasetSpec) -> tuple[keras.Model, Architecture]:
    """Rebuilds a trained trial's Keras model from its architecture and weights."""
    record = Trial.from_json(files.read_text(os.path.join(trial_dir, trial_files.TRIAL_FILE)))
    model = build_model(record.architecture, spec, seed=record.seed)
    weights = os.path.join(trial_dir, trial_files.WEIGHTS_FILE)
    with tempfile.TemporaryDirectory() as scratch:  # h5py needs a local file
        local = os.path.join(scratch, trial_files.WEIGHTS_FILE)
        from tfx.dsl.io import fileio

        fileio.copy(weights, local, overwrite=True)
        with warnings.catch_warnings():
            # The file also holds the parent's optimizer state, which a fresh
            # optimizer cannot take; only the model weights matter here.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(local)
    return model, record.architecture
