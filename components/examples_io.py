"""Reading ingested Examples splits: streamed through `tf.data`, cached in
memory only when a split fits the cache budget.

A split is many gzipped TFRecord shards, written without a global shuffle
(records of one class may sit together in a shard). `ExamplesSplit.batches`
reads them as (features, y) batches: for training it shuffles the shard order,
interleaves the shards and shuffles examples in a buffer, all with a seed; for
evaluation it reads them in the canonical order (the sorted shards, each from
its start), which is also the order of `labels()` and of every per-example
output computed from `serialized_batches()`, so such outputs (teacher
predictions, ensemble members' predictions) line up with the examples.

The splits a component reads (`component_splits`) share one budget,
`cache_budget_bytes()`: when their decoded sizes (a split's size in the
dataset spec times one example's decoded size from the feature shapes) fit it
together, each is parsed once into memory (a variable per feature, filled in
place), shared by every trial of the component; otherwise every one of them is
read from its files every epoch, through a shuffle buffer of bounded memory.
Per-example outputs (labels, predictions: a few numbers per example) are kept
in memory as NumPy vectors; the features of a whole split never are, unless
cached within the budget.
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterable, Iterator, Optional

import numpy as np
import tensorflow as tf
from tfx.dsl.io import fileio
from tfx.types import artifact, artifact_utils

from search_algo.dataset_spec import DatasetSpec
from search_algo.errors import UserError
from search_algo.model_builder import parse_feature_spec

# The memory a component's cached splits may take together, in MiB (decoded
# features and label); 0 turns caching off. Large enough that a million rows
# of 30 numbers (train and eval) are cached; small enough, and all or nothing,
# that a trainer's memory stays within about a fifth of its size on small data
# however large the data: past the budget nothing is cached, not even a small
# eval split beside a large train split (N trainers on one machine, N budgets).
CACHE_BUDGET_ENV = "MODEL_SEARCH_SPLIT_CACHE_MB"
DEFAULT_CACHE_BUDGET_MB = 256
# The memory a streamed split's shuffle buffer may take: it decides how far
# apart two examples of one shard can end up. A buffered example takes its
# serialized size plus about SHUFFLE_ELEMENT_OVERHEAD bytes (its record and
# index as tensors; measured with 530-byte records: 1,030-1,070 bytes each).
SHUFFLE_BUFFER_BYTES = 64 << 20
SHUFFLE_ELEMENT_OVERHEAD = 512
MIN_SHUFFLE_BUFFER = 1024
# Examples read to learn a split's serialized example size.
SIZE_SAMPLE = 256
# Shards read at once when streaming a training split.
INTERLEAVED_SHARDS = 16
# Examples parsed (and predicted) per call when reading a split in order.
READ_BATCH_SIZE = 1024
# A string feature's decoded size is unknown before reading; a short word is assumed.
STRING_FEATURE_BYTES = 64


def cache_budget_bytes() -> int:
    """A component's cache budget: $MODEL_SEARCH_SPLIT_CACHE_MB (MiB) or 256 MiB."""
    text = os.environ.get(CACHE_BUDGET_ENV, "").strip()
    if not text:
        return DEFAULT_CACHE_BUDGET_MB << 20
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if not megabytes >= 0:
        raise UserError(f"{CACHE_BUDGET_ENV}={text!r}: expected a number of MiB, 0 or more")
    return int(megabytes * (1 << 20))


def example_bytes(spec: DatasetSpec) -> int:
    """One example's decoded size: 4 bytes per float value, a guess per string, 8 for the label."""
    size = 8
    for feature in spec.features:
        values = math.prod(feature.shape) if feature.shape else 1
        size += values * (STRING_FEATURE_BYTES if feature.dtype == "string" else 4)
    return size


def split_files(examples: artifact.Artifact, split: str) -> list[str]:
    files = sorted(fileio.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*")))
    if not files:
        raise FileNotFoundError(f"no files in split {split!r} of {examples.uri}")
    return files


def serialized_split(examples: artifact.Artifact, split: str) -> np.ndarray:
    """The whole split's serialized tf.Example strings, in file order (tests;
    components read `ExamplesSplit.serialized_batches`)."""
    dataset = tf.data.TFRecordDataset(split_files(examples, split), compression_type="GZIP")
    return np.array(list(dataset.as_numpy_iterator()), dtype=object)


def parsed_batches(examples: artifact.Artifact, split: str, spec: DatasetSpec, batch_size: int = 4096):
    """The split's features and label, parsed, in batches of NumPy arrays."""
    parse = parse_feature_spec(spec, include_label=True)
    dataset = (
        tf.data.TFRecordDataset(split_files(examples, split), compression_type="GZIP")
        .batch(batch_size)
        .map(lambda s: tf.io.parse_example(s, parse))
    )
    return dataset.as_numpy_iterator()


def distillation_y(labels: tf.Tensor, teacher_rows: tf.Tensor, task: str) -> tf.Tensor:
    """search_algo.distillation.distillation_targets of a batch, in TensorFlow:
    [one-hot label | teacher probabilities] for classification, [label,
    teacher prediction] for regression."""
    teacher_rows = tf.cast(teacher_rows, tf.float32)
    if task == "classification":
        classes = teacher_rows.shape[-1]
        one_hot = tf.one_hot(tf.reshape(tf.cast(labels, tf.int64), [-1]), classes, dtype=tf.float32)
        return tf.concat([one_hot, teacher_rows], axis=-1)
    return tf.stack([tf.reshape(tf.cast(labels, tf.float32), [-1]), tf.reshape(teacher_rows, [-1])], axis=-1)


def stack_rows(batches: Iterable[Any], count: int) -> np.ndarray:
    """The batches' rows as one array of `count` rows, filled in place: a
    split's per-example outputs are held once, not also as a list of batches
    while they are joined."""
    stacked: Optional[np.ndarray] = None
    filled = 0
    for batch in batches:
        batch = np.asarray(batch)
        if stacked is None:
            stacked = np.empty((count, *batch.shape[1:]), dtype=batch.dtype)
        if filled + len(batch) > count:
            raise ValueError(f"more rows than the {count} expected")
        stacked[filled:filled + len(batch)] = batch
        filled += len(batch)
    if filled != count:
        raise ValueError(f"{filled} rows, {count} expected")
    return stacked if stacked is not None else np.empty((0,), dtype=np.float32)


AUTOTUNE = tf.data.AUTOTUNE


class Split:
    """A split as `tf.data` batches; subclasses say where its examples come from."""

    size: int
    cached: bool = True
    _label_key: str

    def __len__(self) -> int:
        return self.size

    def _cached_columns(self) -> dict[str, tf.Tensor]:
        """Every example's features and label, one tensor (or variable) per
        key in the canonical order, kept in memory."""
        raise NotImplementedError

    def _streamed_batches(self, batch_size: int, seed: Optional[int], indexed: bool) -> tf.data.Dataset:
        raise NotImplementedError

    def labels(self) -> np.ndarray:
        """Every example's label, in the canonical order."""
        raise NotImplementedError

    def batches(self, batch_size: int, seed: Optional[int] = None, teacher_outputs: Optional[np.ndarray] = None,
                task: str = "classification") -> tf.data.Dataset:
        """(features, y) batches, y the label or, given `teacher_outputs` (a
        teacher's output row per example, in the canonical order), the
        distillation target of the example's label and its teacher row
        (search_algo.distillation.distillation_targets for `task`), made a
        batch at a time: the split's targets are never held whole, only the
        teacher's rows. With a `seed`, shuffled: a new order on every pass over
        the dataset, the same orders for the same seed. Without one, in the
        canonical order."""
        indexed = teacher_outputs is not None
        if self.cached:
            batched = self._cached_batches(batch_size, seed)
        else:
            batched = self._streamed_batches(batch_size, seed, indexed=indexed)
        label = self._label_key
        # Converted without a copy where NumPy's buffer allows it; the caller need not keep the array.
        rows = tf.convert_to_tensor(teacher_outputs) if indexed else None

        def features_and_y(index, example):
            features = {key: value for key, value in example.items() if key != label}
            if rows is None:
                return features, example[label]
            return features, distillation_y(example[label], tf.gather(rows, index), task)

        return batched.map(features_and_y, num_parallel_calls=AUTOTUNE, deterministic=True).prefetch(AUTOTUNE)

    def _cached_batches(self, batch_size: int, seed: Optional[int]) -> tf.data.Dataset:
        """(indices, examples) batches gathered from the cached columns, as
        Keras batches arrays: the cache stays one tensor per key, without a
        per-example tensor in a cache or a shuffle buffer."""
        columns = self._cached_columns()
        count = int(next(iter(columns.values())).shape[0])
        indices = tf.range(count, dtype=tf.int64)
        if seed is None:
            orders = tf.data.Dataset.from_tensors(indices)
        else:
            # A new permutation on every pass, the same ones for the same seed.
            orders = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1).map(
                lambda draw: tf.random.experimental.stateless_shuffle(
                    indices, seed=tf.stack([tf.constant(seed, tf.int64), draw])))
        whole = count // batch_size * batch_size

        def cut(order):  # into batches of indices, without a dataset element per example
            batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:whole], [-1, batch_size]))
            return batches.concatenate(tf.data.Dataset.from_tensors(order[whole:])) if whole < count else batches

        batches = orders.flat_map(cut).apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))
        return batches.map(lambda index: (index, {key: tf.gather(column, index) for key, column in columns.items()}),
                           num_parallel_calls=AUTOTUNE, deterministic=True)

    def features(self, batch_size: int = READ_BATCH_SIZE) -> tf.data.Dataset:
        """The features alone, in batches in the canonical order (for `predict`)."""
        return self.batches(batch_size).map(lambda features, _: features)


class ExamplesSplit(Split):
    """One split of an ingested Examples artifact (see the module docstring)."""

    def __init__(self, examples: artifact.Artifact, split: str, spec: DatasetSpec,
                 cache_budget: Optional[int] = None):
        self.files = split_files(examples, split)
        self._label_key = spec.label
        self._parse = parse_feature_spec(spec, include_label=True)
        self._example_bytes = example_bytes(spec)
        known = spec.split_sizes.get(split)
        self.size = int(known) if known is not None else int(sum(self._file_sizes()))
        budget = cache_budget_bytes() if cache_budget is None else cache_budget
        self.decoded_bytes = self.size * self._example_bytes
        self.cached = budget > 0 and self.decoded_bytes <= budget
        self._shuffle_buffer: Optional[int] = None
        self._columns: Optional[dict[str, tf.Variable]] = None
        self._labels: Optional[np.ndarray] = None
        self._offsets: Optional[list[int]] = None

    @property
    def shuffle_buffer(self) -> int:
        """Examples in a streamed split's shuffle buffer: as many as take
        SHUFFLE_BUFFER_BYTES of memory (the buffer holds the records before
        parsing), at least MIN_SHUFFLE_BUFFER, at most the split."""
        if self._shuffle_buffer is None:
            head = self.serialized_head(SIZE_SAMPLE)
            record_bytes = float(np.mean([len(record) for record in head])) if len(head) else 0.0
            self._shuffle_buffer = max(1, min(self.size, max(
                MIN_SHUFFLE_BUFFER, int(SHUFFLE_BUFFER_BYTES // (record_bytes + SHUFFLE_ELEMENT_OVERHEAD)))))
        return self._shuffle_buffer

    @shuffle_buffer.setter
    def shuffle_buffer(self, examples: int) -> None:
        self._shuffle_buffer = examples

    def _records(self) -> tf.data.Dataset:
        """The serialized examples in the canonical order."""
        return tf.data.TFRecordDataset(self.files, compression_type="GZIP")

    def _parsed(self, serialized: tf.Tensor, keys=None) -> dict[str, tf.Tensor]:
        spec = self._parse if keys is None else {key: self._parse[key] for key in keys}
        return tf.io.parse_example(serialized, spec)

    def _cached_columns(self) -> dict[str, tf.Tensor]:
        # Read once for the component's whole execution, by the first pass that
        # needs it, into a variable per key of the split's size, filled in place
        # batch by batch: the split is held once while it loads, not also as
        # its batches while they are joined.
        if self._columns is None:
            columns: dict[str, tf.Variable] = {}
            filled = 0
            for batch in self._records().batch(READ_BATCH_SIZE).map(
                    self._parsed, num_parallel_calls=AUTOTUNE, deterministic=True):
                count = int(batch[self._label_key].shape[0])
                if filled + count > self.size:
                    raise ValueError(f"{self.files[0]}: more examples in the split than the {self.size} expected")
                for key, value in batch.items():
                    if key not in columns:
                        columns[key] = tf.Variable(tf.zeros([self.size, *value.shape[1:]], value.dtype),
                                                   trainable=False)
                    # In place (a slice of the variable read first would make it copy itself).
                    tf.raw_ops.ResourceStridedSliceAssign(ref=columns[key].handle, begin=[filled],
                                                          end=[filled + count], strides=[1], value=value)
                filled += count
            if filled != self.size:
                raise ValueError(f"{self.files[0] if self.files else 'the split'}: {filled} examples, "
                                 f"{self.size} expected")
            self._columns = columns
        return self._columns

    def _streamed_batches(self, batch_size: int, seed: Optional[int], indexed: bool) -> tf.data.Dataset:
        if seed is None:
            records = self._records().enumerate()
        else:
            # The shards in a seeded order, several read at once and their
            # examples interleaved, then shuffled in a buffer: a shard's examples
            # (perhaps of one class) spread over the whole pass.
            offsets = self._file_offsets() if indexed else [0] * len(self.files)
            shards = tf.data.Dataset.from_tensor_slices((self.files, tf.constant(offsets, tf.int64))).shuffle(
                len(self.files), seed=seed, reshuffle_each_iteration=True)

            def read(path, offset):
                return tf.data.TFRecordDataset(path, compression_type="GZIP").enumerate().map(
                    lambda position, record: (position + offset, record))

            records = shards.interleave(read, cycle_length=min(len(self.files), INTERLEAVED_SHARDS), block_length=1,
                                        num_parallel_calls=AUTOTUNE, deterministic=True)
            records = records.shuffle(self.shuffle_buffer, seed=seed + 1, reshuffle_each_iteration=True)
        # Keras then knows an epoch's steps (and a split not of its spec's size fails loudly).
        records = records.apply(tf.data.experimental.assert_cardinality(self.size))
        return records.batch(batch_size).map(
            lambda index, serialized: (index, self._parsed(serialized)),
            num_parallel_calls=AUTOTUNE, deterministic=True)

    def _file_sizes(self) -> list[int]:
        """How many examples each shard holds (one pass over the split)."""
        counts = tf.data.Dataset.from_tensor_slices(self.files).map(
            lambda path: tf.data.TFRecordDataset(path, compression_type="GZIP").reduce(
                np.int64(0), lambda count, _: count + 1),
            num_parallel_calls=AUTOTUNE, deterministic=True)
        return [int(count) for count in counts.as_numpy_iterator()]

    def _file_offsets(self) -> list[int]:
        """Each shard's first example's canonical index."""
        if self._offsets is None:
            self._offsets = [0, *np.cumsum(self._file_sizes())[:-1].tolist()]
        return self._offsets

    def labels(self) -> np.ndarray:
        if self._labels is None:
            label = self._label_key
            batches = self._records().batch(READ_BATCH_SIZE).map(
                lambda serialized: self._parsed(serialized, [label])[label],
                num_parallel_calls=AUTOTUNE, deterministic=True)
            self._labels = stack_rows(batches.as_numpy_iterator(), self.size)
        return self._labels

    def serialized_batches(self, batch_size: int = READ_BATCH_SIZE) -> Iterator[np.ndarray]:
        """The serialized examples in the canonical order, a batch at a time."""
        return self._records().batch(batch_size).prefetch(1).as_numpy_iterator()

    def serialized_head(self, count: int) -> np.ndarray:
        """The first `count` serialized examples (fewer if the split is smaller)."""
        return np.array(list(self._records().take(count).as_numpy_iterator()), dtype=object)

    def outputs(self, predict, key: str) -> np.ndarray:
        """`predict(serialized)[key]` (a model's serving signature) of every
        example in the canonical order, computed a batch at a time."""
        return stack_rows((predict(batch)[key] for batch in self.serialized_batches()), self.size)


class ArraySplit(Split):
    """A split already in memory as arrays (benchmarks and tests build their
    data this way), behind the same interface."""

    _label_key = "__label__"

    def __init__(self, features: dict[str, np.ndarray], labels: np.ndarray):
        self._labels = np.asarray(labels)
        self.size = int(self._labels.shape[0])
        self._columns = {key: tf.convert_to_tensor(value) for key, value in
                         {**features, self._label_key: self._labels}.items()}

    def _cached_columns(self) -> dict[str, tf.Tensor]:
        return self._columns

    def labels(self) -> np.ndarray:
        return self._labels


def component_splits(examples: artifact.Artifact, names: Iterable[str], spec: DatasetSpec,
                     cache_budget: Optional[int] = None) -> list[ExamplesSplit]:
    """The splits one component reads, sharing one cache budget: all cached
    when their decoded sizes together fit it, else all streamed (a cached eval
    split beside a streamed train split would grow with the data)."""
    budget = cache_budget_bytes() if cache_budget is None else cache_budget
    splits = [ExamplesSplit(examples, name, spec, cache_budget=budget) for name in names]
    together = budget > 0 and sum(split.decoded_bytes for split in splits) <= budget
    for split in splits:
        split.cached = together
    return splits


def load_split(examples: artifact.Artifact, split: str, spec: DatasetSpec) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(features, labels) of a whole split as NumPy arrays, for benchmarks
    that compare with libraries reading arrays; components read `ExamplesSplit`."""
    batches: dict[str, list[Any]] = {}
    for batch in parsed_batches(examples, split, spec):
        for key, value in batch.items():
            batches.setdefault(key, []).append(value)
    arrays = {key: np.concatenate(values) for key, values in batches.items()}
    labels = arrays.pop(spec.label)
    return arrays, labels


def to_example(values: dict[str, Any]) -> tf.train.Example:
    """tf.Example of encoded feature values: strings as bytes, integers (the
    class index) as int64, everything else as a flat float list."""
    feature = {}
    for key, value in values.items():
        if isinstance(value, str):
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")]))
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
        else:
            flat = np.asarray(value, dtype=np.float32).reshape(-1)
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=flat))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def serialize_features(features: dict[str, np.ndarray], spec: DatasetSpec) -> np.ndarray:
    """Parsed features (as `load_split` returns them) back to serialized
    tf.Example strings that a model's serving signature reads."""
    count = len(next(iter(features.values()))) if features else 0
    def text(value):  # tf.io.parse_example gives bytes
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    strings = {feature.name for feature in spec.features if feature.dtype == "string"}
    return np.array([
        to_example({name: text(column[row]) if name in strings else column[row]
                    for name, column in features.items()}).SerializeToString()
        for row in range(count)
    ], dtype=object)
