"""The selection policy: which candidate (best single, ensemble, distilled)
becomes the run's model. It reads each candidate's `estimate`: eval-split
metrics, never test, from predictions not fitted on the examples they score
(out-of-fold for the ensemble and the best single model, which are chosen on
eval; search_algo/cross_fitting.py). On plain eval metrics the ensemble would
win by construction and the best single model by the winner's curse; every
policy below compares like with like.

- `best`: the best estimated value of the study's objective (accuracy, or minus
  RMSE for regression, unless the study chose another); ties go to the
  smaller model.
- `lowest-loss`: the lowest estimated eval loss (cross-entropy; mean squared error for
  regression, the same order as `best`); ties go to the smaller model. For a
  small eval split on which the candidates' accuracies differ by an example
  or two: the loss weighs every example's confidence, not only its argmax.
- `smallest-within=X`: the model with the fewest parameters whose eval
  objective is at most X worse than the best candidate's: X percentage
  points for a metric in [0, 1] (accuracy, ROC AUC, macro-F1: value >=
  best - X/100), X percent of the best otherwise (RMSE, MAE, log loss:
  value <= best * (1 + X/100)). Ties in size go to the higher eval score. `smallest-within=0` is `best` with ties to the
  smaller model.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

from search_algo.errors import UserError
from search_algo.objective import ObjectiveLike, as_objective

BEST = "best"
LOWEST_LOSS = "lowest-loss"
SMALLEST_WITHIN = "smallest-within"


@dataclasses.dataclass(frozen=True)
class SelectionPolicy:
    kind: str
    margin: float = 0.0  # percentage points (a metric in [0, 1]) or percent of the best value

    def __str__(self) -> str:
        return self.kind if self.kind in (BEST, LOWEST_LOSS) else f"{SMALLEST_WITHIN}={self.margin:g}"


def parse_policy(text: Any) -> SelectionPolicy:
    """`best`, `lowest-loss` or `smallest-within=X` with X >= 0; raises
    UserError otherwise."""
    value = str(text).strip().lower()
    if value in (BEST, LOWEST_LOSS):
        return SelectionPolicy(value)
    name, sep, number = value.partition("=")
    if name == SMALLEST_WITHIN and sep:
        try:
            margin = float(number)
        except ValueError:
            margin = math.nan
        if math.isfinite(margin) and margin >= 0:
            return SelectionPolicy(SMALLEST_WITHIN, margin)
    raise UserError(f"select: expected 'best', 'lowest-loss' or 'smallest-within=X' (X >= 0 percentage points), got {text!r}")


def choose(candidates: Sequence[Mapping[str, Any]], policy: SelectionPolicy,
           objective: ObjectiveLike) -> Mapping[str, Any]:
    """The chosen candidate among dicts with `estimate` metrics (eval metrics
    not fitted on the examples that score them) and `num_params`.

    Deterministic: after the policy's criteria, the earlier candidate wins."""
    if not candidates:
        raise ValueError("nothing to choose from")
    objective = as_objective(objective)

    def size(candidate) -> int:
        return int(candidate.get("num_params") or 0)

    def order(candidate) -> tuple:
        return (-objective.score(candidate["estimate"]), size(candidate))

    if policy.kind == BEST:
        return min(candidates, key=order)
    if policy.kind == LOWEST_LOSS:
        return min(candidates, key=lambda c: (float(c["estimate"]["loss"]), size(c)))
    best = min(candidates, key=order)
    eligible = [c for c in candidates if objective.within(c["estimate"], best["estimate"], policy.margin)]
    return min(eligible, key=lambda c: (size(c), *order(c)))
