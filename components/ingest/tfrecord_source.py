"""TFRecord files of tf.Example, plain or gzipped, given as one file or a
glob. Planning reads every record to find the label key, to check that each
feature has the same type and length in every record, and to choose between
tabular input (one value per feature) and a sequence (a single numeric
feature holding several values).
"""

from __future__ import annotations

import numpy as np

from components.ingest.naming import (
    LABEL_GUESSES,
    check_classes,
    class_order,
    decide_task,
    rows_text,
    sanitize_name,
)
from components.ingest.paths import file_system_errors, glob_paths, has_magic, is_file, path_name
from components.ingest.plan import Plan, SourceConfig
from components.ingest.splits import plan_splits
from search_algo.dataset_spec import FeatureSpec
from search_algo.errors import DataError


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


def read_tfrecord_examples(pattern: str) -> list[tuple[str, int, dict[str, tuple[str, list]]]]:
    """(file, index, {key: (kind, values)}) for every tf.Example in the files."""
    import tensorflow as tf

    out = []
    for file in _tfrecord_files(pattern):
        compression = "GZIP" if file.endswith(".gz") else None
        try:
            for index, raw in enumerate(tf.data.TFRecordDataset(file, compression_type=compression).as_numpy_iterator()):
                example = tf.train.Example.FromString(raw)
                features = {}
                for key, feature in example.features.feature.items():
                    kind = feature.WhichOneof("kind")
                    features[key] = (kind, list(getattr(feature, kind).value) if kind else [])
                out.append((file, index, features))
        except (tf.errors.DataLossError, Exception) as error:  # noqa: BLE001
            if isinstance(error, DataError):
                raise
            raise DataError(f"{file}: not a readable TFRecord file of tf.Example ({type(error).__name__})") from None
    if not out:
        raise DataError(f"{pattern}: holds no records")
    return out


def make_plan(config: SourceConfig) -> Plan:
    examples = read_tfrecord_examples(config.data)
    test_examples = read_tfrecord_examples(config.test_data) if config.test_data else []
    keys = sorted({k for _, _, f in examples for k in f})
    label = config.label or next((k for k in LABEL_GUESSES if k in keys), None)
    if label is None:
        raise DataError(f"{config.data}: name the label key with --label (keys: {', '.join(keys)})")
    if label not in keys:
        raise DataError(f"{config.data}: no label key {label!r}; the keys are: {', '.join(keys)}")

    def label_value(file, index, features) -> str:
        kind, values = features.get(label, (None, []))
        if len(values) != 1:
            raise DataError(f"{file}: record {index}: label {label!r} must hold exactly one value")
        value = values[0]
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value) if kind == "float_list" else str(value)

    labels = [label_value(*e) for e in examples]
    test_labels = [label_value(*e) for e in test_examples]
    task = decide_task(labels, config.task, config.data)
    class_names = class_order(labels) if task == "classification" else []
    if task == "classification":
        check_classes(class_names, config.data, label)
        unknown = sorted(set(test_labels) - set(class_names))
        if unknown:
            raise DataError(f"{config.test_data}: label values not in the training data: {', '.join(unknown[:5])}")

    feature_keys = [k for k in keys if k != label]
    if not feature_keys:
        raise DataError(f"{config.data}: no feature keys besides the label {label!r}")
    layout: dict[str, tuple[str, int]] = {}
    for key in feature_keys:
        seen = {(f[key][0], len(f[key][1])) for _, _, f in examples if key in f}
        missing = [f"{file}#{index}" for file, index, f in examples if key not in f]
        if missing:
            raise DataError(f"{config.data}: feature {key!r} is missing from record(s) {rows_text(missing)}")
        if len(seen) > 1:
            raise DataError(
                f"{config.data}: feature {key!r} varies in type or length across records ({sorted(seen)}); "
                "every record needs the same fixed shape"
            )
        layout[key] = seen.pop()
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
    class_index = {name: i for i, name in enumerate(class_names)}

    def to_record(example, label_text) -> tuple:
        _, _, f = example
        values = []
        for key, feature in zip(feature_keys, features):
            raw = f[key][1]
            if feature.kind == "categorical":
                values.append(raw[0].decode("utf-8", "replace"))
            elif sequence:
                values.append(np.asarray(raw, dtype=np.float32).reshape(feature.shape))
            else:
                values.append(float(raw[0]))
        return (tuple(values), class_index[label_text] if task == "classification" else float(label_text))

    records = [to_record(e, l) for e, l in zip(examples, labels)]
    test_records = [to_record(e, l) for e, l in zip(test_examples, test_labels)] if config.test_data else None
    stratify = [r[1] for r in records] if task == "classification" else None
    return Plan(
        name=path_name(_tfrecord_files(config.data)[0]).split(".")[0],
        source_kind="tfrecord",
        task=task,
        input_kind="sequence" if sequence else "tabular",
        label_key=label_key,
        label_display_name=label,
        class_names=class_names,
        features=features,
        splits=plan_splits(records, stratify, config, test_records),
    )
