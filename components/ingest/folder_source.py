"""Image and audio folders: one sub-folder per class, holding PNG/JPEG images
or WAV files. The driver lists the file names (never their contents) and
hands Beam groups of `GROUP_FILES` paths. The first pass opens every file in
the workers, to leave out the unreadable ones (with a warning), to fix one
image size and colour mode, or one clip length, for the whole data set, and
to key each file by its content for the split. The second pass decodes the
readable files into a `RecordBatch` per group (see `decoding`).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
from collections import Counter
from typing import Any, Iterator

import numpy as np

from components.ingest.batches import LabelSurvey, RecordBatch
from components.ingest.decoding import decode_image, decode_wav, log_mel_frames
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
from components.ingest.plan import AudioOptions, Plan, SourceConfig
from components.ingest.splits import check_not_empty, content_keys, make_rule, train_eval_ratios
from search_algo.dataset_spec import FeatureSpec
from search_algo.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
AUDIO_SUFFIXES = (".wav",)

log = logging.getLogger(__name__)


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


def _default_image_size(sizes: Counter) -> tuple[int, int]:
    """The most common size, scaled down so its longer side is at most 64 pixels."""
    (height, width), _ = sizes.most_common(1)[0]
    scale = min(1.0, 64 / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


GROUP_FILES = 256
_GRAYSCALE_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


@dataclasses.dataclass(frozen=True)
class FileGroup:
    file_index: int  # 0: the data, 1: a separate test folder
    index: int
    files: tuple[tuple[str, str], ...]  # (path, class name)


class FolderSurvey:
    """The first pass's findings over some files; merges with others."""

    def __init__(self) -> None:
        self.sizes: Counter = Counter()
        self.modes: set[str] = set()
        self.longest = 0.0
        self.unreadable: list[list[str]] = [[], []]  # the first few, per folder
        self.unreadable_count = [0, 0]
        self.listed = [0, 0]
        self.labels = LabelSurvey()

    def merge(self, other: "FolderSurvey") -> "FolderSurvey":
        self.sizes.update(other.sizes)
        self.modes |= other.modes
        self.longest = max(self.longest, other.longest)
        for i in (0, 1):
            self.unreadable[i] = sorted(self.unreadable[i] + other.unreadable[i])[:MAX_ROWS_NAMED]
            self.unreadable_count[i] += other.unreadable_count[i]
            self.listed[i] += other.listed[i]
        self.labels.merge(other.labels)
        return self


def _image_header(data: bytes) -> tuple[tuple[int, int], str]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # verify() misses truncated pixel data
        return (image.height, image.width), image.mode


def _wav_seconds(data: bytes) -> float:
    from scipy.io import wavfile

    rate, samples = wavfile.read(io.BytesIO(data))
    if samples.size == 0:
        raise ValueError("no samples")
    return samples.shape[0] / rate


class FolderSource:
    def __init__(self, config: SourceConfig, kind: str) -> None:
        self.config = config
        self.kind = kind
        self.suffixes, self.what = (IMAGE_SUFFIXES, "images") if kind == "images" else (AUDIO_SUFFIXES, "WAV files")
        classes = _list_class_folders(config.data, self.suffixes, self.what)
        self.class_names = [name for name, _ in classes]
        check_classes(self.class_names, config.data, "class folder")
        folders = [classes]
        if config.test_data:
            test_classes = _list_class_folders(config.test_data, self.suffixes, self.what)
            unknown = [name for name, _ in test_classes if name not in self.class_names]
            if unknown:
                raise DataError(f"{config.test_data}: class folder {unknown[0]!r} is not a class of {config.data}")
            folders.append(test_classes)
        self.roots = [config.data, config.test_data]
        self.groups = []
        for file_index, found in enumerate(folders):
            files = [(path, name) for name, paths in found for path in paths]
            self.groups += [FileGroup(file_index, i // GROUP_FILES, tuple(files[i : i + GROUP_FILES]))
                            for i in range(0, len(files), GROUP_FILES)]

    def units(self) -> list[FileGroup]:
        return self.groups

    def survey(self, group: FileGroup) -> FolderSurvey:
        survey = FolderSurvey()
        survey.listed[group.file_index] += len(group.files)
        readable, keys = [], []
        for path, name in group.files:
            try:
                data = read_bytes(path)
                if self.kind == "images":
                    size, mode = _image_header(data)
                    survey.sizes[size] += 1
                    survey.modes.add(mode)
                else:
                    survey.longest = max(survey.longest, _wav_seconds(data))
            except Exception:  # noqa: BLE001 - any decoder failure means "unreadable"
                survey.unreadable_count[group.file_index] += 1
                survey.unreadable[group.file_index].append(_relative_to(path, self.roots[group.file_index]))
                continue
            readable.append(name)
            keys.append(data)
        survey.unreadable[group.file_index] = sorted(survey.unreadable[group.file_index])[:MAX_ROWS_NAMED]
        survey.labels.add(readable, content_keys(keys, self.config.seed), test_partition=group.file_index == 1)
        return survey

    def plan(self, survey: FolderSurvey) -> Plan:
        config, warnings = self.config, []
        for file_index, root in enumerate(self.roots[: 2 if config.test_data else 1]):
            count = survey.unreadable_count[file_index]
            if count:
                names = ", ".join(survey.unreadable[file_index])
                more = f" and {count - MAX_ROWS_NAMED} more" if count > MAX_ROWS_NAMED else ""
                warnings.append(f"{root}: skipped {count} unreadable file(s): {names}{more}")
            if count == survey.listed[file_index]:
                raise DataError(f"{root}: none of the {count} {self.what} could be read")
        for name in self.class_names:
            if not survey.labels.counts.get(name):
                raise DataError(f"{config.data}: no readable {self.what} left in class folder {name!r}")
        options: dict[str, Any] = {}
        if self.kind == "images":
            size = tuple(config.image_size) if config.image_size else _default_image_size(survey.sizes)
            if len(survey.sizes) > 1:
                warnings.append(
                    f"{config.data}: images have {len(survey.sizes)} different sizes; all are resized to "
                    f"{size[0]}x{size[1]} (height x width)"
                )
            if config.color_mode == "auto":
                channels = 1 if survey.modes <= _GRAYSCALE_MODES else 3
            else:
                channels = 1 if config.color_mode == "grayscale" else 3
            options = {"image_size": list(size), "channels": channels}
            feature = FeatureSpec("image", "image", "numeric", "float32", [size[0], size[1], channels])
            input_kind = "image"
        else:
            audio = config.audio
            seconds = audio.seconds or min(survey.longest, audio.max_seconds)
            frames = log_mel_frames(seconds, audio)
            options = {"audio": dataclasses.asdict(audio) | {"seconds": seconds}}
            feature = FeatureSpec("audio", "log-mel spectrogram", "numeric", "float32", [frames, audio.n_mels])
            input_kind = "sequence"
        ratios = train_eval_ratios(config.split_ratios) if config.test_data else config.split_ratios
        rule = make_rule(survey.labels.groups(self.class_names), ratios, stratified=True)
        plan = Plan(
            name=path_name(config.data),
            source_kind=self.kind,
            task="classification",
            input_kind=input_kind,
            label_key="label",
            label_display_name="class",
            class_names=self.class_names,
            features=[feature],
            rule=rule,
            expected_sizes=rule.expected_sizes(survey.labels.test_total),
            options=options,
            warnings=warnings,
        )
        check_not_empty(plan.expected_sizes, plan.name)
        return plan

    def _decode(self, path: str, plan: Plan) -> np.ndarray:
        if self.kind == "images":
            return decode_image(path, plan.options["image_size"], plan.options["channels"])
        audio = dict(plan.options["audio"])
        seconds = audio.pop("seconds")
        return decode_wav(path, AudioOptions(**audio, seconds=seconds), seconds)

    def batches(self, group: FileGroup, plan: Plan) -> Iterator[RecordBatch]:
        arrays, labels, contents = [], [], []
        class_index = {name: i for i, name in enumerate(plan.class_names)}
        for path, name in group.files:
            try:
                data = read_bytes(path)
                arrays.append(self._decode(path, plan))
            except Exception as error:  # noqa: BLE001 - the first pass left it out already
                log.info("skipped unreadable file %s: %s", path, error)
                continue
            contents.append(data)
            labels.append(class_index[name])
        if not arrays:
            return
        feature = plan.features[0]
        yield RecordBatch({feature.name: np.stack(arrays).astype(np.float32)}, np.asarray(labels, dtype=np.int64),
                          content_keys(contents, self.config.seed), f"{group.file_index}-{group.index:06d}",
                          test_partition=group.file_index == 1)
