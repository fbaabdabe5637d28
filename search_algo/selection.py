"""The selection policy: which candidate (best single, ensemble, distilled)
becomes the run's model. It sees eval-split metrics only, never test.

- `best`: the highest eval score (accuracy; minus RMSE for regression);
  ties go to the smaller model.
- `lowest-loss`: the lowest eval loss (cross-entropy; mean squared error for
  regression, the same order as `best`); ties go to the smaller model. For a
  small eval split on which the candidates' accuracies differ by an example
  or two: the loss weighs every example's confidence, not only its argmax.
- `smallest-within=X`: the model with the fewest parameters whose eval
  accuracy is at most X percentage points below the best candidate's
  (accuracy >= best - X/100); for regression, whose eval RMSE is at most X
  percent above the best (rmse <= best * (1 + X/100)). Ties in size go to
  the higher eval score. `smallest-within=0` is `best` with ties to the
  smaller model.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

from search_algo.errors import UserError

BEST = "best"
LOWEST_LOSS = "lowest-loss"
SMALLEST_WITHIN = "smallest-within"


@dataclasses.dataclass(frozen=True)
class SelectionPolicy:
    kind: str
    margin: float = 0.0  # percentage points (classification) or percent of RMSE (regression)

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


def eval_score(metrics: Mapping[str, float], task: str) -> float:
    """Higher is better: eval accuracy, or minus eval RMSE."""
    return float(metrics["accuracy"]) if task == "classification" else -float(metrics["rmse"])


def choose(candidates: Sequence[Mapping[str, Any]], policy: SelectionPolicy, task: str) -> Mapping[str, Any]:
    """The chosen candidate among dicts with `eval` metrics and `num_params`.

    Deterministic: after the policy's criteria, the earlier candidate wins."""
    if not candidates:
        raise ValueError("nothing to choose from")

    def size(candidate) -> int:
        return int(candidate.get("num_params") or 0)

    def order(candidate) -> tuple:
        return (-eval_score(candidate["eval"], task), size(candidate))

    if policy.kind == BEST:
        return min(candidates, key=order)
    if policy.kind == LOWEST_LOSS:
        return min(candidates, key=lambda c: (float(c["eval"]["loss"]), size(c)))
    best = min(candidates, key=order)
    eligible = [c for c in candidates if _within(c["eval"], best["eval"], policy.margin, task)]
    return min(eligible, key=lambda c: (size(c), *order(c)))


def _within(metrics: Mapping[str, float], best: Mapping[str, float], margin: float, task: str) -> bool:
    # A tiny tolerance so that "within 0.5 points" includes exactly 0.5 points.
    if task == "classification":
        return float(metrics["accuracy"]) >= float(best["accuracy"]) - margin / 100.0 - 1e-12
    return float(metrics["rmse"]) <= float(best["rmse"]) * (1.0 + margin / 100.0) + 1e-12
