"""Mixup for the Distiller's transfer set (function matching)."""

from __future__ import annotations

import numpy as np

from search_algo.distillation import DistillationLoss, distillation_targets, mixup_features, one_hot_labels
from search_algo.testing import random_batch, sequence_spec, tabular_spec


def _mixed(spec, seed):
    features, labels = random_batch(spec, batch_size=64, seed=3)
    hard = one_hot_labels(labels, spec.num_classes)
    return features, hard, mixup_features(features, hard, np.random.default_rng(seed))


def test_mixup_interpolates_floats_and_labels_alike_and_keeps_the_heavier_examples_strings():
    spec = tabular_spec()
    features, hard, (mixed, labels) = _mixed(spec, seed=0)
    assert np.array_equal(mixed["colour"], features["colour"])
    # The label's weight on the example's own class is the weight its own features got.
    own = labels[np.arange(len(labels)), hard.argmax(-1)]
    assert np.all(own >= 0.5 - 1e-6) and np.allclose(labels.sum(-1), 1.0)
    changed = ~np.isclose(mixed["age"], features["age"])
    assert changed.mean() > 0.5  # a Beta(0.4, 0.4) weight is rarely exactly 1
    assert features["age"].min() <= mixed["age"].min() and mixed["age"].max() <= features["age"].max()


def test_mixup_is_deterministic_for_a_seed_and_differs_between_seeds():
    spec = sequence_spec()
    _, _, (first, first_labels) = _mixed(spec, seed=1)
    _, _, (again, again_labels) = _mixed(spec, seed=1)
    _, _, (other, _) = _mixed(spec, seed=2)
    name = spec.features[0].name
    assert np.array_equal(first[name], again[name]) and np.array_equal(first_labels, again_labels)
    assert not np.allclose(first[name], other[name])
    assert first[name].shape == (64, *spec.features[0].shape) and first[name].dtype == np.float32


def test_distillation_targets_take_mixed_labels_and_the_loss_learns_them():
    teacher = np.array([[0.7, 0.3], [0.2, 0.8]], dtype=np.float32)
    mixed = np.array([[0.6, 0.4], [0.0, 1.0]], dtype=np.float32)
    targets = distillation_targets(mixed, teacher, "classification")
    assert np.allclose(targets, np.concatenate([mixed, teacher], -1))
    assert np.allclose(distillation_targets(np.array([0, 1]), teacher, "classification")[:, :2], np.eye(2))
    loss = DistillationLoss(num_classes=2, temperature=1.0, alpha=1.0)
    # Cross-entropy against soft labels is lowest at those labels.
    at_labels = float(np.mean(loss(targets, mixed.clip(1e-6, 1))))
    elsewhere = float(np.mean(loss(targets, np.array([[0.9, 0.1], [0.3, 0.7]], dtype=np.float32))))
    assert at_labels < elsewhere


def test_regression_labels_mix_as_values():
    features, labels = random_batch(sequence_spec(task="regression"), batch_size=16, seed=0)
    mixed, mixed_labels = mixup_features(features, labels.astype(np.float32), np.random.default_rng(0))
    assert mixed_labels.shape == labels.shape
    assert np.all(mixed_labels >= labels.min() - 1e-3) and np.all(mixed_labels <= labels.max() + 1e-3)
    assert not np.allclose(mixed_labels, labels)
