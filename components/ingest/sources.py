"""Every supported data source, read in two passes that Beam runs.

`open_source(config)` tells the kind of a source and returns the object that
reads it (`csv_source`, `folder_source`, `tfrecord_source`, `builtin`). Each
has the same four parts: `units()`, small descriptions of the work (byte
ranges of a CSV file, groups of image files, TFRecord files, row ranges of a
built-in set) that the driver lists without reading the data;
`survey(unit)`, the first pass over a unit, a summary that merges with the
others'; `plan(survey)`, in the driver, which validates the input (raising
`DataError` with a one-line message that names the file, line, column or
class folder), infers the schema (task, classes, features, input kind) and
fixes the split rule; and `batches(unit, plan)`, the second pass, which turns
a unit into `RecordBatch`es. The ingestion executor runs both passes in Beam;
`make_plan` runs the first in this process, for tests and small data.

They build on `plan` (the config and plan types), `paths`, `naming`,
`splits` and `batches`; `decoding` runs inside Beam. The names the rest of
the code uses are re-exported here, so callers import this module only.

Data may be local or at any URI TensorFlow's file systems know (`gs://…`):
every file is reached through TFX's `fileio`. It is imported where a file is
first touched, so checking settings stays free of TensorFlow's start-up.
"""

from __future__ import annotations

import logging
from collections import Counter

from components.ingest import builtin, csv_source, folder_source, tfrecord_source
from components.ingest.batches import RecordBatch, concatenate
from components.ingest.csv_source import MISSING_TOKENS, read_csv
from components.ingest.decoding import decode_image, decode_wav
from components.ingest.folder_source import AUDIO_SUFFIXES, IMAGE_SUFFIXES
from components.ingest.naming import class_order
from components.ingest.paths import (
    clean_path,
    file_system_errors,
    glob_paths,
    has_magic,
    is_file,
    is_uri,
    join_path,
    list_children,
    list_files,
    path_name,
    path_stem,
    path_suffix,
)
from components.ingest.plan import AudioOptions, Plan, SourceConfig
from components.ingest.splits import SPLITS, check_ratios
from search_algo.errors import DataError

# Re-exported for the CLI, the executor and the tests, which import them from here.
__all__ = [
    "AUDIO_SUFFIXES",
    "IMAGE_SUFFIXES",
    "MISSING_TOKENS",
    "SOURCE_KINDS",
    "SPLITS",
    "AudioOptions",
    "Plan",
    "SourceConfig",
    "class_order",
    "clean_path",
    "decode_image",
    "decode_wav",
    "detect_kind",
    "file_system_errors",
    "is_file",
    "is_uri",
    "list_files",
    "make_plan",
    "open_source",
    "path_name",
    "path_stem",
    "path_suffix",
    "read_csv",
    "read_splits",
]

log = logging.getLogger(__name__)

SOURCE_KINDS = ("csv", "images", "audio", "tfrecord", "builtin")


def open_source(config: SourceConfig):
    """The reader of the configured source; raises DataError on bad settings
    or a missing source (it reads names and headers, not the data)."""
    check_ratios(config.split_ratios)
    if config.task not in (None, "classification", "regression"):
        raise DataError(f"--task must be classification or regression, not {config.task!r}")
    if config.dataset:
        return builtin.BuiltinSource(config)
    if not config.data:
        raise DataError("give either --dataset NAME or --data PATH")
    kind = config.kind or detect_kind(config.data)
    if kind == "csv":
        return csv_source.CsvSource(config)
    if kind in ("images", "audio"):
        return folder_source.FolderSource(config, kind)
    if kind == "tfrecord":
        return tfrecord_source.TFRecordSource(config)
    raise DataError(f"unknown source kind {kind!r}; choose one of {', '.join(SOURCE_KINDS)}")


def survey_in_process(source, units=None):
    """The first pass over every unit, in this process (no Beam)."""
    survey = None
    for unit in source.units() if units is None else units:
        found = source.survey(unit)
        survey = found if survey is None else survey.merge(found)
    return survey


def make_plan(config: SourceConfig) -> Plan:
    """Validates the source and returns its plan, reading it in this process:
    for tests and small data; the executor runs the same pass in Beam."""
    source = open_source(config)
    plan = source.plan(survey_in_process(source))
    for warning in plan.warnings:
        log.warning("%s", warning)
    return plan


def read_splits(config: SourceConfig) -> tuple[Plan, dict[str, RecordBatch]]:
    """Both passes in this process: the plan and every split's records as one
    batch, exactly as the executor writes them. For tests, benchmarks and
    data that fits in memory (the built-in sets)."""
    import numpy as np

    source = open_source(config)
    units = source.units()
    plan = source.plan(survey_in_process(source, units))
    parts: dict[str, list[RecordBatch]] = {split: [] for split in SPLITS}
    for unit in units:
        for batch in source.batches(unit, plan):
            assigned = plan.rule.assign(batch.keys, batch.labels if plan.rule.stratified else None,
                                        batch.test_partition)
            for index, split in enumerate(SPLITS):
                parts[split].append(batch.take(np.flatnonzero(assigned == index)))
    return plan, {split: concatenate(batches) for split, batches in parts.items()}


def detect_kind(data: str) -> str:
    """csv for a .csv/.tsv file, tfrecord for TFRecord files or globs, images or
    audio for a folder of class sub-folders."""
    from tfx.dsl.io import fileio

    with file_system_errors(data):
        if has_magic(data):
            if not glob_paths(data):
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
    for child in list_children(root):
        folder = join_path(root, child)
        if not fileio.isdir(folder):
            continue
        for name in list_children(folder):
            suffix = path_suffix(name).lower()
            # Only a known suffix counts, so only those names cost a look-up (a request each on GCS).
            if suffix in known and not name.startswith(".") and not fileio.isdir(join_path(folder, name)):
                suffixes[suffix] += 1
    return suffixes
