"""The search-efficiency benchmark's data and search space: MNIST-1D as the
pipeline ingests it, the methods compared, the space they search, and a
trial's record (see search_efficiency.py)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
from typing import Any, Optional

import numpy as np

OURS = ("beam", "evolution", "surrogate", "optuna_tpe", "random", "portfolio")
KERAS_TUNER = ("kt_random", "kt_bayes", "kt_hyperband")
OPTUNA = ("optuna_tpe_hyperband",)
METHODS = OURS + KERAS_TUNER + OPTUNA
BUDGET_MARKS = (10, 20, 40)
TARGET_ACCURACY = 0.98
# Time to accuracy (issue 23): wall time until the model a method would pick reaches these on test.
TIME_THRESHOLDS = (0.985, 0.99)
# The searched space: the default sequence space of the platform, capped at 3
# blocks so one trial stays within seconds on two cores.
SPACE = {"max_depth": 3}
TRIALS_PER_ROUND = 4  # as `--trainers 2 --trials-per-trainer 2`
# The trial budget under a wall-time budget: more than fit in any time given, so only the clock stops a search.
UNBOUNDED_TRIALS = 10**6

log = logging.getLogger("search_efficiency")


@dataclasses.dataclass
class SplitData:
    """A split as arrays (what the peers' libraries read) and, for the
    platform's `train_trial`, as a `tf.data` split over the same arrays."""

    features: dict[str, np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @functools.cached_property
    def stream(self):
        from components.examples_io import ArraySplit

        return ArraySplit(self.features, self.labels)


@dataclasses.dataclass
class Data:
    spec: Any
    train: Any
    evaluation: Any
    test: Any


@dataclasses.dataclass
class Budget:
    """What a method may spend on one seed: `trials` trials of `epochs` epochs
    (tuners that train short trials count epochs: total epochs / epochs per
    trial), or, when `seconds` is set, that much wall time from `started` on
    whatever number of trials fits (the trial in progress finishes)."""

    trials: Optional[int]
    epochs: int
    seconds: Optional[float] = None
    started: float = dataclasses.field(default_factory=time.monotonic)
    epochs_spent: int = 0

    @classmethod
    def of(cls, args) -> "Budget":
        return cls(None if args.seconds else args.budget, args.epochs, args.seconds)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def out_of_time(self) -> bool:
        return self.seconds is not None and self.elapsed() >= self.seconds

    def used_up(self) -> bool:
        """For tuners counting epochs: `trials` full trials' worth spent, or the time."""
        if self.seconds is not None:
            return self.out_of_time()
        return self.epochs_spent >= self.trials * self.epochs


def load_mnist1d(split_seed: int = 0, dataset: str = "mnist1d") -> Data:
    """MNIST-1D as the pipeline ingests it: the same plan, split and
    statistics. `dataset` may carry options: `study_run.fresh_mnist1d(seed)`
    for a seed's own fresh test examples."""
    from components.ingest import builtin, sources
    from search_algo.dataset_spec import DatasetSpec, FeatureSpec

    plan, splits = builtin.split_arrays(sources.SourceConfig(dataset=dataset, seed=split_seed))
    (feature,) = plan.features

    def arrays(split: str) -> SplitData:
        x, y = splits[split]
        return SplitData({feature.name: x}, np.asarray(y, dtype=np.int64))

    train = arrays("train")
    channels = train.features[feature.name].reshape(-1, feature.shape[-1])
    spec = DatasetSpec(
        name=plan.name, task=plan.task, input_kind=plan.input_kind, label=plan.label_key,
        label_display_name=plan.label_display_name, class_names=list(plan.class_names),
        features=[FeatureSpec(feature.name, feature.display_name, "numeric", "float32", list(feature.shape),
                              mean=[float(v) for v in channels.mean(axis=0)],
                              std=[float(v) for v in channels.std(axis=0)])],
        split_sizes={split: int(len(y)) for split, (_, y) in splits.items()},
    )
    return Data(spec, train, arrays("eval"), arrays("test"))


def test_accuracy(trial_dir: str, data: Data) -> float:
    from components.trial_model import load_trial_model

    model, _ = load_trial_model(trial_dir, data.spec)
    return model_test_accuracy(model, data)


def model_test_accuracy(model, data: Data) -> float:
    probabilities = model.predict(data.test.features, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=-1) == data.test.labels))


def record(trial, test: Optional[float], elapsed: float) -> dict:
    return {
        "trial_id": trial.trial_id, "status": trial.status, "algorithm": trial.algorithm,
        "blocks": trial.block_names, "num_params": trial.num_params, "epochs": trial.epochs,
        "eval_accuracy": trial.metrics.get("accuracy"), "test_accuracy": test,
        "parent": trial.parent, "transfer": trial.transfer, "teacher": trial.teacher,
        "stopped_early": trial.stopped_early, "train_seconds": trial.train_seconds,
        "elapsed_seconds": round(elapsed, 1), "cost_trials": 1.0, "load_average_1min": load_average(),
    }


def load_average() -> float:
    """The machine's 1-minute load average: wall times compare only at a like load (2 cores, shared)."""
    return round(os.getloadavg()[0], 2)


def fitted_record(method: str, seed: int, index: int, model, history, architecture, data: Data, epochs: int,
                  began: float, started: float, parent=None, stopped_early: bool = False) -> dict:
    """The record of a peer's trial (KerasTuner, Optuna) from the model it
    fitted: what `record` holds for ours, with the trial's cost in
    epoch-equivalent trials (short trials cost a fraction)."""
    from search_algo.model_builder import parameter_count

    train_seconds = round(time.monotonic() - began, 3)
    trained = len(history.history.get("loss", []))
    eval_accuracy = float(history.history["val_accuracy"][-1])
    test = model_test_accuracy(model, data)
    log.info("%s seed %d trial %d: eval %.4f test %.4f (%d epochs%s)", method, seed, index + 1, eval_accuracy, test,
             trained, ", pruned" if stopped_early else "")
    return {
        "trial_id": f"{method}-s{seed}-{index:03d}", "status": "completed", "algorithm": method,
        "blocks": [b.name for b in architecture.blocks], "num_params": parameter_count(model), "epochs": trained,
        "batch_size": architecture.hyperparameters.batch_size,
        "eval_accuracy": eval_accuracy, "test_accuracy": test, "parent": parent, "transfer": None, "teacher": None,
        "stopped_early": stopped_early, "train_seconds": train_seconds,
        "elapsed_seconds": round(time.monotonic() - started, 1), "cost_trials": trained / epochs,
        "load_average_1min": load_average(),
    }
