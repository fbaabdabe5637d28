"""What a study optimizes: one metric, its direction, and how it is computed.

Every place that ranks or compares models - the search algorithms, early
stopping, the ensemble pool, the student's choice, model selection, the
leaderboard, the report and the progress line - asks the study's `Objective`.
Scores are oriented so that higher is always better (`score`), as in
Optuna's `direction` and KerasTuner's `Objective("val_loss", "min")`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Optional, Union

import numpy as np

from search_algo.ensemble import EPSILON as PROBABILITY_FLOOR
from search_algo.errors import UserError

MAXIMIZE, MINIMIZE = "maximize", "minimize"
CLASSIFICATION, REGRESSION = "classification", "regression"


@dataclasses.dataclass(frozen=True)
class Objective:
    name: str  # the metric's key in a trial's or a candidate's metrics
    direction: str
    task: str
    description: str
    # Bounded in [0, 1]: a selection margin is in percentage points, not a ratio.
    bounded: bool

    def value(self, metrics: Optional[Mapping[str, float]]) -> Optional[float]:
        value = (metrics or {}).get(self.name)
        return None if value is None or not math.isfinite(float(value)) else float(value)

    def score(self, metrics: Optional[Mapping[str, float]]) -> float:
        """Higher is better; -inf when the metric is missing or not finite."""
        value = self.value(metrics)
        if value is None:
            return -math.inf
        return value if self.direction == MAXIMIZE else -value

    def within(self, metrics: Mapping[str, float], best: Mapping[str, float], margin_percent: float) -> bool:
        """Whether `metrics` is at most `margin_percent` worse than `best`:
        percentage points for a bounded metric, percent of the best otherwise."""
        value, reference = self.value(metrics), self.value(best)
        if value is None or reference is None:
            return False
        if self.bounded:
            slack = margin_percent / 100.0
        else:
            slack = abs(reference) * margin_percent / 100.0
        if self.direction == MAXIMIZE:
            return value >= reference - slack - 1e-12
        return value <= reference + slack + 1e-12

    def chance_score(self, num_classes: int, label_std: float) -> float:
        """The score of a guess that ignores the features (uniform over the
        classes, or the mean label), the floor a useful model must clear."""
        classes = max(num_classes, 1)
        chance = {
            "accuracy": 1.0 / classes, "macro_f1": 1.0 / classes, "roc_auc": 0.5,
            "log_loss": math.log(classes), "rmse": label_std, "mae": label_std,
        }[self.name]
        return chance if self.direction == MAXIMIZE else -chance

    @property
    def label(self) -> str:
        """How people write the metric's name."""
        return LABELS[self.name]

    def __str__(self) -> str:
        return self.name


OBJECTIVES = {
    o.name: o
    for o in (
        Objective("accuracy", MAXIMIZE, CLASSIFICATION, "share of examples whose most probable class is right", True),
        Objective("log_loss", MINIMIZE, CLASSIFICATION, "cross-entropy of the predicted probabilities", False),
        Objective("roc_auc", MAXIMIZE, CLASSIFICATION,
                  "area under the ROC curve of the second class's probability (two classes only)", True),
        Objective("macro_f1", MAXIMIZE, CLASSIFICATION, "F1 score averaged over the classes, each weighing the same",
                  True),
        Objective("rmse", MINIMIZE, REGRESSION, "root mean squared error", False),
        Objective("mae", MINIMIZE, REGRESSION, "mean absolute error", False),
    )
}
LABELS = {"accuracy": "accuracy", "log_loss": "log loss", "roc_auc": "ROC AUC", "macro_f1": "macro-F1",
          "rmse": "RMSE", "mae": "MAE"}
DEFAULT_OBJECTIVES = {CLASSIFICATION: "accuracy", REGRESSION: "rmse"}


def resolve(name: Optional[str], task: str, num_classes: Optional[int] = None) -> Objective:
    """The objective named `name` (None or "": the task's default) for a task;
    UserError when it does not fit the task or the number of classes."""
    name = (name or "").strip().lower() or DEFAULT_OBJECTIVES[task]
    objective = OBJECTIVES.get(name)
    if objective is None:
        raise UserError(f"objective: expected one of {', '.join(OBJECTIVES)}, got {name!r}")
    if objective.task != task:
        fitting = ", ".join(n for n, o in OBJECTIVES.items() if o.task == task)
        raise UserError(f"objective {name!r} is for {objective.task}, but this study's task is {task} "
                        f"(choose one of {fitting})")
    if name == "roc_auc" and num_classes is not None and num_classes != 2:
        raise UserError(f"objective 'roc_auc' needs two classes; this study's data has {num_classes}")
    return objective


ObjectiveLike = Union[Objective, str]


def as_objective(value: ObjectiveLike) -> Objective:
    """An Objective, or a task's default objective when given the task's name."""
    return value if isinstance(value, Objective) else OBJECTIVES[DEFAULT_OBJECTIVES[value]]


def for_metrics(metrics: Mapping[str, float], name: Optional[str] = None) -> Objective:
    """The objective of a record that does not name its task: named, or the
    default of the task its metrics show."""
    task = CLASSIFICATION if "accuracy" in metrics else REGRESSION
    return resolve(name, task) if name else OBJECTIVES[DEFAULT_OBJECTIVES[task]]


def prediction_metrics(values: np.ndarray, labels: np.ndarray, task: str) -> dict[str, float]:
    """Every scalar metric of predictions against labels, keyed as trials and
    candidates record them.

    Classification (`values`: probabilities per class): accuracy, loss and
    log_loss (cross-entropy), macro_f1 and, with two classes present, roc_auc
    (of the second class's probability). Regression: rmse, loss (mean squared
    error), mae and, unless every label is the same, r2.
    """
    from sklearn import metrics as sk_metrics  # not at import: the CLI starts without it

    if task == CLASSIFICATION:
        labels = np.asarray(labels).reshape(-1).astype(np.int64)
        values = np.asarray(values, dtype=np.float64)
        predicted = np.argmax(values, axis=-1)
        picked = np.clip(values[np.arange(len(labels)), labels], PROBABILITY_FLOOR, 1.0)
        log_loss = float(-np.mean(np.log(picked)))
        result = {
            "accuracy": float(np.mean(predicted == labels)),
            "loss": log_loss,
            "log_loss": log_loss,
            "macro_f1": float(sk_metrics.f1_score(labels, predicted, labels=list(range(values.shape[-1])),
                                                  average="macro", zero_division=0)),
        }
        # Undefined (and left out) when the split holds one class only.
        if values.shape[-1] == 2 and len(np.unique(labels)) == 2:
            result["roc_auc"] = float(sk_metrics.roc_auc_score(labels, values[:, 1]))
        return result
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    errors = values - labels
    result = {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "loss": float(np.mean(errors**2)),
        "mae": float(np.mean(np.abs(errors))),
    }
    if len(labels) > 1 and np.ptp(labels) > 0:
        result["r2"] = float(sk_metrics.r2_score(labels, values))
    return result
