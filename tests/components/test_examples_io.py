"""Splits read through tf.data: cached within the budget, streamed past it,
shuffled across shards, and trials trained either way."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits
from tfx.types import standard_artifacts

from components import examples_io
from components.trainer.training import train_trial
from search_algo.architecture import Architecture
from search_algo.dataset_spec import DatasetSpec, FeatureSpec
from search_algo.distillation import distillation_targets
from search_algo.errors import UserError
from search_algo.trial import Trial

SHARDS = 10


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """sklearn's digits as an ingest writes them: gzipped shards, each shard
    holding (mostly) one class, as a split written without a global shuffle;
    every fifth example in eval. The pixel sum of an example's first row is
    written as its `row` feature, to tell examples apart."""
    images, labels = load_digits(return_X_y=True)
    order = np.argsort(labels, kind="stable")
    images, labels = images[order].astype(np.float32) / 16.0, labels[order].astype(np.int64)
    is_eval = np.arange(len(labels)) % 5 == 0
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path_factory.mktemp("digits"))
    examples.split_names = '["train", "eval"]'
    sizes = {}
    for split, rows in (("train", ~is_eval), ("eval", is_eval)):
        directory = os.path.join(examples.uri, f"Split-{split}")
        os.makedirs(directory)
        split_images, split_labels = images[rows], labels[rows]
        sizes[split] = len(split_labels)
        for shard, part in enumerate(np.array_split(np.arange(len(split_labels)), SHARDS)):
            path = os.path.join(directory, f"data-{shard:05d}-of-{SHARDS:05d}.gz")
            with tf.io.TFRecordWriter(path, options="GZIP") as writer:
                for i in part:
                    writer.write(examples_io.to_example({
                        "image": split_images[i].reshape(8, 8, 1), "label": int(split_labels[i])}).SerializeToString())
    spec = DatasetSpec(
        name="digits", task="classification", input_kind="image", label="label", label_display_name="label",
        features=[FeatureSpec("image", "image", "numeric", "float32", [8, 8, 1], mean=[0.3], std=[0.4])],
        class_names=[str(c) for c in range(10)], split_sizes=sizes)
    return examples, spec, images[~is_eval], labels[~is_eval]


def passes(dataset, count=1):
    """The (images, y) of `count` passes over a dataset, one array pair per pass."""
    result = []
    for _ in range(count):
        batches = list(dataset.as_numpy_iterator())
        result.append((np.concatenate([x["image"] for x, _ in batches]), np.concatenate([y for _, y in batches])))
    return result


def test_a_split_within_the_budget_is_cached_and_one_over_it_is_streamed(digits, monkeypatch):
    examples, spec, _, _ = digits
    assert examples_io.ExamplesSplit(examples, "train", spec).cached
    assert not examples_io.ExamplesSplit(examples, "train", spec, cache_budget=0).cached
    one_example = 8 * 8 * 4 + 8
    assert examples_io.example_bytes(spec) == one_example
    size = spec.split_sizes["train"]
    assert examples_io.ExamplesSplit(examples, "train", spec, cache_budget=size * one_example).cached
    assert not examples_io.ExamplesSplit(examples, "train", spec, cache_budget=size * one_example - 1).cached
    monkeypatch.setenv(examples_io.CACHE_BUDGET_ENV, "0")
    assert not examples_io.ExamplesSplit(examples, "train", spec).cached
    monkeypatch.setenv(examples_io.CACHE_BUDGET_ENV, "lots")
    with pytest.raises(UserError, match=examples_io.CACHE_BUDGET_ENV):
        examples_io.ExamplesSplit(examples, "train", spec)


@pytest.mark.slow
@pytest.mark.parametrize("budget", [None, 0], ids=["cached", "streamed"])
def test_batches_hold_every_example_once_in_order_or_shuffled_by_the_seed(digits, budget):
    examples, spec, images, labels = digits
    split = examples_io.ExamplesSplit(examples, "train", spec, cache_budget=budget)
    (in_order, in_order_labels), = passes(split.batches(100))
    assert np.array_equal(in_order.reshape(len(images), -1), images) and np.array_equal(in_order_labels, labels)
    assert np.array_equal(split.labels(), labels)

    first, second = passes(split.batches(32, seed=7), count=2)
    again, _ = passes(split.batches(32, seed=7), count=2)
    other, _ = passes(split.batches(32, seed=8), count=2)
    for shuffled, shuffled_labels in (first, second):
        assert np.array_equal(np.sort(shuffled_labels), np.sort(labels))
        assert not np.array_equal(shuffled_labels, labels)
    assert not np.array_equal(first[1], second[1]), "each pass has a new order"
    assert np.array_equal(first[0], again[0]), "the same seed gives the same orders"
    assert not np.array_equal(first[0], other[0])


def test_a_streamed_shuffle_mixes_the_shards_from_the_first_batch(digits):
    examples, spec, _, _ = digits
    split = examples_io.ExamplesSplit(examples, "train", spec, cache_budget=0)
    assert split.shuffle_buffer == split.size  # small: the buffer holds it all
    first_batch = next(iter(split.batches(32, seed=0)))[1].numpy()
    # Read in order, a batch of 32 holds one or two classes (one shard).
    assert len(np.unique(first_batch)) >= 6, first_batch

    # A buffer far smaller than the split: the shards themselves are mixed.
    split.shuffle_buffer = 8
    first_batch = next(iter(split.batches(32, seed=0)))[1].numpy()
    assert len(np.unique(first_batch)) >= 6, first_batch


def test_a_streamed_shuffle_buffer_holds_the_examples_its_memory_budget_allows(digits, monkeypatch):
    examples, spec, _, _ = digits
    split = examples_io.ExamplesSplit(examples, "train", spec, cache_budget=0)
    record_bytes = np.mean([len(record) for record in split.serialized_head(examples_io.SIZE_SAMPLE)])
    # A buffered example costs its record and a fixed overhead, not its record alone.
    monkeypatch.setattr(examples_io, "SHUFFLE_BUFFER_BYTES",
                        int(1000 * (record_bytes + examples_io.SHUFFLE_ELEMENT_OVERHEAD)) + 1)
    monkeypatch.setattr(examples_io, "MIN_SHUFFLE_BUFFER", 10)
    assert split.size > 1000 and split.shuffle_buffer == 1000


def test_a_components_splits_are_cached_only_when_they_fit_the_budget_together(digits):
    examples, spec, _, _ = digits
    one_example = examples_io.example_bytes(spec)
    train_bytes, eval_bytes = (spec.split_sizes[name] * one_example for name in ("train", "eval"))
    assert eval_bytes < train_bytes
    both = examples_io.component_splits(examples, ["train", "eval"], spec, cache_budget=train_bytes + eval_bytes)
    assert [split.files for split in both] == [examples_io.split_files(examples, name) for name in ("train", "eval")]
    assert all(split.cached for split in both)
    # The eval split alone would fit, but beside a streamed train split it is streamed too.
    short = train_bytes + eval_bytes - 1
    assert examples_io.ExamplesSplit(examples, "eval", spec, cache_budget=short).cached
    assert not any(split.cached for split in examples_io.component_splits(examples, ["train", "eval"], spec,
                                                                           cache_budget=short))
    assert not any(split.cached for split in examples_io.component_splits(examples, ["eval"], spec, cache_budget=0))


@pytest.mark.parametrize("budget", [None, 0], ids=["cached", "streamed"])
def test_teacher_outputs_give_each_example_the_distillation_target_of_its_label_and_row(digits, budget):
    examples, spec, images, labels = digits
    split = examples_io.ExamplesSplit(examples, "train", spec, cache_budget=budget)
    # A teacher row per example that names the example: its pixel sum in the first column.
    teacher = np.zeros((len(images), spec.num_classes), dtype=np.float32)
    teacher[:, 0] = images.sum(axis=1)
    teacher[:, 1] = np.arange(len(images))
    (shuffled, y), = passes(split.batches(32, seed=3, teacher_outputs=teacher, task="classification"))
    order = y[:, spec.num_classes + 1].astype(int)
    assert sorted(order) == list(range(len(images)))
    assert np.allclose(shuffled.reshape(len(images), -1).sum(axis=1), y[:, spec.num_classes], atol=1e-4)
    assert np.allclose(y, distillation_targets(labels[order], teacher[order], "classification"))


def test_regression_distillation_targets_pair_the_label_with_the_teacher_prediction():
    labels, teacher = np.array([1.5, -2.0]), np.array([[1.0], [-1.0]], dtype=np.float32)
    y = examples_io.distillation_y(tf.constant(labels), tf.constant(teacher), "regression").numpy()
    assert np.allclose(y, distillation_targets(labels, teacher, "regression"))


def test_stacked_rows_fill_one_array_and_refuse_a_wrong_count():
    batches = [np.ones((3, 2)), np.zeros((2, 2))]
    assert examples_io.stack_rows(iter(batches), 5).tolist() == [[1, 1]] * 3 + [[0, 0]] * 2
    with pytest.raises(ValueError, match="4 expected"):
        examples_io.stack_rows(iter(batches), 4)
    with pytest.raises(ValueError, match="5 rows, 6 expected"):
        examples_io.stack_rows(iter(batches), 6)


def test_outputs_of_a_serving_function_are_in_the_order_of_the_labels(digits):
    examples, spec, images, labels = digits
    split = examples_io.ExamplesSplit(examples, "train", spec)

    def predict(serialized):
        parsed = tf.io.parse_example(serialized, {"label": tf.io.FixedLenFeature([], tf.int64)})
        return {"predictions": parsed["label"].numpy(), "rows": np.full(len(serialized), len(serialized))}

    assert np.array_equal(split.outputs(predict, "predictions"), labels)
    assert split.outputs(predict, "rows").max() <= examples_io.READ_BATCH_SIZE
    assert len(split.serialized_head(5)) == 5


@pytest.mark.integration  # trains: about 10 s a run
@pytest.mark.parametrize("budget", [None, 0], ids=["cached", "streamed"])
def test_a_trial_learns_the_same_whether_its_data_is_cached_or_streamed(digits, budget, tmp_path):
    examples, spec, _, _ = digits
    train = examples_io.ExamplesSplit(examples, "train", spec, cache_budget=budget)
    evaluation = examples_io.ExamplesSplit(examples, "eval", spec, cache_budget=budget)
    architecture = Architecture.from_dict({
        "blocks": [{"name": "flatten"}, {"name": "dense", "args": {"units": 32}}],
        "hyperparameters": {"batch_size": 32, "learning_rate": 0.01}})
    trial = Trial(trial_id="t", round=1, trainer=0, architecture=architecture, seed=5, algorithm="random",
                  run_id="r", study="digits")
    first = train_trial(trial, spec, train, evaluation, 4, None, str(tmp_path / "first"))
    again = train_trial(trial, spec, train, evaluation, 4, None, str(tmp_path / "again"))
    assert first.status == "completed", first.error
    assert first.metrics["accuracy"] > 0.8, first.metrics  # chance is 0.1
    assert again.metrics == first.metrics and again.curve == first.curve
