"""Reading ingested Examples splits, once per component execution."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf
from tfx.dsl.io import fileio
from tfx.types import artifact, artifact_utils

from search_algo.dataset_spec import DatasetSpec
from search_algo.model_builder import parse_feature_spec


def split_files(examples: artifact.Artifact, split: str) -> list[str]:
    files = sorted(fileio.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*")))
    if not files:
        raise FileNotFoundError(f"no files in split {split!r} of {examples.uri}")
    return files


def serialized_split(examples: artifact.Artifact, split: str) -> np.ndarray:
    """The split's serialized tf.Example strings, in file order."""
    dataset = tf.data.TFRecordDataset(split_files(examples, split), compression_type="GZIP")
    return np.array(list(dataset.as_numpy_iterator()), dtype=object)


def parsed_batches(examples: artifact.Artifact, split: str, spec: DatasetSpec, batch_size: int = 4096):
    """The split's features and label, parsed, in batches of NumPy arrays."""
    parse = parse_feature_spec(spec, include_label=True)
    dataset = (
        tf.data.TFRecordDataset(split_files(examples, split), compression_type="GZIP")
        .batch(batch_size)
        .map(lambda s: tf.io.parse_example(s, parse))
    )
    return dataset.as_numpy_iterator()


def load_split(examples: artifact.Artifact, split: str, spec: DatasetSpec) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(features, labels) of a split as NumPy arrays: the data sets this
    platform searches on fit in memory, and reading them once per component
    keeps data loading out of every trial."""
    batches: dict[str, list[Any]] = {}
    for batch in parsed_batches(examples, split, spec):
        for key, value in batch.items():
            batches.setdefault(key, []).append(value)
    arrays = {key: np.concatenate(values) for key, values in batches.items()}
    labels = arrays.pop(spec.label)
    return arrays, labels


def to_example(values: dict[str, Any]) -> tf.train.Example:
    """tf.Example of encoded feature values: strings as bytes, integers (the
    class index) as int64, everything else as a flat float list."""
    feature = {}
    for key, value in values.items():
        if isinstance(value, str):
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")]))
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
        else:
            flat = np.asarray(value, dtype=np.float32).reshape(-1)
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=flat))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def serialize_features(features: dict[str, np.ndarray], spec: DatasetSpec) -> np.ndarray:
    """Parsed features (as `load_split` returns them) back to serialized
    tf.Example strings that a model's serving signature reads."""
    count = len(next(iter(features.values()))) if features else 0
    def text(value):  # tf.io.parse_example gives bytes
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    strings = {feature.name for feature in spec.features if feature.dtype == "string"}
    return np.array([
        to_example({name: text(column[row]) if name in strings else column[row]
                    for name, column in features.items()}).SerializeToString()
        for row in range(count)
    ], dtype=object)
