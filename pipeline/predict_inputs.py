"""Raw input for `model-search predict`, read one example at a time.

Each reader yields `(source, {feature key: value})` in file order, `source`
naming where the example came from (`rows.csv:7`, `x.npy[3]`,
`test.tfrecord.gz#12`), so that predict holds one batch at a time however
large the input: CSV lines and TFRecords are read as a stream, a `.npy` array
a block of rows at a time after its header. Which reader reads a path depends on its name and
on the model's dataset spec:

- TFRecord files (`.tfrecord`, `.tfrecords`, or gzipped: any `.gz`) of
  tf.Example in the training feature names, for every kind of model;
- `.npy` arrays and CSV rows of values for a model with one array feature
  (a sequence: mnist1d, audio spectrograms; or an image);
- CSV rows with the training columns (tabular; ingestion's CSV reader),
  image files and WAV files (ingestion's own decoders), as in training.
"""

from __future__ import annotations

import csv
import itertools
import logging
import math
from typing import Any, Iterator

log = logging.getLogger(__name__)

Example = tuple[str, dict[str, Any]]
TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".gz")
# Rows of an array model's CSV read at once to guess its delimiter.
SNIFF_LINES = 20
NPY_ROWS_PER_READ = 256


def read_inputs(paths: list[str], spec) -> Iterator[Example]:
    """Every example of every path (a glob is expanded), in order."""
    from components.ingest import sources
    from components.ingest.paths import glob_paths, has_magic
    from search_algo.errors import DataError

    for pattern in paths:
        if has_magic(pattern):
            with sources.file_system_errors(pattern):
                matches = glob_paths(pattern)
            if not matches:
                raise DataError(f"no file matches {pattern}")
        else:
            matches = [pattern]
        for path in matches:
            yield from _read_path(path, spec)


def _read_path(path: str, spec) -> Iterator[Example]:
    from search_algo.errors import DataError

    name = path.lower().rstrip("/")
    array_model = spec.input_kind != "tabular" and len(spec.features) == 1
    if name.endswith(TFRECORD_SUFFIXES):
        return tfrecord_inputs(path, spec)
    if name.endswith(".npy"):
        if not array_model:
            raise DataError(f"{path}: a .npy array is input for a sequence or image model; this {spec.input_kind} "
                            "model reads CSV rows with its columns or TFRecord files")
        return npy_inputs(path, spec)
    if spec.input_kind == "tabular":
        return csv_inputs(path, spec)
    if name.endswith(".csv") and spec.input_kind == "sequence":
        return sequence_csv_inputs(path, spec)
    if spec.input_kind == "image":
        return image_inputs(path, spec)
    if spec.source.get("kind") == "audio":
        return audio_inputs(path, spec)
    raise DataError(f"{path}: predict reads this model's input from .npy, .csv or TFRecord (.tfrecord, .gz) files; "
                    f"it was trained on {spec.source.get('kind') or spec.input_kind} data ({spec.name})")


def expected_shape(feature) -> str:
    """How one example of `feature` looks, as an error message says it."""
    return "one value" if not feature.shape else f"shape {tuple(feature.shape)}"


def _existing_file(path: str) -> None:
    from tfx.dsl.io import fileio

    from components.ingest import sources
    from search_algo.errors import DataError

    with sources.file_system_errors(path):
        if not fileio.exists(path):
            raise DataError(f"{path}: no such file")
        if fileio.isdir(path):
            raise DataError(f"{path}: is a folder, expected a file")


# --------------------------------------------------------------------------
# Arrays: .npy and CSV rows of values


def npy_inputs(path: str, spec) -> Iterator[Example]:
    """The rows of an (N, *shape) array; a last axis of one may be left out
    ((N, steps) for (steps, 1)). Read through the file system, a block of
    rows at a time, so a large array or one at a URI is never loaded whole."""
    import numpy as np
    from tfx.dsl.io import fileio

    from components.ingest import sources
    from search_algo.errors import DataError

    feature = spec.features[0]
    shape = tuple(feature.shape)
    accepted = [shape] + ([shape[:-1]] if shape and shape[-1] == 1 else [])
    expected = " or ".join(str(("N", *s)).replace("'", "") for s in accepted)
    _existing_file(path)
    with sources.file_system_errors(path), fileio.open(path, "rb") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            array_shape, fortran_order, dtype = read_header(handle)
        except ValueError as error:
            raise DataError(f"{path}: not a .npy array ({error})") from None
        if dtype.kind not in "biuf":
            raise DataError(f"{path}: holds {dtype} values; the model expects numbers")
        if len(array_shape) < 1 or tuple(array_shape[1:]) not in accepted:
            raise DataError(f"{path}: an array of shape {tuple(array_shape)}; the model expects {expected}")
        if fortran_order:
            raise DataError(f"{path}: the array is stored in Fortran order; save it with "
                            "np.save(path, np.ascontiguousarray(array))")
        row_bytes = dtype.itemsize * math.prod(shape)
        for start in range(0, array_shape[0], NPY_ROWS_PER_READ):
            count = min(NPY_ROWS_PER_READ, array_shape[0] - start)
            block = handle.read(count * row_bytes)
            if len(block) != count * row_bytes:
                raise DataError(f"{path}: the file ends before row {start + len(block) // row_bytes} of "
                                f"{array_shape[0]}; is it truncated?")
            rows = np.frombuffer(block, dtype=dtype).astype(np.float32).reshape((count, *shape))
            for offset, row in enumerate(rows):
                yield f"{path}[{start + offset}]", {feature.name: row}


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def sequence_csv_inputs(path: str, spec) -> Iterator[Example]:
    """One example per row: the values in order (a (steps, channels) example
    row-major, step by step), separated by commas, semicolons, tabs or
    spaces; a first row that is not all numbers is a header, and skipped."""
    import numpy as np

    from components.ingest.csv_source import text_lines
    from search_algo.errors import DataError

    feature = spec.features[0]
    size = math.prod(feature.shape)
    _existing_file(path)
    lines = (text for _, text in text_lines(path))
    head = list(itertools.islice(lines, SNIFF_LINES))
    try:
        dialect = csv.Sniffer().sniff("".join(head), delimiters=",;\t ")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(itertools.chain(head, lines), dialect)
    first = True
    for row in reader:
        cells = [cell.strip() for cell in row if cell.strip() or dialect.delimiter != " "]
        if not any(cells):
            continue
        if first:
            first = False
            if not all(_is_number(cell) for cell in cells):
                continue
        line = reader.line_num
        if len(cells) != size:
            raise DataError(f"{path}: line {line} holds {len(cells)} values; the model expects {size} per row "
                            f"({expected_shape(feature)}, in order)")
        try:
            values = np.asarray([float(cell) for cell in cells], dtype=np.float32)
        except ValueError:
            column = next(i for i, cell in enumerate(cells, start=1) if not _is_number(cell))
            raise DataError(f"{path}: line {line}, value {column} is not a number ({cells[column - 1]!r})") from None
        yield f"{path}:{line}", {feature.name: values.reshape(feature.shape)}


# --------------------------------------------------------------------------
# TFRecords of tf.Example, for every kind of model


def tfrecord_inputs(path: str, spec) -> Iterator[Example]:
    """Every record of a TFRecord file (gzipped when its name ends in .gz)
    whose features are named as in training (by key, or by the name the
    user gave the column); other features, such as the label, are ignored."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    from search_algo.errors import DataError

    _existing_file(path)
    records = tf.data.TFRecordDataset(path, compression_type="GZIP" if path.lower().endswith(".gz") else None)
    index = -1
    try:
        for index, raw in enumerate(records.as_numpy_iterator()):
            source = f"{path}#{index}"
            yield source, example_values(tf.train.Example.FromString(raw), spec, source)
    except (tf.errors.OpError, DecodeError) as error:
        raise DataError(f"{path}: not a readable TFRecord file of tf.Example (record {index + 1}: "
                        f"{type(error).__name__})") from None


def example_values(example, spec, source: str) -> dict[str, Any]:
    """The model's feature values of one tf.Example, checked against their shapes."""
    import numpy as np

    from search_algo.errors import DataError

    stored = example.features.feature
    values: dict[str, Any] = {}
    for feature in spec.features:
        key = next((k for k in (feature.name, feature.display_name) if k in stored), None)
        if key is None:
            needs = ", ".join(f"{f.name!r} ({expected_shape(f)})" for f in spec.features)
            raise DataError(f"{source}: no feature {feature.name!r}; the model needs: {needs}")
        kind = stored[key].WhichOneof("kind")
        held = list(getattr(stored[key], kind).value) if kind else []
        if feature.kind == "categorical":
            if kind != "bytes_list" or len(held) != 1:
                raise DataError(f"{source}: feature {key!r} must hold one text value (bytes_list)")
            values[feature.name] = held[0].decode("utf-8", "replace")
            continue
        if kind == "bytes_list":
            raise DataError(f"{source}: feature {key!r} holds bytes; the model expects numbers, "
                            f"{expected_shape(feature)}")
        size = math.prod(feature.shape)
        if len(held) != size:
            raise DataError(f"{source}: feature {key!r} holds {len(held)} values; the model expects {size} "
                            f"({expected_shape(feature)})")
        values[feature.name] = np.asarray(held, dtype=np.float32).reshape(feature.shape)
    return values


# --------------------------------------------------------------------------
# The training kinds: CSV columns, image files, WAV files


def _files(path: str, suffixes: tuple[str, ...], what: str) -> list[str]:
    """The file, or the matching files inside a folder (sorted)."""
    from tfx.dsl.io import fileio

    from components.ingest import sources
    from search_algo.errors import DataError

    with sources.file_system_errors(path):
        if fileio.isdir(path):
            inside = sources.list_files(path, suffixes)
            if not inside:
                raise DataError(f"{path}: holds no {what} ({', '.join(suffixes)})")
            return inside
        if fileio.exists(path):
            return [sources.clean_path(path)]
    raise DataError(f"{path}: no such file or folder")


def image_inputs(path: str, spec) -> Iterator[Example]:
    from components.ingest import sources
    from search_algo.errors import DataError

    feature = spec.features[0]
    height, width, channels = feature.shape
    for file in _files(path, sources.IMAGE_SUFFIXES, "images"):
        try:
            array = sources.decode_image(file, (height, width), channels)
        except Exception as error:  # noqa: BLE001 - any decoder failure means "unreadable"
            raise DataError(f"{file}: cannot read it as an image ({type(error).__name__}: {error})") from None
        yield file, {feature.name: array}


def audio_inputs(path: str, spec) -> Iterator[Example]:
    from components.ingest import sources
    from search_algo.errors import DataError

    feature = spec.features[0]
    options = dict((spec.source.get("options") or {}).get("audio") or {})
    seconds = options.pop("seconds")
    audio = sources.AudioOptions(**options, seconds=seconds)
    for file in _files(path, sources.AUDIO_SUFFIXES, "WAV files"):
        try:
            array = sources.decode_wav(file, audio, seconds)
        except Exception as error:  # noqa: BLE001 - any decoder failure means "unreadable"
            raise DataError(f"{file}: cannot read it as a WAV file ({type(error).__name__}: {error})") from None
        if list(array.shape) != list(feature.shape):
            raise DataError(f"{file}: gives a {array.shape} spectrogram, the model expects {tuple(feature.shape)}")
        yield file, {feature.name: array}


def csv_inputs(path: str, spec) -> Iterator[Example]:
    """Rows of a CSV file whose header names the training columns (by their
    original names or their keys), read as a stream with ingestion's reader;
    the label column may be there or not. An empty numeric cell takes the
    training mean, with a warning at the end of the file."""
    from components.ingest import sources
    from components.ingest.csv_source import open_csv
    from search_algo.errors import DataError

    header, rows = open_csv(path)
    columns = {}
    for feature in spec.features:
        for name in (feature.display_name, feature.name):
            if name in header:
                columns[feature.name] = header.index(name)
                break
    missing = [f.display_name for f in spec.features if f.name not in columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(repr(m) for m in missing)}; the model needs: "
            + ", ".join(repr(f.display_name) for f in spec.features)
        )
    known = set(columns.values())
    ignored = [h for i, h in enumerate(header) if i not in known and h not in (spec.label_display_name, spec.label)]
    if ignored:
        log.warning("%s: ignoring column(s) the model does not use: %s", path, ", ".join(ignored))
    # Per column: how many empty cells, and the first lines that hold one.
    imputed: dict[str, tuple[int, list[int]]] = {}
    for line, row in rows:
        values: dict[str, Any] = {}
        for feature in spec.features:
            cell = row[columns[feature.name]]
            if feature.kind == "categorical":
                values[feature.name] = cell if cell.lower() not in sources.MISSING_TOKENS else "<missing>"
                continue
            if cell.lower() in sources.MISSING_TOKENS:
                count, first_lines = imputed.get(feature.display_name, (0, []))
                imputed[feature.display_name] = (count + 1, first_lines + [line] if count < 5 else first_lines)
                values[feature.name] = float((feature.mean or [0.0])[0])
                continue
            try:
                values[feature.name] = float(cell)
            except ValueError:
                raise DataError(
                    f"{path}: column {feature.display_name!r} is numeric but line {line} holds text ({cell!r})"
                ) from None
        yield f"{path}:{line}", values
    for name, (count, first_lines) in imputed.items():
        log.warning("%s: column %r: %d empty cell(s) take the training mean (lines %s)",
                    path, name, count, ", ".join(map(str, first_lines)))
