"""The study config: one YAML file holds everything a run needs; flags override it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml

from components.ingest.sources import AudioOptions, SourceConfig
from search_algo.errors import UserError



@dataclasses.dataclass
class StudyConfig:
    study: str | None = None  # None: named after the data
    output: str | None = None  # None: runs/<study name>
    seed: int = 0
    source: SourceConfig = dataclasses.field(default_factory=SourceConfig)

    @property
    def study_name(self) -> str:
        return self.study or default_study_name(self.source)

    @property
    def output_dir(self) -> str:
        return self.output or f"runs/{self.pipeline_name}"

    @property
    def pipeline_name(self) -> str:
        """Kubeflow v2 allows `[a-z0-9][a-z0-9-]{0,127}` only."""
        name = re.sub(r"[^a-z0-9-]+", "-", self.study_name.lower()).strip("-") or "study"
        return name[:128]


def default_study_name(source: SourceConfig) -> str:
    if source.dataset:
        return source.dataset
    if source.data:
        return Path(source.data.rstrip("/*")).stem or "study"
    return "study"


_SOURCE_FIELDS = {f.name for f in dataclasses.fields(SourceConfig)}
_TOP_FIELDS = {"study", "output", "seed"}


def load_config_file(path: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: the top level must be a mapping of settings")
    return data


def build_config(file_values: dict[str, Any], overrides: dict[str, Any], where: str = "config") -> StudyConfig:
    """Merges the config file's values with flags (flags win; None means unset)."""
    values = dict(file_values)
    source_values = dict(values.pop("data_source", {}) or {})
    for key in list(values):
        if key in _SOURCE_FIELDS:
            source_values[key] = values.pop(key)
    for key, value in overrides.items():
        if value is None:
            continue
        (source_values if key in _SOURCE_FIELDS else values)[key] = value
    unknown = sorted(set(values) - _TOP_FIELDS)
    if unknown:
        raise UserError(f"{where}: unknown setting {unknown[0]!r}")
    if "audio" in source_values and isinstance(source_values["audio"], dict):
        try:
            source_values["audio"] = AudioOptions(**source_values["audio"])
        except TypeError as error:
            raise UserError(f"{where}: audio: {error}") from None
    source_values.setdefault("seed", values.get("seed", 0))
    try:
        source = SourceConfig(**source_values)
    except TypeError as error:
        raise UserError(f"{where}: {error}") from None
    return StudyConfig(
        study=values.get("study"),
        output=values.get("output"),
        seed=int(values.get("seed", 0)),
        source=source,
    )
