"""Scoring exported models on a split, the same way for every candidate."""

from __future__ import annotations

import time

import numpy as np

from components import model_export
from search_algo.dataset_spec import DatasetSpec
from search_algo.ensemble import EPSILON


def output_key(spec: DatasetSpec) -> str:
    return "probabilities" if spec.task == "classification" else "predictions"


def predictions(model_uri: str, serialized: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    return model_export.load_predict_fn(model_uri)(serialized)[output_key(spec)]


def metrics(values: np.ndarray, labels: np.ndarray, spec: DatasetSpec) -> dict[str, float]:
    """accuracy and loss (cross-entropy) for classification; rmse and loss
    (mean squared error) for regression - the keys the trial records use."""
    if spec.task == "classification":
        picked = np.clip(values[np.arange(len(labels)), labels.astype(np.int64)], EPSILON, 1.0)
        return {
            "accuracy": float(np.mean(np.argmax(values, axis=-1) == labels)),
            "loss": float(-np.mean(np.log(picked))),
        }
    errors = values.reshape(-1) - labels.reshape(-1)
    return {"rmse": float(np.sqrt(np.mean(errors**2))), "loss": float(np.mean(errors**2))}


def score(metric_values: dict[str, float], spec: DatasetSpec) -> float:
    """Higher is better."""
    return metric_values["accuracy"] if spec.task == "classification" else -metric_values["rmse"]


def latency_ms(model_uri: str, serialized: np.ndarray, repeats: int = 20) -> float:
    """Median CPU latency of one request of one example, after a warm-up call."""
    predict = model_export.load_predict_fn(model_uri)
    one = serialized[:1]
    predict(one)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        predict(one)
        timings.append((time.perf_counter() - started) * 1000)
    return float(np.median(timings))
