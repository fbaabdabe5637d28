"""Splits: every record goes to train, eval or test by a stable, seeded hash
of its content, stratified by class, without a shuffle of the data set.

Each record has a 64-bit key: a keyed hash of its content with a key derived
from the seed. Within a class, the records with the smallest keys go to
eval, the next ones to test, the rest to train. The first pass over the data
keeps, per class, only the smallest `EXACT_SAMPLE` keys (a mergeable
"bottom-k" summary): when a class's eval and test records fit in it, the
cut-off keys are exact and so are the counts, `round(n * ratio)` per class
as a shuffle would give; for a larger class the cut-offs are the ratios
themselves on the uniform key range (each record lands in a split with the
split's probability: within a few records per thousand of exact). The
second pass compares each record's key with its class's cut-offs: nothing is
grouped or held.

Identical records get identical keys, so duplicates land in one split and
never straddle train and test. With a separate test set, that set is the
test split as given and the ratios are rescaled over train and eval.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from typing import Any, Iterable, Sequence

import numpy as np

from search_algo.errors import DataError

SPLITS = ("train", "eval", "test")
TRAIN, EVAL, TEST = 0, 1, 2
# Per class, the smallest keys the first pass keeps: classes whose eval and
# test records number fewer are split exactly (8 bytes a key).
EXACT_SAMPLE = 4096
_KEY_RANGE = 2**64
_ALL = np.uint64(_KEY_RANGE - 1)


def check_ratios(ratios: Sequence[float]) -> None:
    if len(ratios) != 3 or any(r < 0 for r in ratios) or not math.isclose(sum(ratios), 1.0, abs_tol=1e-6):
        raise DataError(f"split ratios must be three non-negative numbers summing to 1, got {list(ratios)}")
    if ratios[0] <= 0:
        raise DataError("the train split ratio must be positive")


def train_eval_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    """With a separate test set, the train/eval ratios are rescaled to sum to one."""
    train, evaluation = ratios[0], ratios[1]
    return (train / (train + evaluation), evaluation / (train + evaluation), 0.0)


def hash_key(seed: int) -> bytes:
    """The 16-byte key of the seed's record hashes."""
    return hashlib.sha256(f"tfx-model-search split seed {seed}".encode()).digest()[:16]


def content_keys(contents: Iterable[bytes], seed: int) -> np.ndarray:
    """A uint64 key per record content (files, serialized records, array rows)."""
    key = hash_key(seed)
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(c, digest_size=8, key=key).digest(), "little") for c in contents),
        dtype=np.uint64,
    )


class BottomK:
    """The `size` smallest keys seen: a summary that merges exactly."""

    def __init__(self, size: int = EXACT_SAMPLE) -> None:
        self.size = size
        self.keys = np.empty(0, dtype=np.uint64)

    def add(self, keys: np.ndarray) -> None:
        merged = np.concatenate([self.keys, np.asarray(keys, dtype=np.uint64)])
        if merged.size > self.size:
            merged = np.partition(merged, self.size - 1)[: self.size]
        self.keys = np.sort(merged)

    def merge(self, other: "BottomK") -> "BottomK":
        self.add(other.keys)
        return self


@dataclasses.dataclass
class GroupCut:
    """Keys below `eval_below` go to eval, below `test_below` to test, the rest to train."""

    eval_below: int
    test_below: int
    sizes: tuple[int, int, int]  # expected (train, eval, test); exact when `exact`
    exact: bool


def group_cut(count: int, bottom: np.ndarray, ratios: Sequence[float]) -> GroupCut:
    """The cut-offs of one class (or of all records, for regression) of
    `count` records whose smallest keys are `bottom` (sorted)."""
    n_eval = int(round(count * ratios[1]))
    n_test = int(round(count * ratios[2]))
    if count - n_eval - n_test < 1 and count > 0:
        n_eval = max(0, min(n_eval, count - 1 - n_test))
    if bottom.size == count or n_eval + n_test < bottom.size:
        def key_at(position: int) -> int:
            return int(bottom[position]) if position < bottom.size else _KEY_RANGE - 1

        return GroupCut(key_at(n_eval), key_at(n_eval + n_test), (count - n_eval - n_test, n_eval, n_test), True)
    eval_below = int(ratios[1] * (_KEY_RANGE - 1))
    test_below = int((ratios[1] + ratios[2]) * (_KEY_RANGE - 1))
    return GroupCut(eval_below, test_below, (count - n_eval - n_test, n_eval, n_test), False)


@dataclasses.dataclass
class SplitRule:
    """Where each record goes: per-class cut-offs (one group for regression).
    Records of a separate test set all go to test."""

    cuts: list[GroupCut]  # by class index; a single entry for regression
    stratified: bool

    def assign(self, keys: np.ndarray, labels: np.ndarray | None, test_partition: bool) -> np.ndarray:
        if test_partition:
            return np.full(keys.shape[0], TEST, dtype=np.int8)
        groups = np.asarray(labels, dtype=np.int64) if self.stratified else np.zeros(keys.shape[0], dtype=np.int64)
        eval_below = np.array([c.eval_below for c in self.cuts], dtype=np.uint64)[groups]
        test_below = np.array([c.test_below for c in self.cuts], dtype=np.uint64)[groups]
        keys = np.asarray(keys, dtype=np.uint64)
        return np.where(keys < eval_below, EVAL, np.where(keys < test_below, TEST, TRAIN)).astype(np.int8)

    def expected_sizes(self, test_count: int) -> dict[str, int]:
        sizes = np.sum([c.sizes for c in self.cuts], axis=0) if self.cuts else np.zeros(3, dtype=int)
        return {"train": int(sizes[0]), "eval": int(sizes[1]), "test": int(sizes[2]) + test_count}


def make_rule(groups: Sequence[tuple[int, np.ndarray]], ratios: Sequence[float], stratified: bool) -> SplitRule:
    """`groups`: (record count, smallest keys) per class in class order, or a
    single group for an unstratified (regression) split."""
    return SplitRule([group_cut(count, bottom, ratios) for count, bottom in groups], stratified)


def check_not_empty(sizes: dict[str, Any], name: str) -> None:
    for split in SPLITS:
        if not sizes.get(split):
            raise DataError(
                f"the {split} split of {name} is empty ({sizes}); the data set is too small for the split ratios"
            )
