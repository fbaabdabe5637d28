"""The Distiller's transfer sets read the training split a batch at a time."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from tfx.types import standard_artifacts

from components import examples_io
from components.distiller.executor import _transfer_sets
from search_algo.testing import random_batch, tabular_spec


def tabular_split(tmp_path, count=300, shards=3):
    """tabular_spec's data (a string feature included) in gzipped shards."""
    spec = tabular_spec()
    spec.split_sizes = {"train": count}
    features, labels = random_batch(spec, count, seed=1)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path)
    examples.split_names = '["train"]'
    os.makedirs(tmp_path / "Split-train")
    for shard, rows in enumerate(np.array_split(np.arange(count), shards)):
        with tf.io.TFRecordWriter(str(tmp_path / "Split-train" / f"data-{shard}.gz"), options="GZIP") as writer:
            for i in rows:
                values = {name: column[i] for name, column in features.items()}
                values[spec.label] = int(labels[i])
                writer.write(examples_io.to_example(values).SerializeToString())
    return examples_io.ExamplesSplit(examples, "train", spec, cache_budget=0), spec, labels


def teacher(serialized):
    """A teacher that is sure of the class its `age` falls in (above 0.5: "yes")."""
    parsed = tf.io.parse_example(serialized, {"age": tf.io.FixedLenFeature([], tf.float32)})
    yes = (parsed["age"].numpy() > 0.5).astype(np.float32)
    return {"probabilities": np.stack([1 - yes, yes], axis=1)}


def one_pass(dataset):
    batches = list(dataset.as_numpy_iterator())
    return {name: np.concatenate([x[name] for x, _ in batches]) for name in batches[0][0]}, \
        np.concatenate([y for _, y in batches])


def test_mixup_mixes_streamed_chunks_with_strings_and_labels_them_by_the_teacher(tmp_path):
    split, spec, _ = tabular_split(tmp_path)
    transfer_sets = _transfer_sets(split, spec, teacher, "mixup", seed=0, batch_size=32)
    features, targets = one_pass(next(transfer_sets))
    assert targets.shape == (len(split), 4) and len(features["colour"]) == len(split)
    assert features["colour"].dtype == object and set(features["colour"]) <= {b"red", b"green", b"blue", b"never-seen"}
    assert np.allclose(targets[:, :2].sum(axis=1), 1) and np.allclose(targets[:, 2:].sum(axis=1), 1)
    # The teacher labelled the mixed examples, not the originals.
    assert np.array_equal(targets[:, 3], (features["age"] > 0.5).astype(np.float32))
    again, _ = one_pass(next(transfer_sets))
    assert not np.allclose(again["age"], features["age"]), "each epoch mixes anew"


def test_without_augmentation_each_example_keeps_its_label_and_teacher_row(tmp_path):
    split, spec, labels = tabular_split(tmp_path)
    transfer_sets = _transfer_sets(split, spec, teacher, "none", seed=0, batch_size=32)
    features, targets = one_pass(next(transfer_sets))
    assert np.array_equal(targets[:, 3], (features["age"] > 0.5).astype(np.float32))
    assert sorted(np.argmax(targets[:, :2], axis=1)) == sorted(labels)
