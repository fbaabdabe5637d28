"""What every source hands the second pass: columnar batches of records,
and what the passes add up about them.

- `LabelSurvey` (first pass): the label values, their counts and each class's
  smallest record keys, for the task, the classes and the split cut-offs.
- `RecordBatch` (second pass): feature arrays, labels and keys of a few
  thousand records. `write_batch` assigns them to splits, encodes them as
  tf.Example (vectorised, through tfx_bsl's Arrow encoder) and writes one
  gzipped TFRecord shard per split, named after the batch, so a retried
  bundle overwrites its own files. It returns `SplitStats`.
- `SplitStats`: split sizes, class counts per split, and the train split's
  feature moments, vocabularies and label moments, merged across batches.

Every summary here merges exactly, so Beam combines them in any order.
"""

from __future__ import annotations

import dataclasses
import posixpath
import struct
import zlib
from collections import Counter
from typing import Any, Sequence

import google_crc32c
import numpy as np

from components.ingest.naming import as_number
from components.ingest.splits import SPLITS, TRAIN, BottomK, SplitRule
from search_algo.dataset_spec import FeatureSpec

# Beyond this many distinct label values a label is not a set of classes.
MAX_DISTINCT_LABELS = 1000
GZIP_LEVEL = 1


class LabelSurvey:
    """Label values of the main data and of a separate test set."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()  # label text -> records (main data)
        self.bottoms: dict[str, BottomK] = {}
        self.all_keys = BottomK()  # for an unstratified (regression) split
        self.total = 0
        self.test_counts: Counter = Counter()
        self.test_total = 0
        self.overflow = False  # more than MAX_DISTINCT_LABELS distinct values
        self.non_numeric: str | None = None  # a label that is not a number
        self.non_integral = False

    def add(self, labels: Sequence[str], keys: np.ndarray, test_partition: bool = False) -> None:
        labels = np.asarray(labels, dtype=object)
        if labels.size == 0:
            return
        values, inverse, counts = np.unique(labels.astype(str), return_inverse=True, return_counts=True)
        for value in values:
            number = as_number(value)
            if number is None:
                self.non_numeric = self.non_numeric or value
            elif not float(number).is_integer():
                self.non_integral = True
        if test_partition:
            self.test_total += labels.size
            if not self.overflow:
                self.test_counts.update(dict(zip(values, counts.tolist())))
            return
        self.total += labels.size
        self.all_keys.add(keys)
        if self.overflow or len(set(self.counts) | set(values)) > MAX_DISTINCT_LABELS:
            self._overflow()
            return
        for index, value in enumerate(values):
            self.counts[value] += int(counts[index])
            self.bottoms.setdefault(value, BottomK()).add(keys[inverse == index])

    def _overflow(self) -> None:
        self.overflow = True
        self.counts, self.bottoms, self.test_counts = Counter(), {}, Counter()

    def merge(self, other: "LabelSurvey") -> "LabelSurvey":
        self.total += other.total
        self.test_total += other.test_total
        self.all_keys.merge(other.all_keys)
        self.non_numeric = self.non_numeric or other.non_numeric
        self.non_integral = self.non_integral or other.non_integral
        if self.overflow or other.overflow or len(set(self.counts) | set(other.counts)) > MAX_DISTINCT_LABELS:
            self._overflow()
            return self
        self.counts.update(other.counts)
        self.test_counts.update(other.test_counts)
        for value, bottom in other.bottoms.items():
            self.bottoms.setdefault(value, BottomK()).merge(bottom)
        return self

    def distinct(self) -> list[str]:
        """The distinct label values (up to MAX_DISTINCT_LABELS + 1 when there are more)."""
        return sorted(self.counts) if not self.overflow else [str(i) for i in range(MAX_DISTINCT_LABELS + 1)]

    def groups(self, class_names: Sequence[str] | None) -> list[tuple[int, np.ndarray]]:
        """(count, smallest keys) per class in `class_names` order, or of all records."""
        if class_names is None:
            return [(self.total, self.all_keys.keys)]
        return [(self.counts[name], self.bottoms[name].keys) for name in class_names]


@dataclasses.dataclass
class RecordBatch:
    """Records of one bundle: numeric features float32 [n, *shape], categorical
    ones as str; labels as class indices (int64) or values (float64)."""

    features: dict[str, np.ndarray]
    labels: np.ndarray
    keys: np.ndarray  # uint64 record keys (splits.py)
    shard: str  # names the files this batch writes
    test_partition: bool = False

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, rows: np.ndarray) -> "RecordBatch":
        return RecordBatch({k: v[rows] for k, v in self.features.items()}, self.labels[rows], self.keys[rows],
                           self.shard, self.test_partition)


def concatenate(batches: Sequence[RecordBatch]) -> RecordBatch:
    """One batch of the records of `batches` (at least one), in order."""
    first = batches[0]
    return RecordBatch(
        {name: np.concatenate([b.features[name] for b in batches]) for name in first.features},
        np.concatenate([b.labels for b in batches]),
        np.concatenate([b.keys for b in batches]),
        first.shard,
        first.test_partition,
    )


def encode_examples(batch: RecordBatch, features: Sequence[FeatureSpec], label_key: str, task: str) -> list[bytes]:
    """Serialized tf.Examples: floats as float lists, strings as bytes, the
    class index as int64 (a regression target as a float)."""
    import pyarrow as pa
    from tfx_bsl.coders import example_coder

    count = len(batch)

    def fixed_lists(values: np.ndarray, arrow_type) -> Any:
        flat = values.reshape(count, -1)
        width = flat.shape[1]
        offsets = np.arange(0, (count + 1) * width, width, dtype=np.int64)
        return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat.reshape(-1), type=arrow_type))

    columns, names = [], []
    for feature in features:
        values = batch.features[feature.name]
        if feature.dtype == "string":
            encoded = np.array([str(v).encode("utf-8") for v in values], dtype=object)
            columns.append(fixed_lists(encoded, pa.binary()))
        else:
            columns.append(fixed_lists(np.asarray(values, dtype=np.float32), pa.float32()))
        names.append(feature.name)
    if task == "classification":
        columns.append(fixed_lists(np.asarray(batch.labels, dtype=np.int64), pa.int64()))
    else:
        columns.append(fixed_lists(np.asarray(batch.labels, dtype=np.float32), pa.float32()))
    names.append(label_key)
    return example_coder.RecordBatchToExamples(pa.RecordBatch.from_arrays(columns, names=names))


class SplitStats:
    """Sizes and class counts per split; the train split's statistics."""

    def __init__(self, numeric: Sequence[str] = (), categorical: Sequence[str] = (), num_classes: int = 0) -> None:
        self.sizes = np.zeros(len(SPLITS), dtype=np.int64)
        self.class_counts = np.zeros((len(SPLITS), num_classes), dtype=np.int64)
        # name -> [count, sum per channel, sum of squares per channel], float64
        self.moments: dict[str, list] = {name: [0, 0.0, 0.0] for name in numeric}
        self.vocabularies: dict[str, Counter] = {name: Counter() for name in categorical}
        self.label_moments = [0, 0.0, 0.0]

    def add(self, batch: RecordBatch, splits: np.ndarray) -> None:
        self.sizes += np.bincount(splits, minlength=len(SPLITS)).astype(np.int64)
        if self.class_counts.shape[1]:
            np.add.at(self.class_counts, (splits.astype(np.int64), batch.labels.astype(np.int64)), 1)
        train = splits == TRAIN
        if not train.any():
            return
        for name, moments in self.moments.items():
            values = np.asarray(batch.features[name][train], dtype=np.float64)
            channels = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values.reshape(-1, 1)
            moments[0] += channels.shape[0]
            moments[1] = moments[1] + channels.sum(axis=0)
            moments[2] = moments[2] + (channels**2).sum(axis=0)
        for name, vocabulary in self.vocabularies.items():
            vocabulary.update(batch.features[name][train].tolist())
        if not self.class_counts.shape[1]:
            labels = np.asarray(batch.labels[train], dtype=np.float64).reshape(-1, 1)
            self.label_moments[0] += labels.shape[0]
            self.label_moments[1] = self.label_moments[1] + labels.sum(axis=0)
            self.label_moments[2] = self.label_moments[2] + (labels**2).sum(axis=0)

    def merge(self, other: "SplitStats") -> "SplitStats":
        self.sizes += other.sizes
        self.class_counts = self.class_counts + other.class_counts
        for name, moments in other.moments.items():
            mine = self.moments[name]
            self.moments[name] = [mine[0] + moments[0], mine[1] + moments[1], mine[2] + moments[2]]
        for name, vocabulary in other.vocabularies.items():
            self.vocabularies[name].update(vocabulary)
        self.label_moments = [a + b for a, b in zip(self.label_moments, other.label_moments)]
        return self


def mean_std(moments: list) -> tuple[list[float], list[float]]:
    count, total, squares = moments
    mean = np.asarray(total, dtype=np.float64) / max(count, 1)
    variance = np.maximum(np.asarray(squares, dtype=np.float64) / max(count, 1) - mean**2, 0.0)
    std = np.sqrt(variance)
    std = np.where(std > 1e-8, std, 1.0)  # a constant feature must not divide by zero
    return [float(v) for v in np.atleast_1d(mean)], [float(v) for v in np.atleast_1d(std)]


@dataclasses.dataclass(frozen=True)
class ShardWriter:
    """Writes a batch's records, split and encoded, under the split folders
    of the Examples artifact; everything it needs pickles small."""

    split_uris: dict[str, str]
    features: tuple[FeatureSpec, ...]
    label_key: str
    task: str
    num_classes: int
    rule: SplitRule

    def empty_stats(self) -> SplitStats:
        return SplitStats(
            [f.name for f in self.features if f.dtype != "string"],
            [f.name for f in self.features if f.dtype == "string"],
            self.num_classes if self.task == "classification" else 0,
        )

    def write(self, batch: RecordBatch) -> SplitStats:
        stats = self.empty_stats()
        if not len(batch):
            return stats
        splits = self.rule.assign(batch.keys, batch.labels if self.rule.stratified else None, batch.test_partition)
        stats.add(batch, splits)
        serialized = encode_examples(batch, self.features, self.label_key, self.task)
        for index, split in enumerate(SPLITS):
            rows = np.flatnonzero(splits == index)
            if not rows.size:
                continue
            write_tfrecords(posixpath.join(self.split_uris[split], f"data-{batch.shard}.tfrecord.gz"),
                            [serialized[row] for row in rows])
        return stats


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def write_tfrecords(path: str, records: Sequence[bytes]) -> None:
    """One gzipped TFRecord file of `records`, framed here and compressed in
    one call: TensorFlow's writer compresses record by record, about ten
    times slower. GZIP_LEVEL 1 trades a fifth more bytes for several times
    the speed of the default level; reading is as fast either way."""
    import tensorflow as tf

    framed = bytearray()
    for record in records:
        length = struct.pack("<Q", len(record))
        framed += length
        framed += struct.pack("<I", _masked_crc(length))
        framed += record
        framed += struct.pack("<I", _masked_crc(record))
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: a gzip stream
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(compressor.compress(bytes(framed)) + compressor.flush())
