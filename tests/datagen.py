"""Small, real, deterministic data files of every supported kind, for tests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SHAPE_CLASSES = ("circle", "square", "stripes")
TONE_CLASSES = ("high", "low")


def write_tabular_csv(path: Path, rows: int, seed: int) -> Path:
    """Customers: numeric and categorical columns, header names with spaces and
    punctuation, a string label that depends on the features."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Age (years)", "monthly spend, $", "plan type", "churned?"])
        for i in range(rows):
            age = int(rng.integers(18, 80))
            spend = round(float(rng.normal(50, 20)), 2)
            plan = ["basic", "premium", "family"][i % 3]
            label = "yes" if (spend < 45) ^ (plan == "premium") else "no"
            writer.writerow([age, spend, plan, label])
    return path


def write_regression_csv(path: Path, rows: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rooms", "area", "price"])
        for _ in range(rows):
            rooms = int(rng.integers(1, 6))
            area = float(rng.uniform(20, 200))
            writer.writerow([rooms, round(area, 1), round(1000 * area + 5000 * rooms + rng.normal(0, 100), 2)])
    return path


def _shape_image(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    if kind == "circle":
        mask = (x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.1
    elif kind == "square":
        mask = (abs(x - 0.5) < 0.25) & (abs(y - 0.5) < 0.25)
    else:
        mask = (np.floor(x * 6) % 2) == 0
    noise = rng.uniform(0, 40, (size, size))
    return np.clip(mask * 200 + noise, 0, 255).astype(np.uint8)


def write_image_folder(root: Path, per_class: int, seed: int, corrupt: bool = False) -> Path:
    """Class folders of PNG and JPEG files, mixed sizes (16 and 20 pixels) and
    colour modes (grayscale and RGB)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name in SHAPE_CLASSES:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            size = 16 if i % 4 else 20
            pixels = _shape_image(name, size, rng)
            image = Image.fromarray(pixels, mode="L")
            if i % 3 == 0:
                image = image.convert("RGB")
            suffix = ".jpg" if i % 2 else ".png"
            image.save(folder / f"{name}_{i}{suffix}")
    if corrupt:
        (root / SHAPE_CLASSES[0] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return root


def write_wav(path: Path, frequency: float, rate: int, seconds: float, stereo: bool, float_samples: bool) -> None:
    from scipy.io import wavfile

    t = np.arange(int(rate * seconds)) / rate
    wave = 0.5 * np.sin(2 * np.pi * frequency * t)
    if stereo:
        wave = np.stack([wave, wave * 0.8], axis=1)
    data = wave.astype(np.float32) if float_samples else (wave * 32767).astype(np.int16)
    wavfile.write(path, rate, data)


def write_audio_folder(root: Path, per_class: int, seed: int) -> Path:
    """Class folders of WAV tones: several sample rates, mono and stereo,
    16-bit and float samples, lengths 0.3-0.5 s."""
    rng = np.random.default_rng(seed)
    for name, base in zip(TONE_CLASSES, (3000.0, 300.0)):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            write_wav(
                folder / f"{name}_{i}.wav",
                frequency=base * float(rng.uniform(0.9, 1.1)),
                rate=(8000, 16000, 22050)[i % 3],
                seconds=(0.3, 0.5)[i % 2],
                stereo=i % 2 == 1,
                float_samples=i % 4 == 3,
            )
    return root


def write_tfrecord(path: Path, count: int, seed: int) -> Path:
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    species = ("setosa", "versicolor", "virginica")
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for i in range(count):
            label = i % 3
            values = rng.normal(label, 0.3, 3).astype(np.float32)
            feature = {
                "petal length": tf.train.Feature(float_list=tf.train.FloatList(value=[values[0]])),
                "petal_width": tf.train.Feature(float_list=tf.train.FloatList(value=[values[1]])),
                "stems": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(i % 5)])),
                "species": tf.train.Feature(bytes_list=tf.train.BytesList(value=[species[label].encode()])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return path


HOSTILE_CLASS = "<script>alert(1)</script>"
HOSTILE_COLUMN = 'size <b>"cm"</b> & more'


def write_hostile_csv(path: Path, rows: int, seed: int) -> Path:
    """A small classification CSV whose class and column names are HTML, for
    checking that reports show user strings as text."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([HOSTILE_COLUMN, "weight", "colour", "label"])
        for i in range(rows):
            size = float(rng.normal(0, 1))
            weight = float(rng.normal(0, 1))
            label = HOSTILE_CLASS if size + 0.5 * weight > 0 else "plain"
            writer.writerow([round(size, 3), round(weight, 3), ["red", "green"][i % 2], label])
    return path


def copy_to_uri(local: Path, uri: str) -> str:
    """Copies a file, or a folder tree, to `uri` (ram://..., gs://...) through
    tf.io.gfile; returns `uri`."""
    import tensorflow as tf

    if local.is_file():
        tf.io.gfile.makedirs(uri.rsplit("/", 1)[0])
        tf.io.gfile.copy(str(local), uri, overwrite=True)
        return uri
    for file in sorted(p for p in local.rglob("*") if p.is_file()):
        copy_to_uri(file, f"{uri}/{file.relative_to(local).as_posix()}")
    return uri
