"""The dataset spec: what every later step needs to know about the ingested data.

Ingestion writes it (as `dataset_spec.json` inside a DatasetSpec artifact); the
model builder, trainers and evaluator read it. It lives here, not in
`components/`, because the model builder needs it and must not import TFX.
Files go through `tf.io.gfile`, so a spec may live at any URI (`gs://…`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
import uuid
from typing import Any

SPEC_FILE_NAME = "dataset_spec.json"

TASKS = ("classification", "regression")
INPUT_KINDS = ("tabular", "image", "sequence")
FEATURE_KINDS = ("numeric", "categorical")


@dataclasses.dataclass
class FeatureSpec:
    """One tf.Example feature as the model sees it.

    `name` is the tf.Example key (a sanitised identifier); `display_name` is what
    the user called it (a CSV header may hold spaces and punctuation).
    `mean`/`std` have one value for a scalar feature and one per channel (last
    axis) for an image or a sequence; they are computed on the train split only.
    """

    name: str
    display_name: str
    kind: str  # numeric | categorical
    dtype: str  # float32 | string
    shape: list[int]
    mean: list[float] | None = None
    std: list[float] | None = None
    vocabulary: list[str] | None = None
    missing_imputed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureSpec":
        return cls(**data)


@dataclasses.dataclass
class DatasetSpec:
    name: str
    task: str  # classification | regression
    input_kind: str  # tabular | image | sequence
    label: str  # tf.Example key of the label
    label_display_name: str
    features: list[FeatureSpec]
    class_names: list[str] = dataclasses.field(default_factory=list)
    # Regression only: the train split's label mean/std, to scale the target.
    label_mean: float | None = None
    label_std: float | None = None
    split_sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    class_counts: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    source: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got {self.input_kind!r}")
        for feature in self.features:
            if feature.kind not in FEATURE_KINDS:
                raise ValueError(f"feature {feature.name!r}: kind must be one of {FEATURE_KINDS}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> FeatureSpec:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(f"no feature {name!r} in dataset {self.name!r}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["num_classes"] = self.num_classes
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DatasetSpec":
        data = dict(data)
        data.pop("num_classes", None)
        data["features"] = [FeatureSpec.from_dict(f) for f in data["features"]]
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DatasetSpec":
        return cls.from_dict(json.loads(text))

    def save(self, directory: str | os.PathLike[str]) -> str:
        """Writes `dataset_spec.json` into `directory` (created if missing) and
        returns its path."""
        import tensorflow as tf

        directory = os.fspath(directory)
        tf.io.gfile.makedirs(directory)
        path = posixpath.join(directory, SPEC_FILE_NAME)
        tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        with tf.io.gfile.GFile(tmp, "w") as handle:
            handle.write(self.to_json())
        # Never leave a half-written spec that looks finished.
        tf.io.gfile.rename(tmp, path, overwrite=True)
        return path

    @classmethod
    def load(cls, directory_or_file: str | os.PathLike[str]) -> "DatasetSpec":
        """Reads a spec file, or `dataset_spec.json` in a directory."""
        import tensorflow as tf

        path = os.fspath(directory_or_file)
        if tf.io.gfile.isdir(path):
            path = posixpath.join(path, SPEC_FILE_NAME)
        with tf.io.gfile.GFile(path, "r") as handle:
            return cls.from_json(handle.read())
