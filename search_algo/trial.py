"""The trial record: one candidate model from proposal to result.

Every layer uses this one type - the Proposer writes trials with status
`proposed`, the Trainer fills in status, metrics and cost, the Ensembler, the
study store and the CLI read them - so there is one definition to change.
"""

from __future__ import annotations

import dataclasses
import json
import math
import posixpath
from typing import Any, Iterable, Optional

from search_algo.architecture import Architecture
from search_algo.objective import ObjectiveLike, as_objective

PROPOSED, COMPLETED, FAILED = "proposed", "completed", "failed"
STATUSES = (PROPOSED, COMPLETED, FAILED)
# How a child learns from earlier trials.
# `continue`: a promotion (search_algo/budget_schedule.py) trains its parent,
# the same architecture, further.
TRANSFER_NONE, TRANSFER_WEIGHTS, TRANSFER_CONTINUE = "none", "weights", "continue"


@dataclasses.dataclass
class Trial:
    trial_id: str
    round: int
    trainer: int
    architecture: Architecture
    seed: int
    algorithm: str
    run_id: str
    study: str
    # The trial whose trained blocks this one starts from (`transfer`
    # weights); its files are found through the history, by its id.
    parent: Optional[str] = None
    transfer: str = TRANSFER_NONE
    # Knowledge distillation during the search: the trial whose soft
    # predictions this one also learns from (the best so far when proposed).
    teacher: Optional[str] = None
    status: str = PROPOSED
    error: Optional[str] = None
    # Eval-split metrics: accuracy and loss (classification), rmse and loss (regression).
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    num_params: Optional[int] = None
    # Epochs trained (fewer than planned when stopped early).
    epochs: Optional[int] = None
    # A budget schedule's plan: the epochs this trial trains, and the
    # cumulative epochs its model has had once done (its rung; a promotion
    # adds its planned epochs to its parent's). None: the study's epochs.
    planned_epochs: Optional[int] = None
    total_epochs: Optional[int] = None
    # The epoch training started from: 0, or for a promotion (`transfer`
    # continue) the epoch its parent stopped after, whose model, optimizer
    # state and learning-rate schedule it goes on with.
    initial_epoch: int = 0
    train_seconds: Optional[float] = None
    # Seconds in Keras' training steps, each epoch's validation pass left out:
    # per epoch, and their sum (what the trial spent fitting, of train_seconds).
    epoch_seconds: list[float] = dataclasses.field(default_factory=list)
    fit_seconds: Optional[float] = None
    started_at: Optional[str] = None  # ISO 8601, UTC
    finished_at: Optional[str] = None
    transferred_blocks: list[str] = dataclasses.field(default_factory=list)
    # Eval score after each epoch (accuracy, or minus RMSE): what early stopping compares.
    curve: list[float] = dataclasses.field(default_factory=list)
    # Stopped by the early-stopping rule before its epoch budget (still completed).
    stopped_early: bool = False
    # Under a study time budget: trained fewer epochs than planned so as to end
    # before the search's deadline, its learning-rate schedule annealed over
    # the epochs that fit (still completed).
    shortened_for_budget: bool = False
    # Relative to the trial results artifact: where the trial's files are.
    path: Optional[str] = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"trial {self.trial_id}: status must be one of {STATUSES}, got {self.status!r}")

    @property
    def hparams(self) -> dict[str, Any]:
        return self.architecture.hyperparameters.to_dict()

    @property
    def block_names(self) -> list[str]:
        return [block.name for block in self.architecture.blocks]

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED

    def score(self, objective: ObjectiveLike) -> float:
        """The objective on eval, oriented so that higher is better (a task's
        name means its default objective); -inf unless completed."""
        if not self.completed:
            return -math.inf
        return as_objective(objective).score(self.metrics)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["architecture"] = self.architecture.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Trial":
        data = dict(data)
        data["architecture"] = Architecture.from_dict(data["architecture"])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    # The one JSON shape of a trial, wherever it is written: a trial's folder,
    # the trial cache, artifacts' properties, the study record.
    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Trial":
        return cls.from_dict(json.loads(text))

    def located_in(self, base_uri: str) -> "Trial":
        """This trial with `path` absolute: a relative path (a folder inside
        the artifact that holds the trial) is joined with `base_uri`."""
        if self.path and not is_absolute(self.path):
            self.path = posixpath.join(base_uri, self.path)
        return self

    def summary(self) -> dict[str, Any]:
        """The `model-search trials --json` view of a trial."""
        return {
            "trial_id": self.trial_id,
            "round": self.round,
            "trainer": self.trainer,
            "status": self.status,
            "error": self.error,
            "architecture": self.block_names,
            "architecture_spec": self.architecture.to_dict(),
            "hparams": self.hparams,
            "parent": self.parent,
            "transfer": self.transfer,
            "transferred_blocks": self.transferred_blocks,
            "teacher": self.teacher,
            "stopped_early": self.stopped_early,
            "shortened_for_budget": self.shortened_for_budget,
            "curve": self.curve,
            "metrics": self.metrics,
            "num_params": self.num_params,
            "epochs": self.epochs,
            "planned_epochs": self.planned_epochs,
            "total_epochs": self.total_epochs,
            "initial_epoch": self.initial_epoch,
            "train_seconds": self.train_seconds,
            "fit_seconds": self.fit_seconds,
            "epoch_seconds": self.epoch_seconds,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "algorithm": self.algorithm,
            "run_id": self.run_id,
            "study": self.study,
            "seed": self.seed,
        }


def is_absolute(path: str) -> bool:
    return path.startswith("/") or "://" in path


def trials_to_json(trials: Iterable[Trial]) -> str:
    return json.dumps([t.to_dict() for t in trials], sort_keys=True)


def trials_from_json(text: str) -> list[Trial]:
    return [Trial.from_dict(d) for d in json.loads(text)]


def rank_trials(trials: Iterable[Trial], objective: ObjectiveLike) -> list[Trial]:
    """Completed trials, best first by the objective; ties go to the smaller,
    then to the earlier trial id."""
    objective = as_objective(objective)
    completed = [t for t in trials if t.completed]
    return sorted(completed, key=lambda t: (-t.score(objective), t.num_params or 0, t.trial_id))


def best_trial(trials: Iterable[Trial], objective: ObjectiveLike) -> Optional[Trial]:
    ranked = rank_trials(trials, objective)
    return ranked[0] if ranked else None
