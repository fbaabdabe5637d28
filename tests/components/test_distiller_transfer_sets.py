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


class _FakeStudent:
    """Weights as a label, to see which epoch's weights are kept."""

    def __init__(self):
        self.weights = "initial"

    def get_weights(self):
        return self.weights

    def set_weights(self, weights):
        self.weights = weights


class _Clock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


def _sizing(clock, deadline_in=100.0):
    from components.distiller.executor import _BudgetedEpochs
    from search_algo.time_budget import TimeBudget

    budget = TimeBudget(1200.0, 0.0)
    clock.now = budget.post_search_deadline - deadline_in
    return _BudgetedEpochs(budget, clock=clock)


def _epoch(sizing, student, clock, seconds, eval_loss, name):
    assert sizing.next_epoch_fits()
    clock.now += seconds
    student.weights = name
    return sizing.epoch_done(student, eval_loss)


def test_under_a_budget_the_student_stops_when_its_eval_loss_stops_improving_and_keeps_its_best_epoch():
    clock, student = _Clock(), _FakeStudent()
    sizing = _sizing(clock)
    assert not _epoch(sizing, student, clock, 1, 0.9, "epoch1")
    assert not _epoch(sizing, student, clock, 1, 0.5, "epoch2")
    assert not _epoch(sizing, student, clock, 1, 0.6, "epoch3")
    assert _epoch(sizing, student, clock, 1, 0.7, "epoch4")
    assert sizing.stopped.startswith("early stopping")
    sizing.keep_best(student)
    assert student.weights == "epoch2"


def test_under_a_budget_no_epoch_starts_that_would_end_after_the_deadline():
    clock, student = _Clock(), _FakeStudent()
    sizing = _sizing(clock, deadline_in=25.0)
    assert not _epoch(sizing, student, clock, 10, 0.9, "epoch1")
    assert not _epoch(sizing, student, clock, 10, 0.8, "epoch2")
    # 5 s left, epochs take 10 s.
    assert not sizing.next_epoch_fits() and sizing.stopped.startswith("time")
    sizing.keep_best(student)
    assert student.weights == "epoch2"


def test_under_a_budget_the_first_epoch_which_traces_does_not_judge_the_ones_after_it():
    clock, student = _Clock(), _FakeStudent()
    sizing = _sizing(clock, deadline_in=40.0)
    assert not _epoch(sizing, student, clock, 20, 0.9, "epoch1")  # tracing: 20 s
    # 20 s left: judged by the first epoch alone, the next would just fit.
    assert not _epoch(sizing, student, clock, 5, 0.8, "epoch2")
    # 15 s left; the epochs after the first take 5 s, so two more start.
    assert not _epoch(sizing, student, clock, 5, 0.7, "epoch3")
    assert not _epoch(sizing, student, clock, 5, 0.6, "epoch4")
    # 5 s left: one more 5 s epoch would end on the deadline, not after it.
    assert sizing.next_epoch_fits()
