"""CSV and TSV files, in chunks of lines that Beam workers read on their own.

The driver reads only the first line (the header) and a sample to sniff the
dialect, then cuts the file into byte ranges of `CHUNK_BYTES`; a worker
reads the whole lines that start in its range (`_chunk_rows`). The first
pass surveys every column (`CsvSurvey`: missing, numeric and text cells with
the first lines of each, a sample for the median, the label values); the
driver decides numeric or categorical columns, the imputed values and the
task from it (`CsvSource.plan`), or stops with a one-line DataError naming
the file, line and column. The second pass turns each chunk into a
`RecordBatch`. Line numbers are exact: each chunk counts its lines, and the
driver adds up the counts of the chunks before it.

A quoted value may span lines within a chunk; one crossing a chunk boundary
(files over `CHUNK_BYTES` only) shows as a line with the wrong number of
fields. `predict` streams the rows it scores with `open_csv` and
`MISSING_TOKENS`, so they are parsed as the training rows were.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
from collections import Counter
from typing import Iterator

import numpy as np

from components.ingest.batches import LabelSurvey, RecordBatch
from components.ingest.naming import (
    LABEL_GUESSES,
    check_classes,
    class_order,
    decide_label_task,
    rows_text,
    sanitize_name,
)
from components.ingest.paths import file_system_errors, path_stem
from components.ingest.plan import Plan, SourceConfig
from components.ingest.splits import check_not_empty, content_keys, make_rule, train_eval_ratios
from search_algo.dataset_spec import FeatureSpec
from search_algo.errors import DataError

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
# A column whose non-missing cells are at least this share numeric is numeric:
# the rest are typos to report, not categories.
NUMERIC_COLUMN_SHARE = 0.9
CHUNK_BYTES = 16 * 2**20
# Values kept per column for the median of the imputation (exact below it).
MEDIAN_SAMPLE = 10001
_NAMED = 5  # line numbers kept per kind of problem


@dataclasses.dataclass
class _CsvTable:
    path: str
    header: list[str]
    rows: list[list[str]]
    line_numbers: list[int]


def _check_header(header: list[str], path: str) -> list[str]:
    header = [h.strip() for h in header]
    if not any(header):
        raise DataError(f"{path}: the first line must be a header naming the columns")
    empty = [i + 1 for i, h in enumerate(header) if not h]
    if empty:
        raise DataError(f"{path}: header column {empty[0]} has no name")
    duplicates = [h for h, n in Counter(header).items() if n > 1]
    if duplicates:
        raise DataError(f"{path}: the header names column {duplicates[0]!r} more than once")
    return header


def _decode(raw: bytes, path: str, first_line: int = 1) -> str:
    try:
        return raw.decode("utf-8-sig" if first_line == 1 else "utf-8")
    except UnicodeDecodeError as error:
        line = first_line + raw[: error.start].count(b"\n")
        raise DataError(
            f"{path}: not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line}); re-save the file as UTF-8"
        ) from None


def _sniff(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


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
    """The checked header of a CSV file and its data rows as a stream, for
    `predict`: (line number, stripped cells), blank lines skipped, every row
    as long as the header. Only the first SNIFF_CHARS of text are held, to
    sniff the dialect."""
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
    reader = csv.reader(itertools.chain(head, lines), _sniff(sample))
    try:
        header = _check_header(next(reader), path)
    except StopIteration:
        raise DataError(f"{path}: the file is empty") from None
    except csv.Error as error:
        raise DataError(f"{path}: line {reader.line_num}: {error}") from None

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
    """A whole (small) CSV file as a table."""
    header, rows = open_csv(path)
    line_numbers, cells = [], []
    for line, row in rows:
        line_numbers.append(line)
        cells.append(row)
    if not cells:
        raise DataError(f"{path}: has a header but no data rows")
    return _CsvTable(path, header, cells, line_numbers)


@dataclasses.dataclass(frozen=True)
class CsvLayout:
    """What the driver learns from a file's first bytes."""

    path: str
    header: tuple[str, ...]
    delimiter: str
    quotechar: str
    doublequote: bool
    skipinitialspace: bool
    data_start: int  # byte offset of the line after the header
    size: int

    def reader(self, text: str):
        return csv.reader(io.StringIO(text), delimiter=self.delimiter, quotechar=self.quotechar,
                          doublequote=self.doublequote, skipinitialspace=self.skipinitialspace)


def read_layout(path: str) -> CsvLayout:
    import tensorflow as tf
    from tfx.dsl.io import fileio

    with file_system_errors(path):
        if not fileio.exists(path):
            raise DataError(f"{path}: no such file")
        if fileio.isdir(path):
            raise DataError(f"{path}: is a folder, expected a CSV file")
        size = tf.io.gfile.stat(path).length
        with tf.io.gfile.GFile(path, "rb") as handle:
            head = handle.read(65536)
            while b"\n" not in head and len(head) < size:
                head += handle.read(65536)
    if not head.strip():
        raise DataError(f"{path}: the file is empty")
    # Decode whole lines only: the sample may end inside a character.
    whole = head[: head.rfind(b"\n") + 1] if b"\n" in head and len(head) < size else head
    text = _decode(whole, path)
    header_line = text.split("\n", 1)[0]
    dialect = _sniff(text)
    header = _check_header(next(csv.reader([header_line], dialect)), path)
    newline = head.find(b"\n")
    data_start = size if newline < 0 else newline + 1
    layout = CsvLayout(path, tuple(header), dialect.delimiter, dialect.quotechar or '"', dialect.doublequote,
                       dialect.skipinitialspace, data_start, size)
    if not head[data_start:].strip() and size <= len(head):
        raise DataError(f"{path}: has a header but no data rows")
    return layout


@dataclasses.dataclass(frozen=True)
class CsvChunk:
    file_index: int  # 0: the data, 1: a separate test file
    index: int
    start: int
    end: int


def chunks_of(layout: CsvLayout, file_index: int) -> list[CsvChunk]:
    chunk_bytes = CHUNK_BYTES
    starts = range(layout.data_start, max(layout.size, layout.data_start + 1), chunk_bytes)
    return [CsvChunk(file_index, i, s, min(s + chunk_bytes, layout.size)) for i, s in enumerate(starts)]


def _chunk_text(layout: CsvLayout, chunk: CsvChunk) -> bytes:
    """The whole lines that start in the chunk's byte range."""
    import tensorflow as tf

    with tf.io.gfile.GFile(layout.path, "rb") as handle:
        if chunk.start > layout.data_start:
            handle.seek(chunk.start - 1)
            handle.readline()  # the line that started in the chunk before
        else:
            handle.seek(chunk.start)
        position = handle.tell()
        if position >= chunk.end:
            return b""
        data = handle.read(chunk.end - position)
        if data and not data.endswith(b"\n"):
            data += handle.readline()
    return data


@dataclasses.dataclass
class _ChunkRows:
    rows: list[list[str]]
    lines: list[int]  # line of each row within the chunk, from 1
    line_count: int
    problem: tuple[int, str] | None  # (line within the chunk, message with {line})


def _chunk_rows(layout: CsvLayout, chunk: CsvChunk) -> _ChunkRows:
    raw = _chunk_text(layout, chunk)
    line_count = raw.count(b"\n") + (1 if raw and not raw.endswith(b"\n") else 0)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = 1 + raw[: error.start].count(b"\n")
        return _ChunkRows([], [], line_count, (line, f"not UTF-8 text (byte 0x{raw[error.start]:02x} on line "
                                                     "{line}); re-save the file as UTF-8"))
    reader = layout.reader(text)
    width = len(layout.header)
    rows, lines = [], []
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if len(cells) != width:
                return _ChunkRows(rows, lines, line_count,
                                  (reader.line_num, f"line {{line}} has {len(row)} fields, the header has {width}"))
            rows.append(cells)
            lines.append(reader.line_num)
    except csv.Error as error:
        return _ChunkRows(rows, lines, line_count, (reader.line_num, f"line {{line}}: {error}"))
    return _ChunkRows(rows, lines, line_count, None)


def _columns(rows: list[list[str]], width: int) -> list[np.ndarray]:
    """The (stripped) cells, a column at a time."""
    if not rows:
        return [np.empty(0, dtype=object) for _ in range(width)]
    return [np.array(column, dtype=object) for column in zip(*rows)]


def _row_keys(rows: list[list[str]], seed: int) -> np.ndarray:
    """Each row's key: a hash of its cells, so a re-quoted or re-spaced copy of
    a row is the same record."""
    return content_keys(("\x1f".join(row).encode("utf-8") for row in rows), seed)


@dataclasses.dataclass
class _Cells:
    """One column's cells read as numbers: NaN where a cell is missing or text."""

    numbers: np.ndarray
    missing: np.ndarray  # bool
    text: np.ndarray  # bool: neither missing nor a number

    @classmethod
    def of(cls, column: np.ndarray) -> "_Cells":
        try:
            # The fast path of a clean numeric column: "nan" (a missing token) reads as NaN.
            numbers = column.astype(np.float64)
            missing = np.isnan(numbers)
            return cls(numbers, missing, np.zeros_like(missing))
        except ValueError:
            pass
        import pandas as pd

        missing = _missing(column)
        numbers = pd.to_numeric(pd.Series(np.where(missing, None, column)), errors="coerce").to_numpy(np.float64)
        return cls(numbers, missing, ~missing & np.isnan(numbers))


def _missing(column: np.ndarray) -> np.ndarray:
    return np.fromiter((cell.lower() in MISSING_TOKENS for cell in column), dtype=bool, count=column.size)


Position = tuple[int, int, int]  # (file index, chunk index, line within the chunk)


def _smallest(items: list, count: int) -> list:
    return sorted(items)[:count]


class _ColumnSurvey:
    def __init__(self) -> None:
        self.present = 0
        self.missing: list[Position] = []
        self.missing_count = 0
        self.text: list[tuple[Position, str]] = []
        self.text_count = 0
        self.infinite: list[Position] = []
        self.sample_keys = np.empty(0, dtype=np.uint64)
        self.sample_values = np.empty(0, dtype=np.float64)

    def add(self, column: np.ndarray, keys: np.ndarray, positions: list[Position]) -> None:
        cells = _Cells.of(column)
        numbers, missing, text = cells.numbers, cells.missing, cells.text
        self.present += int((~missing).sum())
        self.missing_count += int(missing.sum())
        self.missing = _smallest(self.missing + [positions[i] for i in np.flatnonzero(missing)[:_NAMED]], _NAMED)
        self.text_count += int(text.sum())
        self.text = _smallest(self.text + [(positions[i], column[i]) for i in np.flatnonzero(text)[:3]], 3)
        self.infinite = _smallest(self.infinite + [positions[i] for i in np.flatnonzero(np.isinf(numbers))[:_NAMED]],
                                  _NAMED)
        finite = np.isfinite(numbers)
        self._keep(keys[finite], numbers[finite])

    def _keep(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys = np.concatenate([self.sample_keys, keys])
        values = np.concatenate([self.sample_values, values])
        if keys.size > MEDIAN_SAMPLE:
            kept = np.argpartition(keys, MEDIAN_SAMPLE - 1)[:MEDIAN_SAMPLE]
            keys, values = keys[kept], values[kept]
        self.sample_keys, self.sample_values = keys, values

    def merge(self, other: "_ColumnSurvey") -> "_ColumnSurvey":
        self.present += other.present
        self.missing_count += other.missing_count
        self.missing = _smallest(self.missing + other.missing, _NAMED)
        self.text_count += other.text_count
        self.text = _smallest(self.text + other.text, 3)
        self.infinite = _smallest(self.infinite + other.infinite, _NAMED)
        self._keep(other.sample_keys, other.sample_values)
        return self


class CsvSurvey:
    """The first pass's findings over some chunks; merges with others."""

    def __init__(self, width: int) -> None:
        self.line_counts: dict[tuple[int, int], int] = {}
        self.problem: tuple[Position, str] | None = None
        self.columns = {(f, c): _ColumnSurvey() for f in (0, 1) for c in range(width)}
        self.labels = LabelSurvey()
        self.label_missing: list[Position] = []
        self.rows = [0, 0]

    def merge(self, other: "CsvSurvey") -> "CsvSurvey":
        self.line_counts.update(other.line_counts)
        if other.problem and (self.problem is None or other.problem[0] < self.problem[0]):
            self.problem = other.problem
        for key, column in other.columns.items():
            self.columns[key].merge(column)
        self.labels.merge(other.labels)
        self.label_missing = _smallest(self.label_missing + other.label_missing, _NAMED)
        self.rows = [a + b for a, b in zip(self.rows, other.rows)]
        return self


@dataclasses.dataclass(frozen=True)
class _Column:
    index: int  # in the header
    key: str
    kind: str  # numeric | categorical
    fill: float | str


class CsvSource:
    kind = "csv"

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.layouts = [read_layout(config.data)]
        if config.test_data:
            test = read_layout(config.test_data)
            main = self.layouts[0]
            if test.header != main.header:
                missing = [h for h in main.header if h not in test.header]
                extra = [h for h in test.header if h not in main.header]
                raise DataError(
                    f"{test.path}: columns differ from {main.path} "
                    f"(missing: {', '.join(missing) or '-'}; extra: {', '.join(extra) or '-'})"
                )
            self.layouts.append(test)
        self.header = list(self.layouts[0].header)
        self.label_index = _pick_label(self.header, config.label, self.layouts[0].path)

    def units(self) -> list[CsvChunk]:
        return [chunk for index, layout in enumerate(self.layouts) for chunk in chunks_of(layout, index)]

    def _read(self, chunk: CsvChunk):
        parsed = _chunk_rows(self.layouts[chunk.file_index], chunk)
        return parsed, _columns(parsed.rows, len(self.header)), _row_keys(parsed.rows, self.config.seed)

    def survey(self, chunk: CsvChunk) -> CsvSurvey:
        parsed, columns, keys = self._read(chunk)
        survey = CsvSurvey(len(self.header))
        survey.line_counts[(chunk.file_index, chunk.index)] = parsed.line_count
        if parsed.problem:
            line, message = parsed.problem
            survey.problem = ((chunk.file_index, chunk.index, line), message)
        positions = [(chunk.file_index, chunk.index, line) for line in parsed.lines]
        survey.rows[chunk.file_index] += len(parsed.rows)
        for index in range(len(self.header)):
            if index != self.label_index:
                survey.columns[(chunk.file_index, index)].add(columns[index], keys, positions)
        labels = columns[self.label_index]
        missing = _missing(labels)
        survey.label_missing = [positions[i] for i in np.flatnonzero(missing)[:_NAMED]]
        survey.labels.add(labels[~missing], keys[~missing], test_partition=chunk.file_index == 1)
        return survey

    def _line(self, survey: CsvSurvey, position: Position) -> int:
        file_index, chunk, line = position
        before = sum(n for (f, c), n in survey.line_counts.items() if f == file_index and c < chunk)
        return 1 + before + line  # the header is line 1

    def plan(self, survey: CsvSurvey) -> Plan:
        paths = [layout.path for layout in self.layouts]
        if survey.problem:
            position, message = survey.problem
            raise DataError(f"{paths[position[0]]}: " + message.format(line=self._line(survey, position)))
        for file_index, path in enumerate(paths):
            if survey.rows[file_index] == 0:
                raise DataError(f"{path}: has a header but no data rows")
        label_name = self.header[self.label_index]
        if survey.label_missing:
            lines = [self._line(survey, p) for p in survey.label_missing]
            first = survey.label_missing[0][0]
            raise DataError(f"{paths[first]}: label {label_name!r} is empty on lines {rows_text(lines)}")
        labels = survey.labels
        task = decide_label_task(labels, self.config.task, paths[0], label_name)
        class_names: list[str] = []
        if task == "classification":
            class_names = class_order(labels.counts)
            check_classes(class_names, paths[0], label_name)
            unknown = sorted(set(labels.test_counts) - set(class_names))
            if unknown:
                raise DataError(f"{paths[1]}: label values not in the training data: {', '.join(unknown[:5])}")
        elif len(labels.counts) < 2 and not labels.overflow:
            raise DataError(f"{paths[0]}: label {label_name!r} is constant; there is nothing to learn")

        taken: set[str] = set()
        label_key = sanitize_name(label_name, taken)
        columns = [self._decide_column(survey, index, sanitize_name(self.header[index], taken))
                   for index in range(len(self.header)) if index != self.label_index]
        if not columns:
            raise DataError(f"{paths[0]}: no feature columns besides the label {label_name!r}")
        warnings = []
        for column in columns:
            found = survey.columns[(0, column.index)]
            if found.missing_count:
                fill = f"the median {column.fill:g}" if column.kind == "numeric" else f"the category {column.fill!r}"
                lines = [self._line(survey, p) for p in found.missing]
                warnings.append(f"{paths[0]}: column {self.header[column.index]!r}: {found.missing_count} empty "
                                f"cell(s) imputed with {fill} (lines {_lines_text(lines, found.missing_count)})")
        ratios = train_eval_ratios(self.config.split_ratios) if self.config.test_data else self.config.split_ratios
        rule = make_rule(labels.groups(class_names if task == "classification" else None), ratios,
                         stratified=task == "classification")
        plan = Plan(
            name=path_stem(paths[0]),
            source_kind="csv",
            task=task,
            input_kind="tabular",
            label_key=label_key,
            label_display_name=label_name,
            class_names=class_names,
            features=[
                FeatureSpec(name=c.key, display_name=self.header[c.index], kind=c.kind,
                            dtype="float32" if c.kind == "numeric" else "string", shape=[],
                            missing_imputed=survey.columns[(0, c.index)].missing_count)
                for c in columns
            ],
            rule=rule,
            expected_sizes=rule.expected_sizes(survey.rows[1]),
            warnings=warnings,
            decisions=columns,
        )
        check_not_empty(plan.expected_sizes, plan.name)
        return plan

    def _decide_column(self, survey: CsvSurvey, index: int, key: str) -> _Column:
        name, path = self.header[index], self.layouts[0].path
        found = survey.columns[(0, index)]
        if not found.present:
            raise DataError(f"{path}: column {name!r} has no values")
        if found.infinite:
            lines = [self._line(survey, p) for p in found.infinite]
            raise DataError(f"{path}: column {name!r} holds infinite values on lines {rows_text(lines)}")
        if not found.text_count:
            column = _Column(index, key, "numeric", float(np.median(found.sample_values)))
        elif found.text_count <= (1 - NUMERIC_COLUMN_SHARE) * found.present:
            lines = [self._line(survey, p) for p, _ in found.text]
            examples = ", ".join(repr(cell) for _, cell in found.text)
            raise DataError(f"{path}: column {name!r} is numeric but lines "
                            f"{_lines_text(lines, found.text_count)} hold text ({examples})")
        else:
            column = _Column(index, key, "categorical", "<missing>")
        test = survey.columns[(1, index)]
        if column.kind == "numeric" and (test.text_count or test.infinite):
            position = min([p for p, _ in test.text] + test.infinite)
            raise DataError(f"{self.layouts[1].path}: column {name!r} is numeric but line "
                            f"{self._line(survey, position)} holds text or an infinite value")
        return column

    def batches(self, chunk: CsvChunk, plan: Plan) -> Iterator[RecordBatch]:
        parsed, columns, keys = self._read(chunk)
        if not parsed.rows:
            return
        features = {}
        for column in plan.decisions:
            cells = columns[column.index]
            if column.kind == "numeric":
                read = _Cells.of(cells)
                features[column.key] = np.where(read.missing, column.fill, read.numbers).astype(np.float32)
            else:
                features[column.key] = np.where(_missing(cells), column.fill, cells).astype(object)
        labels = columns[self.label_index]
        if plan.task == "classification":
            index = {name: i for i, name in enumerate(plan.class_names)}
            label_values = np.fromiter((index[label] for label in labels), dtype=np.int64, count=labels.size)
        else:
            label_values = labels.astype(np.float64)
        yield RecordBatch(features, label_values, keys, f"{chunk.file_index}-{chunk.index:06d}",
                          test_partition=chunk.file_index == 1)


def _lines_text(lines: list[int], total: int) -> str:
    shown = ", ".join(str(line) for line in lines[:_NAMED])
    return shown + (f" and {total - min(len(lines), _NAMED)} more" if total > _NAMED else "")


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
