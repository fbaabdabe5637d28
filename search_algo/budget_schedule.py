"""Multi-fidelity promotion: train many candidates briefly, promote the best.

With the `asha` schedule (Li et al., "A System for Massively Parallel
Hyperparameter Tuning", 2020 - asynchronous successive halving) a new
candidate trains only the bottom rung's epochs. Each round, before the search
algorithm proposes anything, the schedule fills the round's slots with
promotions: a trial is promotable from its rung when it is among the best
1/`reduction_factor` of the trials completed at that rung, and it has not
been promoted yet. A promotion is a trial like any other - its own id, its
`parent` the trial it continues, `transfer` = `continue` - that starts from
its parent's trained weights (the weight-transfer path: the same
architecture, so every block and the head are copied) and trains for the
epochs between its parent's rung and the next (`planned_epochs`);
`total_epochs` records where it ends. Rungs are cumulative epoch budgets:
the study's `epochs`, divided by `reduction_factor` per rung down to
`min_epochs`.

Promotions go highest rung first and best first, so the slots go to the
trials closest to the full budget. The rest of the round is the algorithm's:
new candidates at the bottom rung. Any algorithm works with it, because the
schedule only reads the history. The schedule holds no state beyond the
history, so a resumed run promotes the same trials.

`none` (the default) trains every trial for the study's `epochs`.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

from search_algo.errors import UserError
from search_algo.objective import ObjectiveLike
from search_algo.trial import TRANSFER_CONTINUE, Trial, rank_trials

SCHEDULES = ("none", "asha")
DEFAULT_REDUCTION_FACTOR = 3


@dataclasses.dataclass(frozen=True)
class Promotion:
    """A trial to continue from its rung to the next."""

    trial: Trial
    from_epochs: int
    to_epochs: int

    @property
    def planned_epochs(self) -> int:
        return self.to_epochs - self.from_epochs


@dataclasses.dataclass(frozen=True)
class BudgetSchedule:
    kind: str = "none"
    # The study's epochs: the top rung, and every trial's budget without a schedule.
    epochs: int = 1
    reduction_factor: int = DEFAULT_REDUCTION_FACTOR
    # The bottom rung; None: epochs / reduction_factor^2, at least 1.
    min_epochs: Optional[int] = None

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise UserError(f"budget_schedule must be one of {', '.join(SCHEDULES)}, got {self.kind!r}")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise UserError(f"budget schedule: epochs must be a positive integer, got {self.epochs!r}")
        if not isinstance(self.reduction_factor, int) or self.reduction_factor < 2:
            raise UserError(f"reduction_factor must be an integer of at least 2, got {self.reduction_factor!r}")
        if self.min_epochs is None:
            object.__setattr__(self, "min_epochs", max(1, round(self.epochs / self.reduction_factor ** 2)))
        if not isinstance(self.min_epochs, int) or not 1 <= self.min_epochs <= self.epochs:
            raise UserError(f"min_epochs must be an integer from 1 to epochs ({self.epochs}), got {self.min_epochs!r}")

    @property
    def active(self) -> bool:
        return self.kind != "none"

    @property
    def rungs(self) -> tuple[int, ...]:
        """Cumulative epoch budgets, ascending: `epochs` divided by the
        reduction factor again and again (rounded), down to `min_epochs`.
        Counting down from the top keeps the last step a full factor (10
        epochs: 1, 3, 10 rather than 1, 3, 9, 10)."""
        if not self.active:
            return (self.epochs,)
        budgets, level = set(), 0
        while (budget := round(self.epochs / self.reduction_factor ** level)) >= self.min_epochs:
            budgets.add(budget)
            level += 1
        return tuple(sorted(budgets))

    @property
    def first_epochs(self) -> int:
        """What a new candidate trains."""
        return self.rungs[0]

    def promotions(self, history: Sequence[Trial], objective: ObjectiveLike, limit: int) -> list[Promotion]:
        """Up to `limit` trials to continue, highest rung first, best first."""
        if not self.active or limit <= 0:
            return []
        continued = {t.parent for t in history if t.transfer == TRANSFER_CONTINUE and t.parent}
        chosen: list[Promotion] = []
        rungs = self.rungs
        for level in range(len(rungs) - 2, -1, -1):
            at_rung = [t for t in history if t.completed and reached_epochs(t, self.epochs) == rungs[level]]
            quota = len(at_rung) // self.reduction_factor
            for trial in rank_trials(at_rung, objective)[:quota]:
                # A promotion continues the trial's own files; a trial whose files are gone cannot be continued.
                if trial.trial_id in continued or not trial.path:
                    continue
                chosen.append(Promotion(trial, rungs[level], rungs[level + 1]))
                if len(chosen) == limit:
                    return chosen
        return chosen

    def describe(self) -> str:
        if not self.active:
            return f"none ({self.epochs} epochs a trial)"
        rungs = " -> ".join(str(r) for r in self.rungs)
        return f"{self.kind}, rungs {rungs} epochs, the top 1/{self.reduction_factor} of a rung promoted"


def reached_epochs(trial: Trial, default_epochs: int) -> int:
    """The cumulative epochs a trial was planned to reach (its rung): its
    `total_epochs`, or the study's epochs for a trial trained without a schedule."""
    return trial.total_epochs or default_epochs


def epoch_cost(trials: Sequence[Trial], default_epochs: int) -> int:
    """Epochs planned for the trials (what a multi-fidelity search spends)."""
    return sum(t.planned_epochs or default_epochs for t in trials)

