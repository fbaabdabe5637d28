"""The study's wall-clock budget: how long a run may search, and what is left after.

A run with a time budget of B seconds counts from the moment it started (the
StudyHistory node stamps it, components/study_history/executor.py). It keeps
a reserve for what follows the search - ensembling, distillation, evaluation
and push - so the search may propose and train until `search_deadline`,
start + B - reserve. Rounds are then a maximum: a Proposer past that point
proposes nothing, a trainer starts no trial that would not finish before it
(each trial's time limit is capped at the search time left), and the nodes
after the search get what remains: the Distiller fits its epochs into the
time before the evaluation's share, or is skipped when that is too short.

The reserve: a fixed estimate for ensembling and for evaluation and push,
plus a share of the budget for the student, never more than half the budget
(a small budget shrinks every part in proportion).

Pure arithmetic on epoch seconds with `now` given, so tests use synthetic
clocks; nothing here reads the clock.
"""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
from typing import Any, Iterable, Optional

from search_algo.errors import UserError
from search_algo.trial import Trial

# The nodes after the search on the reference machine, mnist1d's default
# study (benchmarks/results/default_run.json, node seconds): the Ensembler
# 8 s; the SearchEvaluator 9 s, TFX's Evaluator 6 s and the Pusher under 1 s.
# Twice that, for larger eval splits, more trials to ensemble and launching,
# and for the evaluation 10 s more: the command's leaderboard, report and
# clean-up after the Pusher (11 s on wine with the 2 cores loaded 4 times over).
ENSEMBLE_SECONDS = 15.0
EVALUATION_SECONDS = 40.0
# The student's share of the budget: its epochs are fitted into it.
DISTILL_SHARE = 0.10
# The search keeps at least half the budget, however small.
MAX_RESERVE_SHARE = 0.5
# Less time than this for the student: the Distiller is skipped (building,
# the teacher's predictions and exporting alone take seconds).
MIN_DISTILL_SECONDS = 10.0
# Less than this before the evaluation's share: the Ensembler is skipped.
MIN_ENSEMBLE_SECONDS = 3.0
# Under a budget the student stops when its eval loss has not improved for
# this many epochs, and keeps its best epoch's weights.
DISTILL_PATIENCE = 2
# What a node of a round past the search time takes to pass through
# (launched, its inputs read, its empty output written): a round of 3 nodes
# took 0.7 s on an idle 2-core machine (benchmarks/results/trainer_fit_share.json,
# seed 0) and 2.7 s loaded 8 times over. The search ends early enough for the
# rounds after it to pass through within the budget.
PASS_THROUGH_NODE_SECONDS = 1.0
# A run is within its budget when it ends within the larger of these over it.
TOLERANCE_SHARE, TOLERANCE_SECONDS = 0.05, 30.0

# The error of a trial a trainer did not start because the search time was
# spent (status `failed`, the record's "not trained" form; see `skipped_for_budget`).
BUDGET_SPENT_ERROR = "not trained: the search time of the study's time budget was spent"

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
DURATION_FORMS = "seconds (300) or a duration with h, m and s (20m, 1h, 1h30m)"


def parse_duration(value: Any) -> float:
    """Seconds from `300`, `"300"`, `"90s"`, `"20m"`, `"1h"` or `"1h30m"`;
    ValueError (with what a duration looks like) for anything else or 0."""
    if isinstance(value, bool):
        raise ValueError(f"must be {DURATION_FORMS}, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            match = _DURATION.match(text)
            if not text or not match:
                raise ValueError(f"must be {DURATION_FORMS}, got {value!r}") from None
            seconds = sum(float(part) * _UNITS[unit] for part, unit in zip(match.groups(), "hms") if part)
    else:
        raise ValueError(f"must be {DURATION_FORMS}, got {value!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"must be a positive duration: {DURATION_FORMS}, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """`1h30m`, `20m`, `45s`: how a budget is shown back."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


@dataclasses.dataclass(frozen=True)
class TimeBudget:
    """`seconds` of wall time from `started_at` (epoch seconds)."""

    seconds: float
    started_at: float
    # Nodes of later rounds still to run after this one's (Proposers and
    # trainers): this node's search ends early enough for them to pass through.
    nodes_after: int = 0

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise UserError(f"time_budget: must be a positive duration, got {self.seconds!r}")

    @classmethod
    def of(cls, seconds: Optional[float], started_at: Optional[float], nodes_after: int = 0) -> Optional["TimeBudget"]:
        """The budget, or None without one (0 or unset) or without a known start."""
        if not seconds or not started_at:
            return None
        return cls(float(seconds), float(started_at), int(nodes_after or 0))

    # --- The reserve ------------------------------------------------------------

    @property
    def _scale(self) -> float:
        """1, or less when the reserve's parts would take more than its cap."""
        wanted = ENSEMBLE_SECONDS + EVALUATION_SECONDS + DISTILL_SHARE * self.seconds
        return min(1.0, MAX_RESERVE_SHARE * self.seconds / wanted)

    @property
    def evaluation_reserve(self) -> float:
        """Seconds kept at the end for the SearchEvaluator, TFX's Evaluator, the Pusher and the run's report."""
        return EVALUATION_SECONDS * self._scale

    @property
    def reserve_seconds(self) -> float:
        """Seconds kept after the search: ensembling, distillation, evaluation and push."""
        return (ENSEMBLE_SECONDS + EVALUATION_SECONDS + DISTILL_SHARE * self.seconds) * self._scale

    @property
    def search_seconds(self) -> float:
        return self.seconds - self.reserve_seconds

    @property
    def deadline(self) -> float:
        return self.started_at + self.seconds

    @property
    def search_deadline(self) -> float:
        """When this node's search time ends: the search's end, less what the
        later rounds' nodes take to pass through (never before the start)."""
        pass_through = min(self.nodes_after * PASS_THROUGH_NODE_SECONDS, self.search_seconds)
        return self.started_at + self.search_seconds - pass_through

    # --- During the search ----------------------------------------------------

    def search_seconds_left(self, now: float) -> float:
        return max(0.0, self.search_deadline - now)

    def can_train(self, now: float, expected_seconds: float = 0.0) -> bool:
        """Whether a trial expected to take `expected_seconds` (0: unknown)
        fits in the search time left: a Proposer proposes a round, and a
        trainer starts a trial, only if so."""
        left = self.search_seconds_left(now)
        return left > 0 and left >= expected_seconds

    def trial_time_limit(self, now: float, configured: Optional[float]) -> float:
        """The trial's time limit: the study's per-trial limit, capped at the search time left."""
        left = self.search_seconds_left(now)
        return min(configured, left) if configured else left

    # --- After the search -----------------------------------------------------

    @property
    def post_search_deadline(self) -> float:
        """When the evaluation's share of the reserve begins: ensembling and distillation end before it."""
        return self.deadline - self.evaluation_reserve

    def post_search_seconds_left(self, now: float) -> float:
        return max(0.0, self.post_search_deadline - now)

    def should_ensemble(self, now: float) -> bool:
        return self.post_search_seconds_left(now) >= MIN_ENSEMBLE_SECONDS

    def distill_seconds(self, now: float) -> float:
        """The student's time: what is left before the evaluation's share."""
        return self.post_search_seconds_left(now)

    def should_distill(self, now: float) -> bool:
        return self.distill_seconds(now) >= MIN_DISTILL_SECONDS

    # --- Afterwards -------------------------------------------------------------

    @property
    def tolerance_seconds(self) -> float:
        return max(TOLERANCE_SHARE * self.seconds, TOLERANCE_SECONDS)

    def kept(self, finished_at: float) -> bool:
        """Whether a run that ended at `finished_at` kept its budget (within the tolerance)."""
        return finished_at - self.started_at <= self.seconds + self.tolerance_seconds

    def describe(self) -> str:
        return (f"{format_duration(self.seconds)} ({self.search_seconds:.0f} s of search, "
                f"{self.reserve_seconds:.0f} s reserved for ensembling, distillation, evaluation and push)")


def expected_trial_seconds(trials: Iterable[Trial], epochs: int) -> float:
    """What a trial of `epochs` epochs is expected to take: the median
    seconds per epoch of the completed trials (setting up, evaluating and
    saving included) times `epochs`; 0 when none completed yet."""
    per_epoch = [t.train_seconds / t.epochs for t in trials if t.completed and t.train_seconds and t.epochs]
    return statistics.median(per_epoch) * epochs if per_epoch else 0.0


# A trial fitted to the search's deadline (trained fewer epochs than planned,
# its schedule shortened) is worth starting if at least this share of its
# planned epochs fits; with fewer it rarely beats the trials already done.
MIN_FITTED_EPOCH_SHARE = 0.25


def epochs_worth_training(planned_epochs: int) -> int:
    """The fewest epochs of a planned trial worth starting it for, near the search's deadline."""
    return max(1, math.ceil(planned_epochs * MIN_FITTED_EPOCH_SHARE))


def skipped_for_budget(trial: Trial) -> bool:
    """A proposal a trainer did not start because the search time was spent."""
    return not trial.completed and trial.error == BUDGET_SPENT_ERROR
