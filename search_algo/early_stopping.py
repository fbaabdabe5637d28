"""Early stopping across trials: the median stopping rule.

A trial stops once, after a warm-up, its best eval score so far is below the
median of what earlier trials had reached by the same epoch (Golovin et al.,
"Google Vizier", 2017; Optuna's MedianPruner). Clearly bad trials give their
remaining epochs back to the search; promising ones train to the full budget.

Curves are eval scores per epoch, higher is better (accuracy, or minus RMSE),
as `Trial.curve` records them. The reference is built from the study's history,
so a re-run with the same history stops the same trials.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Iterable, Optional, Sequence

import numpy as np

if TYPE_CHECKING:
    from search_algo.trial import Trial

RULES = ("median", "none")
# Fewer reference curves than this at an epoch and nothing is stopped there:
# a median of two or three noisy curves stops good trials by chance.
MIN_REFERENCE_TRIALS = 4


def make_pruner(rule: str, history: Iterable["Trial"], epochs: int) -> Optional["MedianStoppingRule"]:
    """The early-stopping rule of a round (`median` or `none`), its reference
    the curves of the study's completed trials so far, as Optuna's pruners
    read the study: every trainer builds the same one from the same history."""
    if rule not in RULES:
        raise ValueError(f"early_stopping must be one of {RULES}, got {rule!r}")
    if rule == "none":
        return None
    return MedianStoppingRule.from_curves([t.curve for t in history if t.completed and t.curve], warmup_epochs(epochs))


def warmup_epochs(epochs: int) -> int:
    """Epochs every trial gets before it can be stopped: a third of the budget,
    at least 2, because early curves of good and bad models cross."""
    return max(2, math.ceil(epochs / 3))


def running_best(curve: Sequence[float]) -> list[float]:
    return list(np.maximum.accumulate(np.asarray(curve, dtype=float))) if len(curve) else []


@dataclasses.dataclass
class MedianStoppingRule:
    """Stops a trial whose best-so-far is below the reference median at its epoch."""

    reference: list[list[float]]
    warmup: int
    min_trials: int = MIN_REFERENCE_TRIALS

    @classmethod
    def from_curves(cls, curves: Iterable[Sequence[float]], warmup: int,
                    min_trials: int = MIN_REFERENCE_TRIALS) -> "MedianStoppingRule":
        return cls([running_best(c) for c in curves if len(c)], warmup, min_trials)

    def add(self, curve: Sequence[float]) -> None:
        """A trial that just finished joins the reference (trials trained later
        in the same trainer are compared against it too)."""
        if len(curve):
            self.reference.append(running_best(curve))

    def median_at(self, epoch: int) -> Optional[float]:
        """Median best-so-far after `epoch` epochs (1-based) over the reference
        trials that trained that long; None with too few of them."""
        values = [c[epoch - 1] for c in self.reference if len(c) >= epoch]
        finite = [v for v in values if math.isfinite(v)]
        if len(finite) < self.min_trials:
            return None
        return float(np.median(finite))

    def should_stop(self, curve: Sequence[float]) -> bool:
        epoch = len(curve)
        if epoch < self.warmup:
            return False
        median = self.median_at(epoch)
        if median is None:
            return False
        best = max(curve)
        return not math.isfinite(best) or best < median


def fidelity(trial: "Trial", default_epochs: int) -> tuple[int, int]:
    """(epochs it trains, cumulative epochs it reaches): only curves of the
    same fidelity are comparable, epoch by epoch."""
    return trial.planned_epochs or default_epochs, trial.total_epochs or default_epochs


class PrunersByFidelity:
    """One median rule per fidelity of a budget schedule's trials (new
    candidates at the bottom rung, promotions to each rung), each with the
    curves of the completed trials of that fidelity as its reference."""

    def __init__(self, rule: str, history: Iterable["Trial"], default_epochs: int):
        self.rule, self.default_epochs = rule, default_epochs
        self.history = [t for t in history if t.completed]
        self._pruners: dict[tuple[int, int], Optional[MedianStoppingRule]] = {}

    def for_trial(self, trial: "Trial") -> Optional[MedianStoppingRule]:
        key = fidelity(trial, self.default_epochs)
        if key not in self._pruners:
            same = [t for t in self.history if fidelity(t, self.default_epochs) == key]
            self._pruners[key] = make_pruner(self.rule, same, key[0])
        return self._pruners[key]

    def add(self, trial: "Trial") -> None:
        """A trial that just finished joins its fidelity's reference."""
        pruner = self.for_trial(trial)
        if pruner is not None and trial.completed:
            pruner.add(trial.curve)
