"""TFRecord files of tf.Example, plain or gzipped, given as one file or a
glob. Each file is a unit of work that a Beam worker streams with `tf.data`.
The first pass records, per key, the types and lengths it holds and in how
many records, and the values of the keys that may be the label; the driver
checks that every feature has one fixed shape, picks the label and chooses
between tabular input (one value per feature) and a sequence (a single
numeric feature holding several values). The second pass parses records in
batches with `tf.io.parse_example` and hands on about `WRITE_BYTES` of them at
a time, so a split is a few shards of some megabytes, as from a CSV chunk,
not thousands of small files that a trainer opens one after another.

The survey checks records a batch at a time against the keys, kinds and
lengths of the first `SAMPLE_RECORDS` records (one `parse_example` call), and
looks at each record's own fields only in a batch that does not parse, which
then names the record at fault. A key that none of the first records has is
not a feature (parsing ignores it).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from typing import Iterator

import numpy as np

from components.ingest.batches import LabelSurvey, RecordBatch, concatenate
from components.ingest.naming import (
    LABEL_GUESSES,
    check_classes,
    class_order,
    decide_label_task,
    rows_text,
    sanitize_name,
)
from components.ingest.paths import file_system_errors, glob_paths, has_magic, is_file, path_name
from components.ingest.plan import Plan, SourceConfig
from components.ingest.splits import check_not_empty, content_keys, make_rule, train_eval_ratios
from search_algo.dataset_spec import FeatureSpec
from search_algo.errors import DataError

PARSE_BATCH = 2048
# Serialized input records per written batch (and so per shard of each split),
# as a CSV chunk's bytes.
WRITE_BYTES = 16 * 2**20
# Records of the first file whose keys, kinds and lengths the survey expects.
SAMPLE_RECORDS = 256
_PARSE_TYPES = {"bytes_list": "string", "float_list": "float32", "int64_list": "int64"}


def _tfrecord_files(pattern: str) -> list[str]:
    from tfx.dsl.io import fileio

    with file_system_errors(pattern):
        files = glob_paths(pattern) if has_magic(pattern) else [pattern]
        if not files:
            raise DataError(f"no file matches {pattern}")
        for file in files:
            if not is_file(file):
                raise DataError(f"{file}: no such file")
            if fileio.stat(file).length == 0:
                raise DataError(f"{file}: the file is empty")
    return files


def _records(file: str):
    import tensorflow as tf

    compression = "GZIP" if file.endswith(".gz") else None
    return tf.data.TFRecordDataset(file, compression_type=compression).as_numpy_iterator()


def _label_text(kind: str | None, values: list) -> str | None:
    if len(values) != 1:
        return None
    value = values[0]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value) if kind == "float_list" else str(value)


def _label_texts(kind: str, values: np.ndarray) -> list[str]:
    """`_label_text` of each parsed label value."""
    if kind == "bytes_list":
        return [v.decode("utf-8", "replace") for v in values]
    if kind == "float_list":
        return [repr(float(v)) for v in values]
    return [str(int(v)) for v in values]


@dataclasses.dataclass(frozen=True)
class TFRecordFile:
    file_index: int  # 0: the data, 1: a separate test set
    index: int
    path: str


class TFRecordSurvey:
    def __init__(self) -> None:
        self.layouts: dict[str, Counter] = {}  # key -> Counter of (kind, length)
        self.present: Counter = Counter()  # key -> records holding it (main data)
        self.first_missing: dict[str, str] = {}  # key -> "file#index" of a record without it
        self.records = [0, 0]
        self.unreadable: str | None = None
        # Candidate label key -> its values; a record whose value is not one value
        self.labels: dict[str, LabelSurvey] = {}
        self.bad_label: dict[str, str] = {}

    def merge(self, other: "TFRecordSurvey") -> "TFRecordSurvey":
        for key, layout in other.layouts.items():
            self.layouts.setdefault(key, Counter()).update(layout)
        self.present.update(other.present)
        for key, where in other.first_missing.items():
            self.first_missing.setdefault(key, where)
        self.records = [a + b for a, b in zip(self.records, other.records)]
        self.unreadable = self.unreadable or other.unreadable
        for key, labels in other.labels.items():
            if key in self.labels:
                self.labels[key].merge(labels)
            else:
                self.labels[key] = labels
        for key, where in other.bad_label.items():
            self.bad_label.setdefault(key, where)
        return self


class _Scan:
    """A file's records looked at one by one (a batch that did not parse):
    every key's kind and length, the keys a record lacks, bad labels."""

    def __init__(self, unit: TFRecordFile, survey: TFRecordSurvey, labels: dict, contents: dict) -> None:
        self.unit, self.survey, self.labels, self.contents = unit, survey, labels, contents
        self.keys: set[str] = set()
        self.missing: dict[str, str] = {}
        self.index = 0

    def seen(self, keys: set[str], count: int) -> None:
        """`count` records with exactly `keys` (a batch that parsed)."""
        for key in keys - self.keys:
            if self.index:
                self.missing.setdefault(key, f"{self.unit.path}#0")
        for key in self.keys - keys:
            self.missing.setdefault(key, f"{self.unit.path}#{self.index}")
        self.keys |= keys
        self.index += count

    def records(self, serialized) -> None:
        import tensorflow as tf

        test = self.unit.file_index == 1
        for raw in serialized:
            features = tf.train.Example.FromString(raw).features.feature
            self.survey.records[self.unit.file_index] += 1
            keys = set()
            for key, feature in features.items():
                kind = feature.WhichOneof("kind")
                values = list(getattr(feature, kind).value) if kind else []
                keys.add(key)
                if not test:
                    self.survey.layouts.setdefault(key, Counter())[(kind, len(values))] += 1
                    self.survey.present[key] += 1
                if key in self.labels:
                    text = _label_text(kind, values)
                    if text is None:
                        self.survey.bad_label.setdefault(key, f"{self.unit.path}: record {self.index}")
                    else:
                        self.labels[key].append(text)
                        self.contents[key].append(raw)
            if not test:
                self.seen(keys, 1)
            else:
                self.index += 1


class TFRecordSource:
    kind = "tfrecord"

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.files = [TFRecordFile(0, i, f) for i, f in enumerate(_tfrecord_files(config.data))]
        if config.test_data:
            self.files += [TFRecordFile(1, i, f) for i, f in enumerate(_tfrecord_files(config.test_data))]
        self.candidates = [config.label] if config.label else list(LABEL_GUESSES)
        self.fast_layout = self._sample_layout()

    def _sample_layout(self) -> dict[str, tuple[str, int]]:
        """Each key's (kind, length) in the first records of the first file,
        when every one of them agrees: the survey then checks records by the
        batch with `tf.io.parse_example` and looks at a record's own fields
        only in a batch that does not parse. Empty: look at every record."""
        import tensorflow as tf

        layouts: dict[str, set] = {}
        try:
            for raw in itertools.islice(_records(self.files[0].path), SAMPLE_RECORDS):
                for key, feature in tf.train.Example.FromString(raw).features.feature.items():
                    kind = feature.WhichOneof("kind")
                    layouts.setdefault(key, set()).add((kind, len(getattr(feature, kind).value) if kind else 0))
        except Exception:  # noqa: BLE001 - the survey reports an unreadable file
            return {}
        if any(len(found) != 1 or next(iter(found))[0] is None or next(iter(found))[1] == 0
               for found in layouts.values()):
            return {}
        return {key: next(iter(found)) for key, found in layouts.items()}

    def units(self) -> list[TFRecordFile]:
        return self.files

    def survey(self, unit: TFRecordFile) -> TFRecordSurvey:
        import tensorflow as tf

        survey = TFRecordSurvey()
        test = unit.file_index == 1
        labels: dict[str, list] = {key: [] for key in self.candidates}
        contents: dict[str, list] = {key: [] for key in self.candidates}
        scan = _Scan(unit, survey, labels, contents)
        layout = self.fast_layout
        spec = {key: tf.io.FixedLenFeature([length] if length > 1 else [], getattr(tf, _PARSE_TYPES[kind]))
                for key, (kind, length) in layout.items()}
        compression = "GZIP" if unit.path.endswith(".gz") else None
        try:
            batches = tf.data.TFRecordDataset(unit.path, compression_type=compression).batch(PARSE_BATCH)
            for serialized in batches.as_numpy_iterator():
                parsed = None
                if spec:
                    try:
                        parsed = tf.io.parse_example(serialized, spec)
                    except tf.errors.InvalidArgumentError:
                        parsed = None
                if parsed is None:
                    scan.records(serialized)
                    continue
                count = len(serialized)
                survey.records[unit.file_index] += count
                if not test:
                    for key, found in layout.items():
                        survey.layouts.setdefault(key, Counter())[found] += count
                        survey.present[key] += count
                for key in labels:
                    if key in layout and layout[key][1] == 1:
                        labels[key] += _label_texts(layout[key][0], parsed[key].numpy())
                        contents[key] += list(serialized)
                scan.seen(set(layout), count)
        except Exception as error:  # noqa: BLE001 - any reader failure means "not TFRecords"
            survey.unreadable = f"{unit.path}: not a readable TFRecord file of tf.Example ({type(error).__name__})"
            return survey
        survey.first_missing = scan.missing
        for key in self.candidates:
            if labels[key]:
                found = LabelSurvey()
                found.add(labels[key], content_keys(contents[key], self.config.seed), test_partition=test)
                survey.labels[key] = found
        return survey

    def plan(self, survey: TFRecordSurvey) -> Plan:
        config = self.config
        if survey.unreadable:
            raise DataError(survey.unreadable)
        if not survey.records[0]:
            raise DataError(f"{config.data}: holds no records")
        keys = sorted(survey.layouts)
        label = config.label or next((k for k in LABEL_GUESSES if k in keys), None)
        if label is None:
            raise DataError(f"{config.data}: name the label key with --label (keys: {', '.join(keys)})")
        if label not in keys:
            raise DataError(f"{config.data}: no label key {label!r}; the keys are: {', '.join(keys)}")
        if label in survey.bad_label:
            raise DataError(f"{survey.bad_label[label]}: label {label!r} must hold exactly one value")
        labels = survey.labels[label]
        if labels.total < survey.records[0]:
            raise DataError(f"{config.data}: label {label!r} is missing from record(s) "
                            f"{survey.first_missing.get(label, '?')}")
        task = decide_label_task(labels, config.task, config.data, label)
        class_names = class_order(labels.counts) if task == "classification" else []
        if task == "classification":
            check_classes(class_names, config.data, label)
            unknown = sorted(set(labels.test_counts) - set(class_names))
            if unknown:
                raise DataError(f"{config.test_data}: label values not in the training data: {', '.join(unknown[:5])}")

        feature_keys = [k for k in keys if k != label]
        if not feature_keys:
            raise DataError(f"{config.data}: no feature keys besides the label {label!r}")
        layout: dict[str, tuple[str, int]] = {}
        for key in feature_keys:
            if survey.present[key] < survey.records[0]:
                raise DataError(f"{config.data}: feature {key!r} is missing from record(s) "
                                f"{rows_text([survey.first_missing.get(key, '?')])}")
            seen = survey.layouts[key]
            if len(seen) > 1:
                raise DataError(
                    f"{config.data}: feature {key!r} varies in type or length across records ({sorted(seen)}); "
                    "every record needs the same fixed shape"
                )
            layout[key] = next(iter(seen))
        sequence = len(feature_keys) == 1 and layout[feature_keys[0]][1] > 1
        if not sequence:
            wide = [k for k in feature_keys if layout[k][1] != 1]
            if wide:
                raise DataError(
                    f"{config.data}: feature {wide[0]!r} holds {layout[wide[0]][1]} values; with several features "
                    "each must hold one (or give a single feature holding a sequence)"
                )
        taken = {label}
        names = {k: sanitize_name(k, taken) for k in feature_keys}
        label_key = "label" if label == "label" else sanitize_name(label, set(names.values()))
        features = []
        for key in feature_keys:
            kind, length = layout[key]
            categorical = kind == "bytes_list"
            if sequence and categorical:
                raise DataError(f"{config.data}: a sequence feature must be numeric, {key!r} holds bytes")
            features.append(
                FeatureSpec(
                    name=names[key],
                    display_name=key,
                    kind="categorical" if categorical else "numeric",
                    dtype="string" if categorical else "float32",
                    shape=[length, 1] if sequence else [],
                )
            )
        ratios = train_eval_ratios(config.split_ratios) if config.test_data else config.split_ratios
        rule = make_rule(labels.groups(class_names if task == "classification" else None), ratios,
                         stratified=task == "classification")
        plan = Plan(
            name=path_name(_tfrecord_files(config.data)[0]).split(".")[0],
            source_kind="tfrecord",
            task=task,
            input_kind="sequence" if sequence else "tabular",
            label_key=label_key,
            label_display_name=label,
            class_names=class_names,
            features=features,
            rule=rule,
            expected_sizes=rule.expected_sizes(labels.test_total),
            decisions={"label": label, "label_kind": layout_of_label(survey, label),
                       "keys": {names[k]: (k, layout[k][0]) for k in feature_keys}},
        )
        check_not_empty(plan.expected_sizes, plan.name)
        return plan

    def batches(self, unit: TFRecordFile, plan: Plan) -> Iterator[RecordBatch]:
        import tensorflow as tf

        decisions = plan.decisions
        label, label_kind = decisions["label"], decisions["label_kind"]
        parse = {}
        for feature in plan.features:
            key, kind = decisions["keys"][feature.name]
            shape = [int(np.prod(feature.shape))] if feature.shape else []
            parse[key] = tf.io.FixedLenFeature(shape, _PARSE_TYPES[kind])
        parse[label] = tf.io.FixedLenFeature([], _PARSE_TYPES[label_kind])
        class_index = {name: i for i, name in enumerate(plan.class_names)}
        compression = "GZIP" if unit.path.endswith(".gz") else None
        dataset = tf.data.TFRecordDataset(unit.path, compression_type=compression).batch(PARSE_BATCH)
        pending: list[RecordBatch] = []
        pending_bytes = 0
        number = 0
        for serialized in dataset.as_numpy_iterator():
            parsed = tf.io.parse_example(serialized, parse)
            features = {}
            for feature in plan.features:
                key, kind = decisions["keys"][feature.name]
                values = parsed[key].numpy()
                if kind == "bytes_list":
                    features[feature.name] = np.array([v.decode("utf-8", "replace") for v in values], dtype=object)
                else:
                    features[feature.name] = values.reshape([-1, *feature.shape]).astype(np.float32)
            raw_labels = parsed[label].numpy()
            if plan.task == "classification":
                labels = np.array([class_index[t] for t in _label_texts(label_kind, raw_labels)], dtype=np.int64)
            else:
                labels = raw_labels.astype(np.float64)
            pending.append(RecordBatch(features, labels, content_keys(serialized, self.config.seed), "",
                                       test_partition=unit.file_index == 1))
            pending_bytes += sum(len(record) for record in serialized)
            if pending_bytes >= WRITE_BYTES:
                yield self._written(pending, unit, number)
                pending, pending_bytes, number = [], 0, number + 1
        if pending:
            yield self._written(pending, unit, number)

    @staticmethod
    def _written(parts: list[RecordBatch], unit: TFRecordFile, number: int) -> RecordBatch:
        return dataclasses.replace(concatenate(parts), shard=f"{unit.file_index}-{unit.index:05d}-{number:05d}")


def layout_of_label(survey: TFRecordSurvey, label: str) -> str:
    return next(iter(survey.layouts[label]))[0]
