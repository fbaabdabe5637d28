"""The search-efficiency benchmark's data and search space: MNIST-1D as the
pipeline ingests it, the methods compared, the space they search, and a
trial's record (see search_efficiency.py)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Optional

import numpy as np

OURS = ("beam", "evolution", "surrogate", "random", "portfolio")
KERAS_TUNER = ("kt_random", "kt_bayes", "kt_hyperband")
METHODS = OURS + KERAS_TUNER
BUDGET_MARKS = (10, 20, 40)
TARGET_ACCURACY = 0.98
# The searched space: the default sequence space of the platform, capped at 3
# blocks so one trial stays within seconds on two cores.
SPACE = {"max_depth": 3}
TRIALS_PER_ROUND = 4  # as `--trainers 2 --trials-per-trainer 2`

log = logging.getLogger("search_efficiency")


@dataclasses.dataclass
class Data:
    spec: Any
    train: Any
    evaluation: Any
    test: Any


def load_mnist1d(split_seed: int = 0) -> Data:
    """MNIST-1D as the pipeline ingests it: the same plan, split and statistics."""
    from components.ingest import sources
    from components.trainer.training import SplitData
    from search_algo.dataset_spec import DatasetSpec, FeatureSpec

    plan = sources.make_plan(sources.SourceConfig(dataset="mnist1d", seed=split_seed))
    (feature,) = plan.features

    def arrays(split: str) -> SplitData:
        records = plan.splits[split]
        x = np.stack([np.asarray(r[0][0], dtype=np.float32) for r in records])
        return SplitData({feature.name: x}, np.asarray([r[1] for r in records], dtype=np.int64))

    train = arrays("train")
    channels = train.features[feature.name].reshape(-1, feature.shape[-1])
    spec = DatasetSpec(
        name=plan.name, task=plan.task, input_kind=plan.input_kind, label=plan.label_key,
        label_display_name=plan.label_display_name, class_names=list(plan.class_names),
        features=[FeatureSpec(feature.name, feature.display_name, "numeric", "float32", list(feature.shape),
                              mean=[float(v) for v in channels.mean(axis=0)],
                              std=[float(v) for v in channels.std(axis=0)])],
        split_sizes=plan.split_sizes(),
    )
    return Data(spec, train, arrays("eval"), arrays("test"))


def test_accuracy(trial_dir: str, data: Data) -> float:
    from components.trial_model import load_trial_model

    model, _ = load_trial_model(trial_dir, data.spec)
    probabilities = model.predict(data.test.features, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=-1) == data.test.labels))


def record(trial, test: Optional[float], elapsed: float) -> dict:
    return {
        "trial_id": trial.trial_id, "status": trial.status, "algorithm": trial.algorithm,
        "blocks": trial.block_names, "num_params": trial.num_params, "epochs": trial.epochs,
        "eval_accuracy": trial.metrics.get("accuracy"), "test_accuracy": test,
        "parent": trial.parent, "transfer": trial.transfer, "teacher": trial.teacher,
        "stopped_early": trial.stopped_early, "train_seconds": trial.train_seconds,
        "elapsed_seconds": round(elapsed, 1), "cost_trials": 1.0,
    }
