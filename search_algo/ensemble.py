"""Ensemble selection (Caruana et al., 2004): greedy forward selection with
replacement on the eval split; a member picked twice counts twice."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

EPSILON = 1e-7


@dataclasses.dataclass
class EnsembleChoice:
    members: list[int]  # indices into the candidates, distinct, in order of first pick
    weights: list[float]  # per member, summing to 1
    score: float  # eval score of the ensemble (higher is better)
    steps: list[float]  # the score after each greedy step


def score_predictions(predictions: np.ndarray, labels: np.ndarray, task: str) -> float:
    """Higher is better: accuracy, with log loss breaking ties (classification);
    minus RMSE (regression)."""
    if task == "classification":
        accuracy = float(np.mean(np.argmax(predictions, axis=-1) == labels))
        picked = np.clip(predictions[np.arange(len(labels)), labels], EPSILON, 1.0)
        log_loss = float(-np.mean(np.log(picked)))
        return accuracy - 1e-4 * log_loss
    return -float(np.sqrt(np.mean((predictions.reshape(-1) - labels.reshape(-1)) ** 2)))


def greedy_selection(
    candidate_predictions: Sequence[np.ndarray],
    labels: np.ndarray,
    task: str,
    max_members: int,
    max_steps: int | None = None,
) -> EnsembleChoice:
    """Adds, step by step, the candidate that most improves the averaged
    prediction's eval score; stops when no candidate improves it, after
    `max_steps` picks, or when another pick would exceed `max_members`
    distinct members. Deterministic: ties go to the lower index."""
    if not candidate_predictions:
        raise ValueError("ensemble selection needs at least one candidate")
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in candidate_predictions])
    counts = np.zeros(len(stacked), dtype=np.int64)
    total = np.zeros_like(stacked[0])
    best_score, steps = -np.inf, []
    for _ in range(max_steps or 4 * max_members):
        distinct = int(np.count_nonzero(counts))
        scores = []
        for index in range(len(stacked)):
            if counts[index] == 0 and distinct >= max_members:
                scores.append(-np.inf)
                continue
            average = (total + stacked[index]) / (counts.sum() + 1)
            scores.append(score_predictions(average, labels, task))
        pick = int(np.argmax(scores))
        if scores[pick] <= best_score:
            break
        best_score = scores[pick]
        counts[pick] += 1
        total += stacked[pick]
        steps.append(float(best_score))
    members = [int(i) for i in np.flatnonzero(counts)]
    weights = [float(counts[i] / counts.sum()) for i in members]
    return EnsembleChoice(members=members, weights=weights, score=float(best_score), steps=steps)
