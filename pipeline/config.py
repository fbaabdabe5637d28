"""The study config: one YAML file holds everything a run needs; flags override it."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml
from pydantic import ValidationError

from components.ingest.sources import AudioOptions, SourceConfig, path_stem
from pipeline.config_schema import SOURCE_KEYS, StudySettings, choices, field_at, nested_model, requirement
from search_algo.errors import UserError


class StudyConfig(StudySettings):
    """A validated study config (pipeline/config_schema.py holds its keys and
    defaults), with the names and places derived from it."""

    def __init__(self, **values: Any) -> None:
        # pydantic's model_validate comes here too: every way of making one
        # reports bad values as a user error.
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise ConfigError(error, values) from None

    @property
    def source(self) -> SourceConfig:
        """What to ingest, for the ingestion component; the study's seed also
        draws its splits."""
        values = {key: getattr(self, key) for key in SOURCE_KEYS}
        values["split_ratios"] = tuple(values["split_ratios"])
        values["image_size"] = tuple(values["image_size"]) if values["image_size"] else None
        values["audio"] = AudioOptions(**self.audio.model_dump())
        return SourceConfig(seed=self.seed, **values)

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


class ConfigError(UserError):
    """Values that do not fit the schema; the message names the first bad key
    (and the file or flag it came from, when known)."""

    def __init__(self, error: ValidationError, values: Mapping[str, Any], config_file: Optional[str] = None,
                 flags: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(validation_message(error, values, config_file, flags))
        self.validation_error = error
        self.values = values


def default_study_name(source: SourceConfig) -> str:
    if source.dataset:
        return source.dataset
    if source.data:
        # A URI as well: gs://b/data/train.csv -> train.
        return path_stem(source.data.rstrip("/*")) or "study"
    return "study"


PATH_SETTINGS = ("data", "test_data", "module_file")


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
    # Paths in a config file are relative to the file, not to where it is run from.
    for key in PATH_SETTINGS:
        value = data.get(key)
        if isinstance(value, str) and "://" not in value and not os.path.isabs(value):
            data[key] = os.path.normpath(os.path.join(file.parent, value))
    return data


def build_config(file_values: dict[str, Any], overrides: dict[str, Any], config_file: Optional[str] = None,
                 flag_names: Optional[Mapping[str, str]] = None) -> StudyConfig:
    """Merges the config file's values with flags (flags win; None means unset)
    and validates them. A bad value is a UserError naming the flag, or the key
    and `config_file`; `flag_names` maps a key to its flag where that is not
    `--key-with-dashes`."""
    values = dict(file_values)
    from_flags = {key for key, value in overrides.items() if value is not None}
    values.update({key: overrides[key] for key in from_flags})
    prefix = f"config {config_file}" if config_file else "config"
    for key in values:
        if not isinstance(key, str):
            raise UserError(f"{prefix}: unknown key {key!r}")
    try:
        return StudyConfig(**values)
    except ConfigError as error:
        flags = {key: (flag_names or {}).get(key) or f"--{key.replace('_', '-')}" for key in from_flags}
        raise ConfigError(error.validation_error, values, config_file, flags) from None


def validation_message(error: ValidationError, values: Mapping[str, Any], config_file: Optional[str] = None,
                       flags: Optional[Mapping[str, str]] = None) -> str:
    """One line for the first problem: `config FILE: key 'rounds': must be a
    positive integer, got 0`, or `--rounds: ...` when a flag gave the value."""
    problem = error.errors(include_url=False)[0]
    location = problem["loc"]
    # The key path up to the first list index or union member (("student", "str")).
    path: tuple[str, ...] = ()
    for part in location:
        if not isinstance(part, str) or field_at(path + (part,)) is None:
            break
        path += (part,)
    prefix = f"config {config_file}" if config_file else "config"
    if problem["type"] == "extra_forbidden":
        unknown = ".".join(str(p) for p in location)
        return f"{prefix}: unknown key {unknown!r}{_did_you_mean(location)}"
    if not path:
        return f"{prefix}: {problem['msg']}"
    key = ".".join(path)
    field = field_at(path)
    value = _value_at(values, path, problem.get("input"))
    said = "not" if choices(field) else "got"
    where = (flags or {}).get(path[0]) if len(path) == 1 else None
    return f"{where or f'{prefix}: key {key!r}'}: {requirement(path[-1], field)}, {said} {value!r}"


def _value_at(values: Mapping[str, Any], path: tuple[str, ...], fallback: Any) -> Any:
    """The value as the user wrote it (a whole list, not its bad item)."""
    value: Any = values
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return fallback
        value = value[key]
    return value


def _did_you_mean(location: tuple) -> str:
    """A typo's likely key: `epoch` -> `epochs`."""
    parent = field_at(tuple(location[:-1])) if len(location) > 1 else None
    model = nested_model(parent) if parent is not None else StudySettings
    keys = list(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(str(location[-1]), keys, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
