"""Reading every supported data source into one plan of records and splits.

`make_plan(config)` validates the input (raising `DataError` with a one-line
message that names the file, row, column or class folder), infers the schema
(task, label classes, features, input kind) and assigns every record to a
split, deterministically for the seed. `encode_record(plan, record)` turns one
record into feature values; the ingestion executor runs it inside Beam.

This module is the entry point: it tells the kind of a source and hands it to
the module that reads it (`csv_source`, `folder_source`, `tfrecord_source`,
`builtin`). Those build on `plan` (the config and plan types), `paths`,
`naming` and `splits`; `decoding` runs inside Beam. The names the rest of the
code uses are re-exported here, so callers import this module only.

Data may be local or at any URI TensorFlow's file systems know (`gs://…`):
every file is reached through TFX's `fileio`. It is imported where a file is
first touched, so checking settings stays free of TensorFlow's start-up.
"""

from __future__ import annotations

import logging
from collections import Counter

from components.ingest import builtin, csv_source, folder_source, tfrecord_source
from components.ingest.csv_source import MISSING_TOKENS, read_csv
from components.ingest.decoding import decode_image, decode_wav, encode_record, plan_meta
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
    "encode_record",
    "file_system_errors",
    "is_file",
    "is_uri",
    "list_files",
    "make_plan",
    "path_name",
    "path_stem",
    "path_suffix",
    "plan_meta",
    "read_csv",
]

log = logging.getLogger(__name__)

SOURCE_KINDS = ("csv", "images", "audio", "tfrecord", "builtin")


def make_plan(config: SourceConfig) -> Plan:
    """Validates the source and returns its plan; raises DataError on bad input."""
    check_ratios(config.split_ratios)
    if config.task not in (None, "classification", "regression"):
        raise DataError(f"--task must be classification or regression, not {config.task!r}")
    if config.dataset:
        plan = builtin.make_plan(config)
    else:
        if not config.data:
            raise DataError("give either --dataset NAME or --data PATH")
        kind = config.kind or detect_kind(config.data)
        if kind == "csv":
            plan = csv_source.make_plan(config)
        elif kind in ("images", "audio"):
            plan = folder_source.make_plan(config, kind)
        elif kind == "tfrecord":
            plan = tfrecord_source.make_plan(config)
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
