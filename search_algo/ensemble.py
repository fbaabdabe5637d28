"""Ensemble selection on the eval split.

- greedy: forward selection with replacement (Caruana et al., 2004); a member
  picked twice counts twice.
- bagged: greedy selection over many random halves of the candidates, the
  resulting weights averaged (Caruana et al., 2006, "Getting the most out of
  ensemble selection"), which overfits a small eval split less.
- learned: weights fitted by L-BFGS.

All three minimise the same objective: log loss for classification, squared
error for regression. Accuracy is the wrong thing to hill-climb on a small eval
split: it moves in steps of one example, so with strong candidates every
addition first costs an example and selection stops at one member (446 eval
examples on mnist1d: one example is 0.22 points).
"""

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
    """Higher is better: minus the log loss (classification), minus RMSE
    (regression)."""
    if task == "classification":
        picked = np.clip(predictions[np.arange(len(labels)), labels.astype(np.int64)], EPSILON, 1.0)
        return float(np.mean(np.log(picked)))
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


BAGS = 20
BAG_SHARE = 0.5


def bagged_selection(candidate_predictions: Sequence[np.ndarray], labels: np.ndarray, task: str, max_members: int,
                     bags: int = BAGS, seed: int = 0) -> EnsembleChoice:
    """Greedy selection on `bags` seeded random halves of the candidates; each
    bag's weights averaged, then the `max_members` heaviest kept and
    renormalised. Deterministic for a seed. With two candidates or fewer there
    is nothing to bag: plain greedy selection."""
    count = len(candidate_predictions)
    if count <= 2:
        return greedy_selection(candidate_predictions, labels, task, max_members)
    rng = np.random.default_rng(seed)
    size = max(2, int(round(BAG_SHARE * count)))
    weights = np.zeros(count)
    for _ in range(bags):
        subset = np.sort(rng.choice(count, size, replace=False))
        choice = greedy_selection([candidate_predictions[i] for i in subset], labels, task, max_members)
        for member, weight in zip(choice.members, choice.weights):
            weights[subset[member]] += weight / bags
    members = sorted(int(i) for i in np.argsort(-weights, kind="stable")[:max_members] if weights[i] > 0)
    kept = weights[members].sum()
    member_weights = [float(weights[i] / kept) for i in members]
    score = score_predictions(_average(candidate_predictions, members, member_weights), labels, task)
    return EnsembleChoice(members=members, weights=member_weights, score=score, steps=[score])


WEIGHT_METHODS = ("auto", "bagged", "greedy", "learned")
MIN_WEIGHT = 1e-3


def _objective(stacked: np.ndarray, labels: np.ndarray, task: str):
    """Mean log loss (classification) or mean squared error (regression) of
    the softmax(logits)-weighted average, and its gradient in the logits."""
    if task == "classification":
        picked = stacked[:, np.arange(len(labels)), labels.astype(np.int64)]  # [members, examples]
    else:
        picked = stacked.reshape(len(stacked), -1)
        target = labels.reshape(-1).astype(np.float64)

    def value_and_grad(logits: np.ndarray):
        weights = np.exp(logits - logits.max())
        weights /= weights.sum()
        mixed = weights @ picked
        if task == "classification":
            mixed = np.clip(mixed, EPSILON, None)
            value = -np.mean(np.log(mixed))
            d_weights = -np.mean(picked / mixed, axis=1)
        else:
            residual = mixed - target
            value = np.mean(residual**2)
            d_weights = 2 * np.mean(picked * residual, axis=1)
        # Through the softmax: dL/dz = w * (dL/dw - w . dL/dw).
        return float(value), weights * (d_weights - weights @ d_weights)

    return value_and_grad


def fit_weights(candidate_predictions: Sequence[np.ndarray], labels: np.ndarray, task: str) -> np.ndarray:
    """Non-negative weights summing to 1 (a softmax of free logits) that
    minimise the eval log loss (classification) or squared error (regression)
    of the weighted average. Deterministic: L-BFGS from equal weights."""
    from scipy.optimize import minimize

    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in candidate_predictions])
    result = minimize(_objective(stacked, labels, task), np.zeros(len(stacked)), jac=True, method="L-BFGS-B",
                      options={"maxiter": 200})
    weights = np.exp(result.x - result.x.max())
    return weights / weights.sum()


def learned_selection(candidate_predictions: Sequence[np.ndarray], labels: np.ndarray, task: str,
                      max_members: int) -> EnsembleChoice:
    """Learned weights over every candidate, then the `max_members` largest
    (weights under MIN_WEIGHT dropped) refitted among themselves."""
    weights = fit_weights(candidate_predictions, labels, task)
    keep = [int(i) for i in np.argsort(-weights, kind="stable")[:max_members] if weights[i] >= MIN_WEIGHT]
    keep = sorted(keep or [int(np.argmax(weights))])
    refit = fit_weights([candidate_predictions[i] for i in keep], labels, task)
    kept = [(i, float(w)) for i, w in zip(keep, refit) if w >= MIN_WEIGHT] or [(keep[int(np.argmax(refit))], 1.0)]
    total = sum(w for _, w in kept)
    members, member_weights = [i for i, _ in kept], [w / total for _, w in kept]
    score = score_predictions(_average(candidate_predictions, members, member_weights), labels, task)
    return EnsembleChoice(members=members, weights=member_weights, score=score, steps=[score])


def _average(candidate_predictions: Sequence[np.ndarray], members: Sequence[int], weights: Sequence[float]) -> np.ndarray:
    return sum(w * np.asarray(candidate_predictions[i], dtype=np.float64) for i, w in zip(members, weights))


def cross_validated_score(method, candidate_predictions: Sequence[np.ndarray], labels: np.ndarray, task: str,
                          max_members: int, folds: int = 2, seed: int = 0) -> float:
    """The method's score on held-out parts of the eval split: chosen on
    `folds - 1` parts, scored on the remaining one, averaged."""
    order = np.random.default_rng(seed).permutation(len(labels))
    parts = np.array_split(order, folds)
    scores = []
    for k, held_out in enumerate(parts):
        fit_on = np.concatenate([p for j, p in enumerate(parts) if j != k])
        choice = method([np.asarray(p)[fit_on] for p in candidate_predictions], labels[fit_on], task, max_members)
        held = [np.asarray(p)[held_out] for p in candidate_predictions]
        scores.append(score_predictions(_average(held, choice.members, choice.weights), labels[held_out], task))
    return float(np.mean(scores))


def choose_ensemble(candidate_predictions: Sequence[np.ndarray], labels: np.ndarray, task: str, max_members: int,
                    method: str = "auto", seed: int = 0) -> tuple[EnsembleChoice, dict]:
    """Bagged selection (the default), greedy selection or learned weights, at
    most `max_members`.

    `auto` takes the learned weights only when they beat bagged selection both
    on 2-fold cross-validation within the eval split (each method chosen on one
    half, scored on the other, so fitting weights on eval is not rewarded for
    overfitting it) and on the whole eval split. Returns the choice and how
    the methods compared."""
    if method not in WEIGHT_METHODS:
        raise ValueError(f"ensemble weights must be one of {WEIGHT_METHODS}, not {method!r}")
    if method == "greedy":
        return greedy_selection(candidate_predictions, labels, task, max_members), {"method": "greedy"}

    def bagged_method(*args):
        return bagged_selection(*args, seed=seed)

    bagged = bagged_method(candidate_predictions, labels, task, max_members)
    if method == "bagged":
        return bagged, {"method": "bagged"}
    learned = learned_selection(candidate_predictions, labels, task, max_members)
    if method == "learned":
        return learned, {"method": "learned"}
    report = {"bagged_eval_score": bagged.score, "learned_eval_score": learned.score}
    if len(labels) >= 4:
        report["bagged_cv_score"] = cross_validated_score(
            bagged_method, candidate_predictions, labels, task, max_members, seed=seed)
        report["learned_cv_score"] = cross_validated_score(
            learned_selection, candidate_predictions, labels, task, max_members, seed=seed)
        better = report["learned_cv_score"] > report["bagged_cv_score"] and learned.score >= bagged.score
    else:
        better = False
    report["method"] = "learned" if better else "bagged"
    return (learned if better else bagged), report
