"""Tiny dataset specs and random batches shaped like ingestion's output.

For tests of anything that builds or trains candidate models (here and in the
trainer / ensembler tests): real data is not needed to check that a model
builds, trains a step, or transfers weights.
"""

from __future__ import annotations

import numpy as np

from search_algo.dataset_spec import DatasetSpec, FeatureSpec


def sequence_spec(task="classification", steps=12, channels=1) -> DatasetSpec:
    """mnist1d-like: one [T, C] float feature."""
    return DatasetSpec(
        name="tiny_sequence",
        task=task,
        input_kind="sequence",
        label="label",
        label_display_name="label",
        features=[
            FeatureSpec("x", "x", "numeric", "float32", [steps, channels],
                        mean=[0.5] * channels, std=[2.0] * channels)
        ],
        class_names=["a", "b", "c"] if task == "classification" else [],
        label_mean=None if task == "classification" else 3.0,
        label_std=None if task == "classification" else 2.0,
    )


def image_spec(height=8, width=8, channels=1, classes=("zero", "one")) -> DatasetSpec:
    return DatasetSpec(
        name="tiny_image",
        task="classification",
        input_kind="image",
        label="label",
        label_display_name="label",
        features=[
            FeatureSpec("image", "image", "numeric", "float32", [height, width, channels],
                        mean=[0.5] * channels, std=[0.25] * channels)
        ],
        class_names=list(classes),
    )


def tabular_spec(task="classification", categorical=True) -> DatasetSpec:
    features = [
        FeatureSpec("age", "Age", "numeric", "float32", [], mean=[40.0], std=[10.0]),
        FeatureSpec("income", "Income ($)", "numeric", "float32", [], mean=[5.0], std=[0.0]),
    ]
    if categorical:
        features.append(
            FeatureSpec("colour", "Colour", "categorical", "string", [],
                        vocabulary=["red", "green", "blue"])
        )
    return DatasetSpec(
        name="tiny_tabular",
        task=task,
        input_kind="tabular",
        label="target",
        label_display_name="Target",
        features=features,
        class_names=["no", "yes"] if task == "classification" else [],
        label_mean=None if task == "classification" else 100.0,
        label_std=None if task == "classification" else 20.0,
    )


def random_batch(spec: DatasetSpec, batch_size: int = 8, seed: int = 0):
    """(features dict, labels) as tf.io.parse_example would give them."""
    rng = np.random.default_rng(seed)
    features = {}
    for feature in spec.features:
        if feature.kind == "categorical":
            # Includes a value outside the vocabulary: the OOV bucket must take it.
            pool = list(feature.vocabulary) + ["never-seen"]
            features[feature.name] = np.array(
                [pool[i] for i in rng.integers(len(pool), size=batch_size)], dtype=object
            )
        else:
            features[feature.name] = rng.random((batch_size, *feature.shape)).astype("float32")
    if spec.task == "classification":
        labels = rng.integers(spec.num_classes, size=batch_size).astype("int64")
    else:
        labels = (rng.normal(size=batch_size) * 20 + 100).astype("float32")
    return features, labels
