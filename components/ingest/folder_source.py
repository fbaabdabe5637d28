"""Image and audio folders: one sub-folder per class, holding PNG/JPEG images
or WAV files. Planning opens every file once, to leave out the unreadable ones
(with a warning) and to fix one image size and colour mode, or one clip
length, for the whole data set. A record is (file path, class index): the
pixels and samples are decoded later, inside Beam (see `decoding`).
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections import Counter
from typing import Any

from components.ingest.decoding import log_mel_frames
from components.ingest.naming import MAX_ROWS_NAMED, check_classes
from components.ingest.paths import (
    clean_path,
    file_system_errors,
    is_uri,
    join_path,
    list_children,
    list_files,
    path_name,
    read_bytes,
)
from components.ingest.plan import Plan, SourceConfig
from components.ingest.splits import plan_splits
from search_algo.dataset_spec import FeatureSpec
from search_algo.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
AUDIO_SUFFIXES = (".wav",)


def _list_class_folders(root: str, suffixes: tuple[str, ...], what: str) -> list[tuple[str, list[str]]]:
    from tfx.dsl.io import fileio

    with file_system_errors(root):
        if not fileio.exists(root):
            raise DataError(f"{root}: no such folder")
        if not fileio.isdir(root):
            raise DataError(f"{root}: expected a folder with one sub-folder per class")
        base = clean_path(root)
        names = sorted(n for n in list_children(base) if not n.startswith(".") and fileio.isdir(join_path(base, n)))
        if not names:
            raise DataError(f"{root}: no class sub-folders (expected one sub-folder of {what} per class)")
        result = []
        for name in names:
            folder = join_path(base, name)
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
            data = read_bytes(file)
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

    rate, samples = wavfile.read(io.BytesIO(read_bytes(file)))
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


def make_plan(config: SourceConfig, kind: str) -> Plan:
    suffixes, what = (IMAGE_SUFFIXES, "images") if kind == "images" else (AUDIO_SUFFIXES, "WAV files")
    classes = _list_class_folders(config.data, suffixes, what)
    class_names = [name for name, _ in classes]
    check_classes(class_names, config.data, "class folder")
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
