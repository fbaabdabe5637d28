"""Ensemble selection on the eval split.

- greedy: forward selection with replacement (Caruana et al., 2004); a member
  picked twice counts twice.
- bagged: greedy selection over many random halves of the candidates, the
  resulting weights averaged (Caruana et al., 2006, "Getting the most out of
  ensemble selection"), which overfits a small eval split less.
- learned: weights fitted by L-BFGS.
- average: the best candidates by their own eval score, equal weights (AdaNet's
  and Model Search's uniform average); nothing is fitted but the choice of
  members, so it has the least to overfit.

All four judge by the same objective: log loss for classification, squared
error for regression. Accuracy is the wrong thing to hill-climb on a small eval
split: it moves in steps of one example, so with strong candidates every
addition first costs an example and selection stops at one member (446 eval
examples on mnist1d: one example is 0.22 points).

`auto` compares bagged, average and learned on held-out halves of the eval
split (`choose_ensemble`).
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


def _scored_values(candidate_predictions: Sequence[np.ndarray], labels: np.ndarray, task: str) -> np.ndarray:
    """What `score_predictions` reads of each candidate, [candidates, examples]:
    the probability of each example's label, or the predicted value."""
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in candidate_predictions])
    if task == "classification":
        return stacked[:, np.arange(len(labels)), labels.astype(np.int64)]
    return stacked.reshape(len(stacked), -1)


def _scores_of_scored_values(values: np.ndarray, labels: np.ndarray, task: str) -> np.ndarray:
    """`score_predictions` of each row of `_scored_values`."""
    if task == "classification":
        return np.mean(np.log(np.clip(values, EPSILON, 1.0)), axis=1)
    return -np.sqrt(np.mean((values - labels.reshape(1, -1)) ** 2, axis=1))


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
    return _greedy_on_scored_values(_scored_values(candidate_predictions, labels, task), labels, task, max_members,
                                    max_steps)


def _greedy_on_scored_values(targets: np.ndarray, labels: np.ndarray, task: str, max_members: int,
                             max_steps: int | None = None) -> EnsembleChoice:
    """`greedy_selection` on the candidates' `_scored_values`."""
    # The score reads only each example's probability of its label (or its
    # value, for regression), and the average's is the average of the
    # members': averaging those alone gives the same scores, all candidates
    # at once, a class count times faster (cross-fitting runs this many times).
    counts = np.zeros(len(targets), dtype=np.int64)
    total = np.zeros_like(targets[0])
    best_score, steps = -np.inf, []
    for _ in range(max_steps or 4 * max_members):
        distinct = int(np.count_nonzero(counts))
        scores = _scores_of_scored_values((total + targets) / (counts.sum() + 1), labels, task)
        if distinct >= max_members:
            scores[counts == 0] = -np.inf
        pick = int(np.argmax(scores))
        if scores[pick] <= best_score:
            break
        best_score = float(scores[pick])
        counts[pick] += 1
        total += targets[pick]
        steps.append(best_score)
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
    targets = _scored_values(candidate_predictions, labels, task)
    for _ in range(bags):
        subset = np.sort(rng.choice(count, size, replace=False))
        choice = _greedy_on_scored_values(targets[subset], labels, task, max_members)
        for member, weight in zip(choice.members, choice.weights):
            weights[subset[member]] += weight / bags
    members = sorted(int(i) for i in np.argsort(-weights, kind="stable")[:max_members] if weights[i] > 0)
    kept = weights[members].sum()
    member_weights = [float(weights[i] / kept) for i in members]
    score = score_predictions(_average(candidate_predictions, members, member_weights), labels, task)
    return EnsembleChoice(members=members, weights=member_weights, score=score, steps=[score])


def average_selection(candidate_predictions: Sequence[np.ndarray], labels: np.ndarray, task: str,
                      max_members: int) -> EnsembleChoice:
    """The `max_members` candidates with the best eval score of their own
    (log loss, squared error), averaged with equal weights. Ties go to the
    lower index."""
    if not candidate_predictions:
        raise ValueError("ensemble selection needs at least one candidate")
    own = [score_predictions(np.asarray(p, dtype=np.float64), labels, task) for p in candidate_predictions]
    members = sorted(int(i) for i in np.argsort(-np.asarray(own), kind="stable")[:max_members])
    weights = [1.0 / len(members)] * len(members)
    score = score_predictions(_average(candidate_predictions, members, weights), labels, task)
    return EnsembleChoice(members=members, weights=weights, score=score, steps=[score])


WEIGHT_METHODS = ("auto", "bagged", "greedy", "learned", "average")
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


CV_FOLDS = 2
CV_REPEATS = 20


def cross_validated_score(method, candidate_predictions: Sequence[np.ndarray], labels: np.ndarray, task: str,
                          max_members: int, folds: int = CV_FOLDS, repeats: int = CV_REPEATS, seed: int = 0) -> float:
    """The method's score on held-out parts of the eval split: chosen on
    `folds - 1` parts, scored on the remaining one; averaged over the folds
    of `repeats` seeded shuffles (one 2-fold split of a few hundred examples
    is too noisy to rank methods whose scores differ in the third digit)."""
    predictions = [np.asarray(p) for p in candidate_predictions]
    scores = []
    for repeat in range(repeats):
        order = np.random.default_rng([seed, repeat]).permutation(len(labels))
        parts = np.array_split(order, folds)
        for k, held_out in enumerate(parts):
            fit_on = np.concatenate([p for j, p in enumerate(parts) if j != k])
            choice = method([p[fit_on] for p in predictions], labels[fit_on], task, max_members)
            held = [p[held_out] for p in predictions]
            scores.append(score_predictions(_average(held, choice.members, choice.weights), labels[held_out], task))
    return float(np.mean(scores))


# `auto` compares these, in this order of preference on a tie.
AUTO_METHODS = ("bagged", "average", "learned")


def choose_ensemble(candidate_predictions: Sequence[np.ndarray], labels: np.ndarray, task: str, max_members: int,
                    method: str = "auto", seed: int = 0) -> tuple[EnsembleChoice, dict]:
    """Bagged selection, equal-weight average, learned weights or greedy
    selection, at most `max_members`; `auto` (the default) takes whichever of
    bagged, average and learned scores best on repeated 2-fold
    cross-validation within the eval split (each chosen on one half, scored
    on the other). Only held-out scores compare them fairly: on the whole eval
    split the methods that fit more to it always look better. Returns the
    choice and how the methods compared."""
    if method not in WEIGHT_METHODS:
        raise ValueError(f"ensemble weights must be one of {WEIGHT_METHODS}, not {method!r}")

    def bagged_method(*args):
        return bagged_selection(*args, seed=seed)

    methods = {"bagged": bagged_method, "average": average_selection, "learned": learned_selection,
               "greedy": greedy_selection}
    if method != "auto":
        return methods[method](candidate_predictions, labels, task, max_members), {"method": method}
    choices = {name: methods[name](candidate_predictions, labels, task, max_members) for name in AUTO_METHODS}
    report: dict = {f"{name}_eval_score": choices[name].score for name in AUTO_METHODS}
    best = "bagged"
    if len(labels) >= 2 * CV_FOLDS:
        cv = {name: cross_validated_score(methods[name], candidate_predictions, labels, task, max_members, seed=seed)
              for name in AUTO_METHODS}
        report.update({f"{name}_cv_score": cv[name] for name in AUTO_METHODS})
        best = max(AUTO_METHODS, key=lambda name: (cv[name], -AUTO_METHODS.index(name)))
    report["method"] = best
    return choices[best], report
