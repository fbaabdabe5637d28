"""Reading every supported data source into one plan of records and splits.

`make_plan(config)` validates the input (raising `DataError` with a one-line
message that names the file, row, column or class folder), infers the schema
(task, label classes, features, input kind) and assigns every record to a
split, deterministically for the seed. `encode_record(plan, record)` turns one
record into feature values; the ingestion executor runs it inside Beam.

Data may be local or at any URI TensorFlow's file systems know (`gs://…`):
every file is reached through TFX's `fileio`. It is imported where a file is
first touched, so checking settings stays free of TensorFlow's start-up.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import logging
import math
import os
import posixpath
import re
from collections import Counter
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from search_algo.dataset_spec import FeatureSpec
from search_algo.errors import DataError, UserError

log = logging.getLogger(__name__)

SPLITS = ("train", "eval", "test")
SOURCE_KINDS = ("csv", "images", "audio", "tfrecord", "builtin")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
AUDIO_SUFFIXES = (".wav",)
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
LABEL_GUESSES = ("label", "target", "class", "y")
# An integer-valued label with more distinct values than this is a regression target.
MAX_CLASSES_FOR_INTEGER_LABEL = 20
# A column whose non-missing cells are at least this share numeric is numeric:
# the rest are typos to report, not categories.
NUMERIC_COLUMN_SHARE = 0.9
MAX_ROWS_NAMED = 5


@dataclasses.dataclass(frozen=True)
class AudioOptions:
    sample_rate: int = 16000
    # None: the longest clip of the data set, capped at `max_seconds`.
    seconds: float | None = None
    max_seconds: float = 10.0
    n_mels: int = 40
    frame_ms: float = 25.0
    step_ms: float = 10.0


@dataclasses.dataclass(frozen=True)
class SourceConfig:
    """What to ingest and how. Built by the CLI from flags / the study config."""

    data: str | None = None  # a path or a TFRecord glob
    dataset: str | None = None  # a built-in data set name
    kind: str | None = None  # None: detected from `data`
    label: str | None = None
    task: str | None = None  # classification | regression | None (detect)
    test_data: str | None = None  # a separate test file / folder / glob
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    image_size: tuple[int, int] | None = None  # (height, width); None: detect
    color_mode: str = "auto"  # auto | grayscale | rgb
    audio: AudioOptions = AudioOptions()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SourceConfig":
        data = dict(data)
        if data.get("audio") is not None:
            data["audio"] = AudioOptions(**data["audio"])
        for key in ("split_ratios", "image_size"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**data)


@dataclasses.dataclass
class Plan:
    """The validated schema plus every record, assigned to a split.

    A record is a tuple whose shape depends on the source: (feature values,
    label) for tables and arrays, (file path, label index) for image and audio
    folders, which are decoded later, inside Beam.
    """

    name: str
    source_kind: str
    task: str
    input_kind: str
    label_key: str
    label_display_name: str
    class_names: list[str]
    features: list[FeatureSpec]
    splits: dict[str, list[tuple]]
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)

    def split_sizes(self) -> dict[str, int]:
        return {name: len(records) for name, records in self.splits.items()}


# --------------------------------------------------------------------------
# Paths: local paths and URIs alike. pathlib would turn `gs://b/x` into
# `gs:/b/x`, so names come from string operations that leave a URI's scheme
# alone and print a local path exactly as pathlib did.

# How TFX's file-system registry tells a scheme from a local path.
_URI_SCHEME = re.compile(r"^[a-z0-9]+://")
_GLOB_MAGIC = re.compile(r"[*?[]")


def is_uri(path: str) -> bool:
    return bool(_URI_SCHEME.match(path))


def clean_path(path: str) -> str:
    """A local path as pathlib prints it (no `.` parts, no doubled or trailing
    slashes); a URI only loses trailing slashes."""
    if is_uri(path):
        scheme, rest = path.split("://", 1)
        return f"{scheme}://{rest.rstrip('/')}"
    root = "//" if path.startswith("//") and not path.startswith("///") else "/" if path.startswith("/") else ""
    return root + "/".join(part for part in path.split("/") if part not in ("", ".")) or "."


def path_name(path: str) -> str:
    """The last part of a path or URI, as pathlib's `name`."""
    name = clean_path(path).rsplit("/", 1)[-1]
    return "" if name == "." else name


def _split_suffix(name: str) -> tuple[str, str]:
    dot = name.rfind(".")
    return (name[:dot], name[dot:]) if 0 < dot < len(name) - 1 else (name, "")


def path_stem(path: str) -> str:
    """The name without its last suffix, as pathlib's `stem`."""
    return _split_suffix(path_name(path))[0]


def path_suffix(path: str) -> str:
    """The last suffix (`.png`), as pathlib's `suffix`."""
    return _split_suffix(path_name(path))[1]


def _join(directory: str, name: str) -> str:
    return name if directory == "." else posixpath.join(directory, name)


def _has_magic(pattern: str) -> bool:
    return bool(_GLOB_MAGIC.search(pattern))


@contextlib.contextmanager
def file_system_errors(path: str) -> Iterator[None]:
    """A file system's own failure (an unknown scheme, no permission, no
    credentials) becomes a one-line DataError naming the path."""
    try:
        yield
    except UserError:
        raise
    except Exception as error:  # noqa: BLE001 - narrowed right below
        import tensorflow as tf  # already loaded: only code using fileio runs in here
        from tfx.dsl.io import fileio

        if not isinstance(error, (OSError, fileio.NotFoundError, tf.errors.OpError)):
            raise
        detail = next(iter(str(error).strip().splitlines()), "")
        raise DataError(f"{path}: cannot read it ({type(error).__name__}: {detail})") from None


def is_file(path: str) -> bool:
    from tfx.dsl.io import fileio

    return fileio.exists(path) and not fileio.isdir(path)


def _children(directory: str) -> list[str]:
    from tfx.dsl.io import fileio

    # Object stores list a sub-folder as `name/`.
    return [name.rstrip("/") for name in fileio.listdir(directory)]


def list_files(folder: str, suffixes: tuple[str, ...]) -> list[str]:
    """Every file in `folder` and its sub-folders whose suffix (any case) is
    one of `suffixes`, sorted."""
    from tfx.dsl.io import fileio

    found = []
    for directory, _, names in fileio.walk(folder):
        found.extend(
            clean_path(posixpath.join(directory, name)) for name in names if path_suffix(name).lower() in suffixes
        )
    return sorted(found)


def _glob(pattern: str) -> list[str]:
    """The paths matching a glob, sorted. As with Python's `glob`, a wildcard
    does not match a name starting with "." unless its part of the pattern
    does (tf.io.gfile's glob matches hidden names too)."""
    from tfx.dsl.io import fileio

    parts = pattern.split("/")
    # tf.io.gfile answers `*.tfrecord` with `./a.tfrecord`; Python's glob with `a.tfrecord`.
    added_dot = not is_uri(pattern) and not pattern.startswith("./")

    def as_python(match: str) -> str:
        return match[2:] if added_dot and match.startswith("./") else match

    def visible(match: str) -> bool:
        matched = match.split("/")
        return len(matched) != len(parts) or not any(
            _has_magic(part) and not part.startswith(".") and name.startswith(".")
            for part, name in zip(parts, matched)
        )

    return sorted(match for match in map(as_python, fileio.glob(pattern)) if visible(match))


def _read_bytes(path: str) -> bytes:
    from tfx.dsl.io import fileio

    with fileio.open(path, "rb") as handle:
        return handle.read()


# --------------------------------------------------------------------------
# Entry points


def make_plan(config: SourceConfig) -> Plan:
    """Validates the source and returns its plan; raises DataError on bad input."""
    _check_ratios(config.split_ratios)
    if config.task not in (None, "classification", "regression"):
        raise DataError(f"--task must be classification or regression, not {config.task!r}")
    if config.dataset:
        from components.ingest import builtin

        plan = builtin.make_plan(config)
    else:
        if not config.data:
            raise DataError("give either --dataset NAME or --data PATH")
        kind = config.kind or detect_kind(config.data)
        if kind == "csv":
            plan = _csv_plan(config)
        elif kind in ("images", "audio"):
            plan = _folder_plan(config, kind)
        elif kind == "tfrecord":
            plan = _tfrecord_plan(config)
        else:
            raise DataError(f"unknown source kind {kind!r}; choose one of {', '.join(SOURCE_KINDS)}")
    for warning in plan.warnings:
        log.warning("%s", warning)
    for split in SPLITS:
        if not plan.splits.get(split):
            raise DataError(
                f"the {split} split of {plan.name} is empty ({plan.split_sizes()}); "
                "the data set is too small for the split ratios"
            )
    return plan


def detect_kind(data: str) -> str:
    """csv for a .csv/.tsv file, tfrecord for TFRecord files or globs, images or
    audio for a folder of class sub-folders."""
    from tfx.dsl.io import fileio

    with file_system_errors(data):
        if _has_magic(data):
            if not _glob(data):
                raise DataError(f"no file matches {data}")
            return "tfrecord"
        if not fileio.exists(data):
            raise DataError(f"{data}: no such file or directory")
        if not fileio.isdir(data):
            name = path_name(data).lower()
            if name.endswith((".csv", ".tsv", ".txt")):
                return "csv"
            if ".tfrecord" in name or name.endswith((".tfr", ".rio")):
                return "tfrecord"
            raise DataError(
                f"{data}: cannot tell the format from the name; expected .csv, .tsv or .tfrecord[.gz]"
            )
        suffixes = _class_folder_suffixes(clean_path(data))
    images = sum(suffixes[s] for s in IMAGE_SUFFIXES)
    audio = sum(suffixes[s] for s in AUDIO_SUFFIXES)
    if not images and not audio:
        raise DataError(
            f"{data}: expected one sub-folder per class holding PNG/JPEG images or WAV files; found none"
        )
    return "images" if images >= audio else "audio"


def _class_folder_suffixes(root: str) -> Counter:
    """How many files of each image or audio suffix the sub-folders of `root`
    hold directly (names starting with "." left out)."""
    from tfx.dsl.io import fileio

    known = IMAGE_SUFFIXES + AUDIO_SUFFIXES
    suffixes: Counter = Counter()
    for child in _children(root):
        folder = _join(root, child)
        if not fileio.isdir(folder):
            continue
        for name in _children(folder):
            suffix = path_suffix(name).lower()
            # Only a known suffix counts, so only those names cost a look-up (a request each on GCS).
            if suffix in known and not name.startswith(".") and not fileio.isdir(_join(folder, name)):
                suffixes[suffix] += 1
    return suffixes


# --------------------------------------------------------------------------
# Splits


def _check_ratios(ratios: Sequence[float]) -> None:
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


# --------------------------------------------------------------------------
# Names and labels


def sanitize_name(name: str, taken: set[str]) -> str:
    """A tf.Example / Keras-safe key for a user's column name, unique in `taken`."""
    key = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower() or "feature"
    if key[0].isdigit():
        key = f"f_{key}"
    candidate, suffix = key, 2
    while candidate in taken:
        candidate, suffix = f"{key}_{suffix}", suffix + 1
    taken.add(candidate)
    return candidate


def _as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def _is_integral(values: Iterable[float]) -> bool:
    return all(float(v).is_integer() for v in values)


def decide_task(values: Sequence[Any], requested: str | None, where: str) -> str:
    """classification for text or few integer values, else regression; `requested` wins."""
    if requested:
        if requested == "regression":
            bad = [v for v in values if isinstance(v, str) and _as_number(v) is None]
            if bad:
                raise DataError(f"{where}: --task regression needs a numeric label, found {bad[0]!r}")
        return requested
    numbers = [_as_number(v) if isinstance(v, str) else float(v) for v in values]
    if any(n is None for n in numbers):
        return "classification"
    if _is_integral(numbers) and len(set(numbers)) <= MAX_CLASSES_FOR_INTEGER_LABEL:
        return "classification"
    return "regression"


def class_order(values: Iterable[Any]) -> list[str]:
    """Class names in a stable order: numerically when every label is a number
    (so 2 < 10), else lexicographically."""
    distinct = {str(v) for v in values}
    numbers = {v: _as_number(v) for v in distinct}
    if all(n is not None for n in numbers.values()):
        return sorted(distinct, key=lambda v: (numbers[v], v))
    return sorted(distinct)


def _check_classes(class_names: list[str], where: str, label: str) -> None:
    if len(class_names) < 2:
        only = class_names[0] if class_names else "nothing"
        raise DataError(
            f"{where}: label {label!r} has a single class ({only!r}); classification needs at least two"
        )


def _rows_text(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_NAMED])
    more = f" and {len(rows) - MAX_ROWS_NAMED} more" if len(rows) > MAX_ROWS_NAMED else ""
    return f"{shown}{more}"


# --------------------------------------------------------------------------
# CSV


@dataclasses.dataclass
class _CsvTable:
    path: str
    header: list[str]
    rows: list[list[str]]
    line_numbers: list[int]


def read_csv(path: str) -> _CsvTable:
    from tfx.dsl.io import fileio

    with file_system_errors(path):
        if not fileio.exists(path):
            raise DataError(f"{path}: no such file")
        if fileio.isdir(path):
            raise DataError(f"{path}: is a folder, expected a CSV file")
        raw = _read_bytes(path)
    if not raw.strip():
        raise DataError(f"{path}: the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"{path}: not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line}); re-save the file as UTF-8"
        ) from None
    sample = text[:65536]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: the file is empty") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise DataError(f"{path}: the first line must be a header naming the columns")
    empty = [i + 1 for i, h in enumerate(header) if not h]
    if empty:
        raise DataError(f"{path}: header column {empty[0]} has no name")
    duplicates = [h for h, n in Counter(header).items() if n > 1]
    if duplicates:
        raise DataError(f"{path}: the header names column {duplicates[0]!r} more than once")
    rows, line_numbers = [], []
    try:
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{path}: line {reader.line_num} has {len(row)} fields, the header has {len(header)}"
                )
            rows.append([cell.strip() for cell in row])
            line_numbers.append(reader.line_num)
    except csv.Error as error:
        raise DataError(f"{path}: line {reader.line_num}: {error}") from None
    if not rows:
        raise DataError(f"{path}: has a header but no data rows")
    return _CsvTable(path, header, rows, line_numbers)


def _pick_label(header: list[str], label: str | None, where: str) -> int:
    if label is not None:
        if label in header:
            return header.index(label)
        raise DataError(f"{where}: no label column {label!r}; the columns are: {', '.join(header)}")
    lowered = [h.lower() for h in header]
    for guess in LABEL_GUESSES:
        if guess in lowered:
            return lowered.index(guess)
    raise DataError(
        f"{where}: name the label column with --label (columns: {', '.join(header)})"
    )


@dataclasses.dataclass
class _Column:
    name: str
    key: str
    kind: str  # numeric | categorical
    fill: float | str
    missing_rows: list[int]


def _classify_column(table: _CsvTable, index: int, key: str) -> _Column:
    name = table.header[index]
    cells = [row[index] for row in table.rows]
    missing = [table.line_numbers[i] for i, c in enumerate(cells) if c.lower() in MISSING_TOKENS]
    present = [(i, c) for i, c in enumerate(cells) if c.lower() not in MISSING_TOKENS]
    if not present:
        raise DataError(f"{table.path}: column {name!r} has no values")
    numbers = [(i, _as_number(c)) for i, c in present]
    text = [(i, present_c) for (i, n), (_, present_c) in zip(numbers, present) if n is None]
    if not text:
        values = np.array([n for _, n in numbers], dtype=np.float64)
        if not np.all(np.isfinite(values)):
            bad = [table.line_numbers[i] for i, n in numbers if not math.isfinite(n)]
            raise DataError(f"{table.path}: column {name!r} holds infinite values on lines {_rows_text(bad)}")
        return _Column(name, key, "numeric", float(np.median(values)), missing)
    if len(text) <= (1 - NUMERIC_COLUMN_SHARE) * len(present):
        lines = [table.line_numbers[i] for i, _ in text]
        examples = ", ".join(repr(c) for _, c in text[:3])
        raise DataError(
            f"{table.path}: column {name!r} is numeric but lines {_rows_text(lines)} hold text ({examples})"
        )
    return _Column(name, key, "categorical", "<missing>", missing)


def _csv_plan(config: SourceConfig) -> Plan:
    table = read_csv(config.data)
    label_index = _pick_label(table.header, config.label, table.path)
    label_name = table.header[label_index]
    test_table = read_csv(config.test_data) if config.test_data else None
    if test_table is not None and test_table.header != table.header:
        missing = [h for h in table.header if h not in test_table.header]
        extra = [h for h in test_table.header if h not in table.header]
        raise DataError(
            f"{test_table.path}: columns differ from {table.path} "
            f"(missing: {', '.join(missing) or '-'}; extra: {', '.join(extra) or '-'})"
        )

    def labels_of(t: _CsvTable) -> list[str]:
        missing = [t.line_numbers[i] for i, r in enumerate(t.rows) if r[label_index].lower() in MISSING_TOKENS]
        if missing:
            raise DataError(f"{t.path}: label {label_name!r} is empty on lines {_rows_text(missing)}")
        return [r[label_index] for r in t.rows]

    labels = labels_of(table)
    test_labels = labels_of(test_table) if test_table else []
    task = decide_task(labels, config.task, table.path)
    class_names: list[str] = []
    if task == "classification":
        class_names = class_order(labels)
        _check_classes(class_names, table.path, label_name)
        unknown = sorted(set(test_labels) - set(class_names))
        if unknown:
            raise DataError(f"{test_table.path}: label values not in the training data: {', '.join(unknown[:5])}")
    elif len(set(labels)) < 2:
        raise DataError(f"{table.path}: label {label_name!r} is constant; there is nothing to learn")

    taken: set[str] = set()
    label_key = sanitize_name(label_name, taken)
    columns = [
        _classify_column(table, i, sanitize_name(table.header[i], taken))
        for i in range(len(table.header))
        if i != label_index
    ]
    if not columns:
        raise DataError(f"{table.path}: no feature columns besides the label {label_name!r}")
    warnings = [
        f"{table.path}: column {c.name!r}: {len(c.missing_rows)} empty cell(s) imputed with "
        + (f"the median {c.fill:g}" if c.kind == "numeric" else f"the category {c.fill!r}")
        + f" (lines {_rows_text(c.missing_rows)})"
        for c in columns
        if c.missing_rows
    ]
    class_index = {name: i for i, name in enumerate(class_names)}

    def records_of(t: _CsvTable, t_labels: list[str]) -> list[tuple]:
        feature_indices = [i for i in range(len(t.header)) if i != label_index]
        out = []
        for row_index, row in enumerate(t.rows):
            values = []
            for column, col_index in zip(columns, feature_indices):
                cell = row[col_index]
                if cell.lower() in MISSING_TOKENS:
                    values.append(column.fill)
                elif column.kind == "numeric":
                    number = _as_number(cell)
                    if number is None:
                        raise DataError(
                            f"{t.path}: column {column.name!r} is numeric but line "
                            f"{t.line_numbers[row_index]} holds text ({cell!r})"
                        )
                    values.append(number)
                else:
                    values.append(cell)
            label = t_labels[row_index]
            out.append((tuple(values), class_index[label] if task == "classification" else float(label)))
        return out

    records = records_of(table, labels)
    test_records = records_of(test_table, test_labels) if test_table else None
    stratify = [r[1] for r in records] if task == "classification" else None
    features = [
        FeatureSpec(
            name=c.key,
            display_name=c.name,
            kind=c.kind,
            dtype="float32" if c.kind == "numeric" else "string",
            shape=[],
            missing_imputed=len(c.missing_rows),
        )
        for c in columns
    ]
    return Plan(
        name=path_stem(table.path),
        source_kind="csv",
        task=task,
        input_kind="tabular",
        label_key=label_key,
        label_display_name=label_name,
        class_names=class_names,
        features=features,
        splits=plan_splits(records, stratify, config, test_records),
        warnings=warnings,
    )


# --------------------------------------------------------------------------
# Image and audio folders


def _list_class_folders(root: str, suffixes: tuple[str, ...], what: str) -> list[tuple[str, list[str]]]:
    from tfx.dsl.io import fileio

    with file_system_errors(root):
        if not fileio.exists(root):
            raise DataError(f"{root}: no such folder")
        if not fileio.isdir(root):
            raise DataError(f"{root}: expected a folder with one sub-folder per class")
        base = clean_path(root)
        names = sorted(n for n in _children(base) if not n.startswith(".") and fileio.isdir(_join(base, n)))
        if not names:
            raise DataError(f"{root}: no class sub-folders (expected one sub-folder of {what} per class)")
        result = []
        for name in names:
            folder = _join(base, name)
            files = list_files(folder, suffixes)
            if not files:
                raise DataError(f"{folder}: class folder {name!r} holds no {what} ({', '.join(suffixes)})")
            result.append((name, files))
    return result


def _relative_to(path: str, root: str) -> str:
    if is_uri(root):
        prefix = clean_path(root) + "/"
        return path[len(prefix):] if path.startswith(prefix) else path
    return os.path.relpath(path, root)


def _check_images(files: list[str]) -> tuple[list[str], list[str], Counter, set]:
    """Opens every image header; returns readable files, unreadable ones,
    a count of sizes (height, width) and the set of PIL modes."""
    from PIL import Image

    readable, unreadable, sizes, modes = [], [], Counter(), set()
    for file in files:
        try:
            data = _read_bytes(file)
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() misses truncated pixel data
                sizes[(image.height, image.width)] += 1
                modes.add(image.mode)
            readable.append(file)
        except Exception:  # noqa: BLE001 - any decoder failure means "unreadable"
            unreadable.append(file)
    return readable, unreadable, sizes, modes


def _default_image_size(sizes: Counter) -> tuple[int, int]:
    """The most common size, scaled down so its longer side is at most 64 pixels."""
    (height, width), _ = sizes.most_common(1)[0]
    scale = min(1.0, 64 / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _wav_info(file: str) -> tuple[int, float]:
    from scipy.io import wavfile

    rate, samples = wavfile.read(io.BytesIO(_read_bytes(file)))
    if samples.size == 0:
        raise ValueError("no samples")
    return rate, samples.shape[0] / rate


def _check_audio(files: list[str]) -> tuple[list[str], list[str], list[float]]:
    readable, unreadable, durations = [], [], []
    for file in files:
        try:
            _, seconds = _wav_info(file)
            readable.append(file)
            durations.append(seconds)
        except Exception:  # noqa: BLE001 - any decoder failure means "unreadable"
            unreadable.append(file)
    return readable, unreadable, durations


def _folder_plan(config: SourceConfig, kind: str) -> Plan:
    suffixes, what = (IMAGE_SUFFIXES, "images") if kind == "images" else (AUDIO_SUFFIXES, "WAV files")
    classes = _list_class_folders(config.data, suffixes, what)
    class_names = [name for name, _ in classes]
    _check_classes(class_names, config.data, "class folder")
    test_classes = _list_class_folders(config.test_data, suffixes, what) if config.test_data else []
    unknown = [name for name, _ in test_classes if name not in class_names]
    if unknown:
        raise DataError(f"{config.test_data}: class folder {unknown[0]!r} is not a class of {config.data}")

    warnings: list[str] = []
    stats: dict[str, Any] = {"sizes": Counter(), "modes": set(), "durations": []}

    def readable_records(folder_classes: list[tuple[str, list[str]]], root: str) -> list[tuple]:
        records = []
        all_files = [f for _, files in folder_classes for f in files]
        if kind == "images":
            readable, unreadable, sizes, modes = _check_images(all_files)
            stats["sizes"].update(sizes)
            stats["modes"] |= modes
        else:
            readable, unreadable, durations = _check_audio(all_files)
            stats["durations"].extend(durations)
        if unreadable:
            names = ", ".join(_relative_to(f, root) for f in unreadable[:MAX_ROWS_NAMED])
            more = f" and {len(unreadable) - MAX_ROWS_NAMED} more" if len(unreadable) > MAX_ROWS_NAMED else ""
            warnings.append(f"{root}: skipped {len(unreadable)} unreadable file(s): {names}{more}")
        if not readable:
            raise DataError(f"{root}: none of the {len(all_files)} {what} could be read")
        ok = set(readable)
        for name, files in folder_classes:
            kept = [f for f in files if f in ok]
            if not kept:
                raise DataError(f"{root}: no readable {what} left in class folder {name!r}")
            records.extend((f, class_names.index(name)) for f in kept)
        return records

    records = readable_records(classes, config.data)
    test_records = readable_records(test_classes, config.test_data) if test_classes else None
    options: dict[str, Any] = {}
    if kind == "images":
        size = tuple(config.image_size) if config.image_size else _default_image_size(stats["sizes"])
        if len(stats["sizes"]) > 1:
            warnings.append(
                f"{config.data}: images have {len(stats['sizes'])} different sizes; all are resized to "
                f"{size[0]}x{size[1]} (height x width)"
            )
        grayscale_modes = {"1", "L", "LA", "I", "I;16", "F"}
        if config.color_mode == "auto":
            channels = 1 if stats["modes"] <= grayscale_modes else 3
        else:
            channels = 1 if config.color_mode == "grayscale" else 3
        options = {"image_size": list(size), "channels": channels}
        feature = FeatureSpec("image", "image", "numeric", "float32", [size[0], size[1], channels])
        input_kind = "image"
    else:
        audio = config.audio
        seconds = audio.seconds or min(max(stats["durations"]), audio.max_seconds)
        frames = log_mel_frames(seconds, audio)
        options = {"audio": dataclasses.asdict(audio) | {"seconds": seconds}}
        feature = FeatureSpec("audio", "log-mel spectrogram", "numeric", "float32", [frames, audio.n_mels])
        input_kind = "sequence"
    stratify = [r[1] for r in records]
    return Plan(
        name=path_name(config.data),
        source_kind=kind,
        task="classification",
        input_kind=input_kind,
        label_key="label",
        label_display_name="class",
        class_names=class_names,
        features=[feature],
        splits=plan_splits(records, stratify, config, test_records),
        options=options,
        warnings=warnings,
    )


# --------------------------------------------------------------------------
# Decoding (runs inside Beam workers)


def decode_image(file: str, size: Sequence[int], channels: int) -> np.ndarray:
    """Float32 [height, width, channels] in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    try:
        opened = Image.open(io.BytesIO(_read_bytes(file)))
    except UnidentifiedImageError:
        # PIL names the buffer it was given; the file is what a user can act on.
        raise UnidentifiedImageError(f"cannot identify image file {file!r}") from None
    with opened as image:
        image = image.convert("L" if channels == 1 else "RGB")
        if (image.height, image.width) != tuple(size):
            image = image.resize((size[1], size[0]), Image.BILINEAR)
        array = np.asarray(image, dtype=np.float32) / 255.0
    return array.reshape(size[0], size[1], channels)


def _mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular filters on the HTK mel scale, [n_fft // 2 + 1, n_mels]."""

    def to_mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def to_hz(mel):
        return 700.0 * (10 ** (np.asarray(mel) / 2595.0) - 1.0)

    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = to_hz(np.linspace(to_mel(20.0), to_mel(sample_rate / 2), n_mels + 2))
    bank = np.zeros((bins.size, n_mels), dtype=np.float32)
    for m in range(n_mels):
        left, center, right = edges[m], edges[m + 1], edges[m + 2]
        rising = (bins - left) / max(center - left, 1e-9)
        falling = (right - bins) / max(right - center, 1e-9)
        bank[:, m] = np.maximum(0.0, np.minimum(rising, falling))
    return bank


def _frame_sizes(audio: AudioOptions) -> tuple[int, int, int]:
    frame = int(round(audio.sample_rate * audio.frame_ms / 1000))
    step = int(round(audio.sample_rate * audio.step_ms / 1000))
    n_fft = 1 << (frame - 1).bit_length()
    return frame, step, n_fft


def log_mel_frames(seconds: float, audio: AudioOptions) -> int:
    frame, step, _ = _frame_sizes(audio)
    samples = int(round(seconds * audio.sample_rate))
    return 1 + max(0, samples - frame) // step


def decode_wav(file: str, audio: AudioOptions, seconds: float) -> np.ndarray:
    """Log-mel spectrogram float32 [frames, n_mels] of a WAV file: mixed to
    mono, resampled, cropped or zero-padded to `seconds`."""
    from math import gcd

    from scipy.io import wavfile
    from scipy.signal import resample_poly

    rate, samples = wavfile.read(io.BytesIO(_read_bytes(file)))
    samples = np.asarray(samples)
    if samples.dtype.kind == "u":  # 8-bit PCM is unsigned around 128
        samples = (samples.astype(np.float32) - 128.0) / 128.0
    elif samples.dtype.kind == "i":
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max)
    else:
        samples = samples.astype(np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if rate != audio.sample_rate:
        divisor = gcd(rate, audio.sample_rate)
        samples = resample_poly(samples, audio.sample_rate // divisor, rate // divisor).astype(np.float32)
    length = int(round(seconds * audio.sample_rate))
    samples = np.pad(samples[:length], (0, max(0, length - samples.shape[0])))
    frame, step, n_fft = _frame_sizes(audio)
    count = log_mel_frames(seconds, audio)
    starts = np.arange(count) * step
    frames = np.stack([samples[s : s + frame] for s in starts]) * np.hanning(frame).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2
    mel = power @ _mel_filterbank(audio.sample_rate, n_fft, audio.n_mels)
    return np.log(mel + 1e-6).astype(np.float32)


def encode_record(plan_meta: dict[str, Any], record: tuple) -> dict[str, Any] | None:
    """Feature values of one record, as {key: scalar, str or ndarray}; None for
    a file that turned out unreadable while decoding (logged, then skipped)."""
    kind = plan_meta["source_kind"]
    values: dict[str, Any]
    if kind in ("images", "audio"):
        file, label = record
        try:
            if kind == "images":
                options = plan_meta["options"]
                array = decode_image(file, options["image_size"], options["channels"])
                values = {"image": array}
            else:
                audio_options = dict(plan_meta["options"]["audio"])
                seconds = audio_options.pop("seconds")
                values = {"audio": decode_wav(file, AudioOptions(**audio_options, seconds=seconds), seconds)}
        except Exception as error:  # noqa: BLE001 - a file that fails to decode is skipped
            log.warning("skipped unreadable file %s: %s", file, error)
            return None
    else:
        feature_values, label = record
        values = dict(zip(plan_meta["feature_keys"], feature_values))
    values[plan_meta["label_key"]] = label
    return values


def plan_meta(plan: Plan) -> dict[str, Any]:
    """The small, picklable part of a plan that encoding needs."""
    return {
        "source_kind": plan.source_kind,
        "options": plan.options,
        "feature_keys": [f.name for f in plan.features],
        "label_key": plan.label_key,
    }


# --------------------------------------------------------------------------
# TFRecord files of tf.Example


def _tfrecord_files(pattern: str) -> list[str]:
    from tfx.dsl.io import fileio

    with file_system_errors(pattern):
        files = _glob(pattern) if _has_magic(pattern) else [pattern]
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


def _tfrecord_plan(config: SourceConfig) -> Plan:
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
        _check_classes(class_names, config.data, label)
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
            raise DataError(f"{config.data}: feature {key!r} is missing from record(s) {_rows_text(missing)}")
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
