"""Scoring exported models on a split, the same way for every candidate.

Everything goes through the serving signature (serialized tf.Example in,
probabilities or predictions out), so a trial, an ensemble and a distilled
student are measured identically.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn import metrics as sk_metrics

from components import model_export
from components.examples_io import ExamplesSplit
from search_algo.dataset_spec import DatasetSpec
from search_algo.objective import prediction_metrics

LATENCY_BATCH_SIZES = (1, 256)


def output_key(spec: DatasetSpec) -> str:
    return "probabilities" if spec.task == "classification" else "predictions"


def predictions(model_uri: str, split: ExamplesSplit, spec: DatasetSpec) -> np.ndarray:
    """The model's output for every example of `split`, in its canonical order,
    predicted a batch at a time."""
    return split.outputs(model_export.load_predict_fn(model_uri), output_key(spec))


def metrics(values: np.ndarray, labels: np.ndarray, spec: DatasetSpec) -> dict[str, float]:
    """The scalar metrics, keyed as the trial records key them
    (search_algo.objective.prediction_metrics)."""
    return prediction_metrics(values, labels, spec.task)


def classification_details(values: np.ndarray, labels: np.ndarray, spec: DatasetSpec) -> dict:
    """Per-class precision and recall (0 for a class never predicted / absent)
    and the confusion matrix (rows: true class, columns: predicted class),
    in the dataset spec's class order."""
    classes = list(range(values.shape[-1]))
    predicted = np.argmax(values, axis=-1)
    labels = labels.astype(np.int64)
    precision, recall, _, support = sk_metrics.precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    names = list(spec.class_names) or [str(c) for c in classes]
    return {
        "per_class": [
            {"class": names[c], "precision": float(precision[c]), "recall": float(recall[c]), "support": int(support[c])}
            for c in classes
        ],
        "confusion_matrix": sk_metrics.confusion_matrix(labels, predicted, labels=classes).tolist(),
    }


def latency_ms(model_uri: str, serialized: np.ndarray, batch_sizes=LATENCY_BATCH_SIZES,
               repeats: int = 20) -> dict[int, float]:
    """Median CPU latency (ms) of one request through the serving signature,
    per batch size, after a warm-up call. Batches larger than the split reuse
    its examples."""
    predict = model_export.load_predict_fn(model_uri)
    result = {}
    for batch_size in batch_sizes:
        batch = np.resize(serialized, batch_size)
        predict(batch)
        timings = []
        for _ in range(repeats if batch_size < 64 else max(3, repeats // 4)):
            started = time.perf_counter()
            predict(batch)
            timings.append((time.perf_counter() - started) * 1000)
        result[batch_size] = float(np.median(timings))
    return result
