"""Splits: every record goes to train, eval or test by an exact, seeded,
per-class shuffle, so the same seed gives the same splits and small classes
reach every split. With a separate test set, that set is the test split as
given and the ratios are rescaled over train and eval.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from components.ingest.plan import SourceConfig
from search_algo.errors import DataError

SPLITS = ("train", "eval", "test")


def check_ratios(ratios: Sequence[float]) -> None:
    if len(ratios) != 3 or any(r < 0 for r in ratios) or not math.isclose(sum(ratios), 1.0, abs_tol=1e-6):
        raise DataError(f"split ratios must be three non-negative numbers summing to 1, got {list(ratios)}")
    if ratios[0] <= 0:
        raise DataError("the train split ratio must be positive")


def assign_splits(
    labels: Sequence[Any] | None,
    count: int,
    ratios: Sequence[float],
    seed: int,
) -> list[str]:
    """Returns a split name per record: an exact, seeded, per-class shuffle
    (stratified when labels are given), so small classes reach every split."""
    rng = np.random.default_rng(seed)
    result = ["train"] * count
    groups: dict[Any, list[int]] = {}
    if labels is None:
        groups[None] = list(range(count))
    else:
        for index, label in enumerate(labels):
            groups.setdefault(label, []).append(index)
    for key in sorted(groups, key=repr):
        members = np.array(groups[key])
        rng.shuffle(members)
        n_eval = int(round(len(members) * ratios[1]))
        n_test = int(round(len(members) * ratios[2]))
        if len(members) - n_eval - n_test < 1 and len(members) > 0:
            n_eval = max(0, min(n_eval, len(members) - 1 - n_test))
        for index in members[:n_eval]:
            result[index] = "eval"
        for index in members[n_eval : n_eval + n_test]:
            result[index] = "test"
    return result


def split_records(records: list[tuple], names: Sequence[str]) -> dict[str, list[tuple]]:
    splits: dict[str, list[tuple]] = {name: [] for name in SPLITS}
    for record, name in zip(records, names):
        splits[name].append(record)
    return splits


def train_eval_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    """With a separate test set, the train/eval ratios are rescaled to sum to one."""
    train, evaluation = ratios[0], ratios[1]
    return (train / (train + evaluation), evaluation / (train + evaluation), 0.0)


def plan_splits(
    records: list[tuple],
    labels: Sequence[Any] | None,
    config: SourceConfig,
    test_records: list[tuple] | None = None,
) -> dict[str, list[tuple]]:
    """Splits `records` by the configured ratios, or into train/eval only when a
    separate test set is given (which then is the test split, untouched)."""
    if test_records is None:
        return split_records(records, assign_splits(labels, len(records), config.split_ratios, config.seed))
    names = assign_splits(labels, len(records), train_eval_ratios(config.split_ratios), config.seed)
    splits = split_records(records, names)
    splits["test"] = list(test_records)
    return splits
