"""What ingestion is asked to do and what it decides: `SourceConfig` (the
source and its options, built by the CLI and carried to the executor as JSON
through `to_dict` / `from_dict`), its `AudioOptions`, and `Plan` (the
validated schema and the split rule, decided from the first pass over the
data; it holds no records). Every source module turns a `SourceConfig` and
its survey into a `Plan`, so these types sit in a leaf module that imports
nothing else from ingestion but the split rule.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from components.ingest.splits import SplitRule
from search_algo.dataset_spec import FeatureSpec


@dataclasses.dataclass(frozen=True)
class AudioOptions:
    sample_rate: int = 16000
    # None: the longest clip of the data set, capped at `max_seconds`.
    seconds: float | None = None
    max_seconds: float = 10.0
    n_mels: int = 40
    frame_ms: float = 25.0
    step_ms: float = 10.0


@dataclasses.dataclass(frozen=True)
class SourceConfig:
    """What to ingest and how. Built by the CLI from flags / the study config."""

    data: str | None = None  # a path or a TFRecord glob
    dataset: str | None = None  # a built-in data set name
    kind: str | None = None  # None: detected from `data`
    label: str | None = None
    task: str | None = None  # classification | regression | None (detect)
    test_data: str | None = None  # a separate test file / folder / glob
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    image_size: tuple[int, int] | None = None  # (height, width); None: detect
    color_mode: str = "auto"  # auto | grayscale | rgb
    audio: AudioOptions = AudioOptions()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SourceConfig":
        data = dict(data)
        if data.get("audio") is not None:
            data["audio"] = AudioOptions(**data["audio"])
        for key in ("split_ratios", "image_size"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**data)


@dataclasses.dataclass
class Plan:
    """The validated schema and where each record goes; the records
    themselves stream through the second pass."""

    name: str
    source_kind: str
    task: str
    input_kind: str
    label_key: str
    label_display_name: str
    class_names: list[str]
    features: list[FeatureSpec]
    rule: SplitRule
    # Expected records per split (exact where the rule is; see splits.py).
    expected_sizes: dict[str, int]
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)
    # What the source decided that its second pass needs (columns, layouts);
    # not part of the dataset spec.
    decisions: Any = None

    def split_sizes(self) -> dict[str, int]:
        return dict(self.expected_sizes)
