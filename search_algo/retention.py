"""Which trials keep their files: the study's retention setting (`keep`).

A study's trials are recorded for good (the study record, ML Metadata), but
their files - a SavedModel and weights each - are what fills the disk. The
setting says whose files stay:

- `all`: every trial's;
- `best-K` (default `best-10`): the always-kept ones below, and the K best
  completed trials of the study by eval score (among those whose files are
  still there);
- `members`: only the always-kept ones.

Always kept, whatever the setting: every trial of a run that has not finished
(it may still use them, and a resumed run must find its own trials), every
trial an unfinished run's history lists (its nodes may pick any of them), and
every trial a run's leaderboard names - the ensemble's members, a student
taken from the search, the best single model.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Iterable, Mapping

from search_algo.errors import UserError
from search_algo.objective import ObjectiveLike
from search_algo.trial import Trial, rank_trials

ALL, MEMBERS, BEST = "all", "members", "best"
DEFAULT = "best-10"
_BEST_K = re.compile(r"^best-(\d+)$")
# What a leaderboard candidate's trials are, by candidate name.
CANDIDATE_ROLES = {"ensemble": "ensemble member", "distilled": "student", "best_single": "best single model"}


@dataclasses.dataclass(frozen=True)
class Retention:
    mode: str  # all | best | members
    best: int = 0  # K of best-K

    def __str__(self) -> str:
        return f"best-{self.best}" if self.mode == BEST else self.mode

    @property
    def keeps_everything(self) -> bool:
        return self.mode == ALL


def parse_retention(text: Any) -> Retention:
    value = str(text).strip().lower() if text is not None else ""
    if value in (ALL, MEMBERS):
        return Retention(value)
    match = _BEST_K.match(value)
    if match and int(match.group(1)) >= 1:
        return Retention(BEST, int(match.group(1)))
    raise UserError(f"keep must be all, members or best-K with K a positive integer (e.g. best-10), not {text!r}")


def leaderboard_trials(leaderboards: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Trial id -> why it is kept, for every trial a run's leaderboard names
    (`leaderboards`: run id -> leaderboard)."""
    named: dict[str, str] = {}
    for run_id, board in leaderboards.items():
        for candidate in (board or {}).get("candidates") or []:
            role = CANDIDATE_ROLES.get(candidate.get("name"))
            if role is None:
                continue
            for trial_id in candidate.get("trial_ids") or []:
                named.setdefault(trial_id, f"{role} of {run_id}")
    return named


def kept_trials(
    trials: Iterable[Trial],
    retention: Retention,
    objective: ObjectiveLike,
    finished_runs: Iterable[str],
    leaderboards: Mapping[str, Mapping[str, Any]],
    in_use: Mapping[str, Iterable[str]] = {},
    removed: Iterable[str] = (),
) -> dict[str, str]:
    """Trial id -> why its files stay, for every trial that keeps them; the
    trials left out may lose theirs. `in_use`: an unfinished run -> the trial
    ids its history lists; `removed`: trials whose files are gone already
    (they take no place among the K best)."""
    trials = list(trials)
    if retention.keeps_everything:
        return {t.trial_id: "keep all" for t in trials}
    finished = set(finished_runs)
    kept: dict[str, str] = {}
    for trial in trials:
        if trial.run_id not in finished:
            kept[trial.trial_id] = f"run {trial.run_id} is not finished"
    for run_id, trial_ids in in_use.items():
        for trial_id in trial_ids:
            kept.setdefault(trial_id, f"in the history of unfinished run {run_id}")
    for trial_id, reason in leaderboard_trials(leaderboards).items():
        kept.setdefault(trial_id, reason)
    if retention.mode == BEST:
        gone = set(removed)
        for trial in rank_trials((t for t in trials if t.trial_id not in gone), objective)[: retention.best]:
            kept.setdefault(trial.trial_id, f"among the {retention}")
    return kept
