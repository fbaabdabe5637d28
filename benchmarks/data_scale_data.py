"""The data-scale benchmark's data (see data_scale.py), generated from a seed
and written chunk by chunk, so no size is ever held in memory whole.

- Tabular: `rows` rows of 30 numeric features and a `label` of 5 classes.
  Each class has a centre in feature space; a row is its class's centre plus
  unit Gaussian noise, so the classes overlap but are learnable. Rows come in
  chunks of `CHUNK_ROWS`, each drawn from its own seed, so a smaller set is
  the first rows of a larger one. The same rows are written as a CSV file
  (4 decimals, about 225 bytes a row) and as gzipped TFRecords of tf.Example
  (float features, int64 label) in shards of `SHARD_ROWS`.
- Images: `count` 32x32 RGB PNGs in one folder per class; each class has a
  coarse colour pattern, each image is its class's pattern plus noise.

Each data set is written into a scratch folder that is renamed into place
once complete, then a marker beside it (`<folder>.json`, outside the folder,
which ExampleGen reads whole) records what it holds: a workdir is reused when
the marker matches, and a half-written set never looks finished.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

FEATURES = 30
CLASSES = 5
LABEL = "label"
FEATURE_NAMES = [f"f{i:02d}" for i in range(FEATURES)]
CHUNK_ROWS = 100_000
SHARD_ROWS = 500_000
# Distance of the class centres from the origin, in units of the noise.
CENTRE_SCALE = 0.4
IMAGE_SIDE = 32
IMAGE_CHUNK = 1000
# Bumped when what is generated changes, so an old workdir is not reused.
GENERATOR_VERSION = 1


def _centres(seed: int) -> np.ndarray:
    return CENTRE_SCALE * np.random.default_rng([seed, 0]).normal(size=(CLASSES, FEATURES))


def row_chunks(rows: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(features float64 [n, 30] rounded to 4 decimals, labels int64 [n]) in chunks of at most CHUNK_ROWS."""
    centres = _centres(seed)
    for chunk, start in enumerate(range(0, rows, CHUNK_ROWS)):
        count = min(CHUNK_ROWS, rows - start)
        rng = np.random.default_rng([seed, 1, chunk])
        labels = rng.integers(0, CLASSES, size=CHUNK_ROWS)[:count]
        noise = rng.normal(size=(CHUNK_ROWS, FEATURES))[:count]
        yield np.round(centres[labels] + noise, 4), labels.astype(np.int64)


def _marker(folder: Path) -> Path:
    return folder.with_name(folder.name + ".json")


def _complete(folder: Path, description: dict) -> bool:
    marker = _marker(folder)
    return folder.exists() and marker.exists() and json.loads(marker.read_text()) == description


def _generate(folder: Path, description: dict, write: Callable[[Path], None]) -> Path:
    """`folder`, written by `write` into a scratch folder unless it is already complete."""
    if _complete(folder, description):
        return folder
    scratch = folder.with_name(folder.name + ".partial")
    _marker(folder).unlink(missing_ok=True)
    for stale in (scratch, folder):
        shutil.rmtree(stale, ignore_errors=True)
    scratch.mkdir(parents=True)
    write(scratch)
    scratch.rename(folder)
    _marker(folder).write_text(json.dumps(description))
    return folder


def _description(kind: str, size: int, seed: int) -> dict:
    return {"kind": kind, "size": size, "seed": seed, "version": GENERATOR_VERSION}


def csv_file(workdir: Path, rows: int, seed: int) -> Path:
    """The CSV of `rows` rows, alone in its folder (CsvExampleGen reads a folder)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    def write(folder: Path) -> None:
        with open(folder / "data.csv", "wb") as out:
            out.write((",".join(FEATURE_NAMES + [LABEL]) + "\n").encode())
            for features, labels in row_chunks(rows, seed):
                table = pa.table({**{name: features[:, i] for i, name in enumerate(FEATURE_NAMES)}, LABEL: labels})
                pa_csv.write_csv(table, out, pa_csv.WriteOptions(include_header=False))

    folder = _generate(workdir / f"csv-{rows}", _description("csv", rows, seed), write)
    return folder / "data.csv"


def _serialized_examples(features: np.ndarray, labels: np.ndarray) -> list[bytes]:
    """tf.Examples of a chunk, encoded column-wise (tfx_bsl), as the ingest does."""
    import pyarrow as pa
    from tfx_bsl.coders import example_coder

    count = len(labels)
    offsets = pa.array(np.arange(count + 1, dtype=np.int64))
    columns = [pa.LargeListArray.from_arrays(offsets, pa.array(features[:, i].astype(np.float32)))
               for i in range(FEATURES)]
    columns.append(pa.LargeListArray.from_arrays(offsets, pa.array(labels)))
    return example_coder.RecordBatchToExamples(pa.RecordBatch.from_arrays(columns, names=FEATURE_NAMES + [LABEL]))


def tfrecord_folder(workdir: Path, rows: int, seed: int) -> Path:
    """The same rows as the CSV, in gzipped TFRecord shards `part-NNNNN.tfrecord.gz` alone in their folder."""
    import tensorflow as tf

    def write(folder: Path) -> None:
        shards = -(-rows // SHARD_ROWS)
        writer, written = None, 0
        for features, labels in row_chunks(rows, seed):
            if written % SHARD_ROWS == 0:  # chunks never cross a shard boundary: CHUNK_ROWS divides SHARD_ROWS
                if writer:
                    writer.close()
                name = f"part-{written // SHARD_ROWS:05d}-of-{shards:05d}.tfrecord.gz"
                writer = tf.io.TFRecordWriter(str(folder / name), options="GZIP")
            for record in _serialized_examples(features, labels):
                writer.write(record)
            written += len(labels)
        writer.close()

    return _generate(workdir / f"tfrecord-{rows}", _description("tfrecord", rows, seed), write)


def tfrecord_pattern(folder: Path) -> str:
    return str(folder / "*.tfrecord.gz")


def _class_patterns(seed: int) -> np.ndarray:
    """A coarse 4x4 RGB pattern per class, as 0-255 floats at full size."""
    coarse = np.random.default_rng([seed, 2]).uniform(40, 215, size=(CLASSES, 4, 4, 3))
    return np.repeat(np.repeat(coarse, IMAGE_SIDE // 4, axis=1), IMAGE_SIDE // 4, axis=2)


def image_folder(workdir: Path, count: int, seed: int) -> Path:
    """`count` PNG images in class folders `class_0` … `class_4` (image i is of class i mod 5)."""
    from PIL import Image

    def write(folder: Path) -> None:
        patterns = _class_patterns(seed)
        for name in range(CLASSES):
            (folder / f"class_{name}").mkdir()
        for chunk, start in enumerate(range(0, count, IMAGE_CHUNK)):
            rng = np.random.default_rng([seed, 3, chunk])
            indices = np.arange(start, min(start + IMAGE_CHUNK, count))
            noise = rng.normal(0, 40, size=(IMAGE_CHUNK, IMAGE_SIDE, IMAGE_SIDE, 3))[: len(indices)]
            pixels = np.clip(patterns[indices % CLASSES] + noise, 0, 255).astype(np.uint8)
            for index, image in zip(indices, pixels):
                Image.fromarray(image).save(folder / f"class_{index % CLASSES}" / f"{index:06d}.png")

    return _generate(workdir / f"images-{count}", _description("images", count, seed), write)
