"""Scoring metrics on small arrays, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from components import scoring
from search_algo.testing import sequence_spec


def test_classification_metrics_and_details():
    spec = sequence_spec()  # classes a, b, c
    labels = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1],
                              [0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.5, 0.25, 0.25]])
    result = scoring.metrics(probabilities, labels, spec)
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["loss"] == pytest.approx(-np.mean(np.log([0.8, 0.2, 0.8, 0.6, 0.6, 0.25])))
    assert "roc_auc" not in result  # three classes
    details = scoring.classification_details(probabilities, labels, spec)
    assert details["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    per_class = {row["class"]: row for row in details["per_class"]}
    assert per_class["a"]["precision"] == pytest.approx(0.5) and per_class["a"]["recall"] == pytest.approx(0.5)
    assert per_class["b"]["precision"] == pytest.approx(2 / 3) and per_class["b"]["recall"] == 1.0
    assert per_class["c"]["precision"] == 1.0 and per_class["c"]["recall"] == pytest.approx(0.5)
    assert per_class["c"]["support"] == 2


def test_binary_roc_auc():
    spec = sequence_spec()
    spec.class_names = ["no", "yes"]
    labels = np.array([0, 0, 1, 1])
    positive = np.array([0.1, 0.6, 0.4, 0.9])
    result = scoring.metrics(np.stack([1 - positive, positive], axis=1), labels, spec)
    # Of the 4 (positive, negative) pairs, 3 are ordered right.
    assert result["roc_auc"] == pytest.approx(0.75)
    assert result["accuracy"] == pytest.approx(0.5)


def test_regression_metrics():
    spec = sequence_spec(task="regression")
    labels = np.array([1.0, 2.0, 3.0, 4.0])
    predictions = np.array([1.5, 2.0, 2.0, 4.5])
    result = scoring.metrics(predictions, labels, spec)
    assert result["mae"] == pytest.approx(0.5)
    assert result["loss"] == pytest.approx(0.375)
    assert result["rmse"] == pytest.approx(np.sqrt(0.375))
    assert result["r2"] == pytest.approx(1 - 1.5 / 5.0)


def test_serialized_features_parse_back_to_the_same_values():
    import tensorflow as tf

    from components import examples_io
    from search_algo.model_builder import parse_feature_spec
    from search_algo.testing import random_batch, sequence_spec, tabular_spec

    for spec in (tabular_spec(), sequence_spec(channels=2)):
        features, _ = random_batch(spec, batch_size=5, seed=1)
        serialized = examples_io.serialize_features(features, spec)
        parsed = tf.io.parse_example(tf.constant(list(serialized)), parse_feature_spec(spec))
        for name, values in features.items():
            back = parsed[name].numpy()
            if values.dtype == object:
                assert [v.decode() for v in back] == list(values)
            else:
                assert np.allclose(back, values)
