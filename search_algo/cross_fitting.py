"""Estimates of a candidate's eval metrics that were not fitted on the
examples that score them (cross-fitting).

The Ensembler chooses the ensemble's method, members and weights on the eval
split, and the best single model is the best of many trials on it. Scored on
that same split, both look better than they are: the ensemble by construction
(greedy selection never ends worse than its best member on the examples it
climbed on), the best single model by the winner's curse (the maximum of
many noisy scores is biased upwards). The distilled student, trained on train,
is scored fairly by eval as it is, so comparing the three on eval favours the
ensemble, then the best single model.

Cross-fitting removes that. Eval's examples are dealt into K folds; for each
fold, the whole procedure - choosing the best trial, or choosing the
ensemble's method, members and weights - runs on the other K - 1 folds and
predicts the held-out fold. Every example then has one prediction made
without it, and those out-of-fold predictions score the procedure on all of
eval, none of them by a model fitted on its example. The model shipped is the
procedure run once more on all of eval; its estimate is a little pessimistic,
since each fold's procedure saw (K - 1)/K of the examples.

Everything here works on per-example predictions (a few numbers an example),
never on features, and is deterministic: folds depend only on the examples'
positions in the split's canonical order, their labels and a seed.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from search_algo.ensemble import choose_ensemble
from search_algo.objective import ObjectiveLike, as_objective, prediction_metrics

FOLDS = 5
# A fold smaller than this leaves too little to score; with fewer examples
# than FOLDS of them, fewer folds, and under two folds no cross-fitting.
MIN_FOLD_EXAMPLES = 2
FOLD_SEED = 0

# A procedure fits on some examples' candidate predictions and labels and
# returns a combination of the candidates, (index, weight) pairs with weights
# summing to 1, and a description of what it chose.
Combination = list[tuple[int, float]]
Procedure = Callable[[Sequence[np.ndarray], np.ndarray], tuple[Combination, dict[str, Any]]]


@dataclasses.dataclass
class Estimate:
    metrics: dict[str, float]  # keyed as trials' and candidates' metrics (prediction_metrics)
    how: str  # for people: the split, and how the predictions scoring it were made
    examples: int
    folds: int  # 0: not cross-fitted
    per_fold: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # what each fold's procedure chose

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def fold_count(examples: int, folds: int = FOLDS) -> int:
    """The folds `examples` examples allow: `folds`, fewer when a fold would
    hold under MIN_FOLD_EXAMPLES, 0 when that leaves under two."""
    count = min(folds, examples // MIN_FOLD_EXAMPLES)
    return count if count >= 2 else 0


def fold_assignment(labels: np.ndarray, folds: int, task: str, seed: int = FOLD_SEED) -> np.ndarray:
    """Each example's fold, 0 .. folds - 1, by its position in the split's
    canonical order. The examples are shuffled by `seed` and dealt round-robin,
    for classification class by class, so every fold holds each class in
    proportion (a fold without a class would score that class on nothing).
    Fold sizes differ by at most one."""
    count = len(labels)
    order = np.random.default_rng(seed).permutation(count)
    if task == "classification":
        # Stable: within a class, the shuffled order stays.
        order = order[np.argsort(np.asarray(labels).reshape(-1)[order], kind="stable")]
    assignment = np.empty(count, dtype=np.int64)
    assignment[order] = np.arange(count) % folds
    return assignment


def combine(candidate_predictions: Sequence[np.ndarray], combination: Combination) -> np.ndarray:
    return sum(weight * np.asarray(candidate_predictions[index], dtype=np.float64) for index, weight in combination)


def out_of_fold_predictions(procedure: Procedure, candidate_predictions: Sequence[np.ndarray], labels: np.ndarray,
                            assignment: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Each example's prediction by the procedure fitted on the other folds,
    and what the procedure chose for each fold."""
    predictions = [np.asarray(p, dtype=np.float64) for p in candidate_predictions]
    result = np.zeros_like(predictions[0])
    chosen = []
    for fold in range(int(assignment.max()) + 1):
        held_out = assignment == fold
        combination, description = procedure([p[~held_out] for p in predictions], labels[~held_out])
        result[held_out] = combine([p[held_out] for p in predictions], combination)
        chosen.append(description)
    return result, chosen


def best_single_procedure(objective: ObjectiveLike, task: str) -> Procedure:
    """The candidate with the best objective on the examples given; ties go
    to the lower index (pass the candidates ranked as the study ranks trials:
    the smaller, then the earlier wins a tie)."""
    objective = as_objective(objective)

    def procedure(predictions: Sequence[np.ndarray], labels: np.ndarray):
        scores = [objective.score(prediction_metrics(p, labels, task)) for p in predictions]
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        return [(best, 1.0)], {"members": [best], "weights": [1.0]}

    return procedure


def ensemble_procedure(task: str, max_members: int, method: str, seed: int = 0) -> Procedure:
    """The Ensembler's choice (search_algo/ensemble.py `choose_ensemble`),
    method included when `auto`."""

    def procedure(predictions: Sequence[np.ndarray], labels: np.ndarray):
        choice, comparison = choose_ensemble(predictions, labels, task, max_members=max_members, method=method,
                                             seed=seed)
        return (list(zip(choice.members, choice.weights)),
                {"members": choice.members, "weights": choice.weights, "method": comparison["method"]})

    return procedure


def cross_fitted_estimate(procedure: Procedure, candidate_predictions: Sequence[np.ndarray], labels: np.ndarray,
                          task: str, what: str, split: str = "eval", folds: int = FOLDS,
                          seed: int = FOLD_SEED) -> Estimate:
    """The procedure's metrics on `split` from out-of-fold predictions. `what`
    says what each fold's procedure chose on the other folds (e.g. "the best
    trial"). With too few examples to cross-fit, the procedure's in-sample
    metrics, marked as such."""
    labels = np.asarray(labels)
    count = fold_count(len(labels), folds)
    if not count:
        combination, description = procedure(candidate_predictions, labels)
        metrics = prediction_metrics(combine(candidate_predictions, combination), labels, task)
        return Estimate(metrics, f"{split}, in-sample: {what} chosen on these same {len(labels)} examples "
                                 f"(too few to cross-fit; optimistic)", len(labels), 0, [description])
    assignment = fold_assignment(labels, count, task, seed)
    predictions, per_fold = out_of_fold_predictions(procedure, candidate_predictions, labels, assignment)
    return Estimate(prediction_metrics(predictions, labels, task),
                    f"{split}, out-of-fold over {count} folds: each fold scored by {what}, chosen on the other "
                    f"{count - 1} folds", len(labels), count, per_fold)


def plain_estimate(predictions: np.ndarray, labels: np.ndarray, task: str, how: str) -> Estimate:
    """The metrics of a model's own predictions, for a model that fitted
    nothing on these examples (or, said in `how`, one that did)."""
    return Estimate(prediction_metrics(predictions, labels, task), how, len(labels), 0)
