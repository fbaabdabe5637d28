"""CSV and TSV files: `open_csv` reads a header and streams the rows in the
dialect it sniffs, checking the header and row lengths, and `read_csv` holds
them as a table; `make_plan` picks the label column, tells
numeric from categorical columns (imputing missing cells, with a warning) and
assigns the rows to splits. A problem is a one-line DataError naming the file,
line and column. `predict` streams the rows it scores with the same `open_csv`
and `MISSING_TOKENS`, so they are parsed as the training rows were.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import math
from collections import Counter
from typing import Iterator

import numpy as np

from components.ingest.naming import (
    LABEL_GUESSES,
    as_number,
    check_classes,
    class_order,
    decide_task,
    rows_text,
    sanitize_name,
)
from components.ingest.paths import file_system_errors, path_stem
from components.ingest.plan import Plan, SourceConfig
from components.ingest.splits import plan_splits
from search_algo.dataset_spec import FeatureSpec
from search_algo.errors import DataError

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
# A column whose non-missing cells are at least this share numeric is numeric:
# the rest are typos to report, not categories.
NUMERIC_COLUMN_SHARE = 0.9


@dataclasses.dataclass
class _CsvTable:
    path: str
    header: list[str]
    rows: list[list[str]]
    line_numbers: list[int]


# Text read from the start of a CSV file to sniff its dialect.
SNIFF_CHARS = 65536


def text_lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file, read as a stream."""
    from tfx.dsl.io import fileio

    with file_system_errors(path), fileio.open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{path}: not UTF-8 text (byte 0x{raw[error.start]:02x} on line {number}); re-save the file as UTF-8"
                ) from None


def open_csv(path: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The checked header of a CSV file and its data rows as a stream:
    (line number, stripped cells), blank lines skipped, every row as long as
    the header. Only the first SNIFF_CHARS of text are held, to sniff the dialect."""
    from tfx.dsl.io import fileio

    with file_system_errors(path):
        if not fileio.exists(path):
            raise DataError(f"{path}: no such file")
        if fileio.isdir(path):
            raise DataError(f"{path}: is a folder, expected a CSV file")
    lines = (text for _, text in text_lines(path))
    head: list[str] = []
    for text in lines:
        head.append(text)
        if sum(map(len, head)) >= SNIFF_CHARS:
            break
    sample = "".join(head)[:SNIFF_CHARS]
    if not sample.strip():
        raise DataError(f"{path}: the file is empty")
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(itertools.chain(head, lines), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: the file is empty") from None
    except csv.Error as error:
        raise DataError(f"{path}: line {reader.line_num}: {error}") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise DataError(f"{path}: the first line must be a header naming the columns")
    empty = [i + 1 for i, h in enumerate(header) if not h]
    if empty:
        raise DataError(f"{path}: header column {empty[0]} has no name")
    duplicates = [h for h, n in Counter(header).items() if n > 1]
    if duplicates:
        raise DataError(f"{path}: the header names column {duplicates[0]!r} more than once")

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{path}: line {reader.line_num} has {len(row)} fields, the header has {len(header)}"
                    )
                yield reader.line_num, [cell.strip() for cell in row]
        except csv.Error as error:
            raise DataError(f"{path}: line {reader.line_num}: {error}") from None

    return header, rows()


def read_csv(path: str) -> _CsvTable:
    header, rows = open_csv(path)
    line_numbers, cells = [], []
    for line, row in rows:
        line_numbers.append(line)
        cells.append(row)
    if not cells:
        raise DataError(f"{path}: has a header but no data rows")
    return _CsvTable(path, header, cells, line_numbers)


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
    numbers = [(i, as_number(c)) for i, c in present]
    text = [(i, present_c) for (i, n), (_, present_c) in zip(numbers, present) if n is None]
    if not text:
        values = np.array([n for _, n in numbers], dtype=np.float64)
        if not np.all(np.isfinite(values)):
            bad = [table.line_numbers[i] for i, n in numbers if not math.isfinite(n)]
            raise DataError(f"{table.path}: column {name!r} holds infinite values on lines {rows_text(bad)}")
        return _Column(name, key, "numeric", float(np.median(values)), missing)
    if len(text) <= (1 - NUMERIC_COLUMN_SHARE) * len(present):
        lines = [table.line_numbers[i] for i, _ in text]
        examples = ", ".join(repr(c) for _, c in text[:3])
        raise DataError(
            f"{table.path}: column {name!r} is numeric but lines {rows_text(lines)} hold text ({examples})"
        )
    return _Column(name, key, "categorical", "<missing>", missing)


def make_plan(config: SourceConfig) -> Plan:
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
            raise DataError(f"{t.path}: label {label_name!r} is empty on lines {rows_text(missing)}")
        return [r[label_index] for r in t.rows]

    labels = labels_of(table)
    test_labels = labels_of(test_table) if test_table else []
    task = decide_task(labels, config.task, table.path)
    class_names: list[str] = []
    if task == "classification":
        class_names = class_order(labels)
        check_classes(class_names, table.path, label_name)
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
        + f" (lines {rows_text(c.missing_rows)})"
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
                    number = as_number(cell)
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
