"""The study config: one YAML file holds everything a run needs; flags override it."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from components.ingest.sources import AudioOptions, SourceConfig, path_stem
from search_algo.errors import UserError

# NumPy rejects negative seeds, and its legacy seeding (keras.utils.set_random_seed)
# anything past 32 bits; 31 bits, like the per-trial seeds derived from it
# (search_algo/proposals.py), also fit a signed 32-bit integer anywhere.
MAX_SEED = 2**31 - 1


@dataclasses.dataclass
class StudyConfig:
    study: str | None = None  # None: named after the data
    output: str | None = None  # None: runs/<study name>
    seed: int = 0
    source: SourceConfig = dataclasses.field(default_factory=SourceConfig)
    # The search: R rounds of (Proposer -> N trainers, T trials each).
    algorithm: str = "beam"
    rounds: int = 2
    trainers: int = 2
    trials_per_trainer: int = 2
    epochs: int = 5
    time_limit: float | None = None  # seconds per trial; None: no limit
    # When things go wrong (components/trainer/trial_cache.py, pipeline/parallel_runner.py).
    max_retries: int = 2  # a trial whose process died is tried this many times more
    max_consecutive_failures: int = 3  # a run stops after this many failed trials in a row; 0: never
    node_timeout: float | None = None  # seconds a node may run (local runner); None: no limit
    search_space: dict[str, Any] = dataclasses.field(default_factory=dict)
    module_file: str | None = None  # custom blocks
    # Transfer and budget control during the search.
    weight_sharing: bool = True  # children start from their parent's trained blocks
    # Children also learn from the best trial so far. Off by default: measured on mnist1d,
    # an early, weak teacher lowered its students' accuracy (benchmarks/search_efficiency.py).
    teacher_distillation: bool = False
    early_stopping: str = "median"  # median | none
    # After the search.
    ensemble_size: int = 5
    max_params: int = 0  # distilled student's budget; 0: half the best single model
    distill_epochs: int = 5
    # Knowledge distillation's loss: alpha * cross-entropy(labels) + (1 - alpha) * T^2 * KL at temperature T.
    distill_temperature: float = 2.0
    distill_alpha: float = 0.5
    # mixup: every epoch the teacher labels freshly mixed training examples (function matching).
    distill_augment: str = "none"  # none | mixup (search_algo/distillation.py)
    ensemble_weights: str = "auto"  # auto | bagged | greedy | learned (search_algo/ensemble.py)
    student: Any = None  # a trial id, or an architecture (mapping or JSON); None: chosen from the search
    select: str = "best"  # best | lowest-loss | smallest-within=X (search_algo/selection.py)
    # What the study optimizes (search_algo/objective.py); None: accuracy, or RMSE for regression.
    objective: str | None = None
    # Whose trial files stay on disk: all | best-K | members (search_algo/retention.py).
    keep: str = "best-10"
    # Where and how it runs.
    metadata: str | None = None  # None: DIR/metadata.sqlite; or mysql://user:pw@host:port/db
    runner: str = "local"  # local | beam

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise UserError(f"seed must be an integer from 0 to {MAX_SEED}, got {self.seed!r}")
        for name in ("rounds", "trainers", "trials_per_trainer", "epochs", "ensemble_size", "distill_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if isinstance(self.distill_temperature, bool) or not isinstance(self.distill_temperature, (int, float)) \
                or not self.distill_temperature > 0:
            raise UserError(f"distill-temperature must be a positive number, got {self.distill_temperature!r}")
        if isinstance(self.distill_alpha, bool) or not isinstance(self.distill_alpha, (int, float)) \
                or not 0 <= self.distill_alpha <= 1:
            raise UserError(f"distill-alpha must be a number from 0 to 1, got {self.distill_alpha!r}")
        self.distill_temperature, self.distill_alpha = float(self.distill_temperature), float(self.distill_alpha)
        if self.max_params < 0:
            raise UserError(f"max-params must be 0 (automatic) or positive, got {self.max_params}")
        for name in ("time_limit", "node_timeout"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise UserError(f"{name.replace('_', '-')} must be positive seconds, got {value!r}")
            # A YAML `2` is an int; the components take seconds as a float.
            setattr(self, name, float(value))
        for name in ("max_retries", "max_consecutive_failures"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UserError(f"{name.replace('_', '-')} must be 0 or a positive integer, got {value!r}")
        from search_algo.objective import OBJECTIVES

        if self.objective is not None:
            self.objective = str(self.objective).strip().lower() or None
        if self.objective is not None and self.objective not in OBJECTIVES:
            raise UserError(f"objective must be one of {', '.join(OBJECTIVES)}, not {self.objective!r}")
        if self.early_stopping not in ("median", "none"):
            raise UserError(f"early-stopping must be median or none, not {self.early_stopping!r}")
        for name in ("weight_sharing", "teacher_distillation"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"{name.replace('_', '-')} must be true or false, got {getattr(self, name)!r}")
        if self.runner not in ("local", "beam"):
            raise UserError(f"runner must be local or beam, not {self.runner!r}")
        from search_algo.distillation import AUGMENTATIONS
        from search_algo.ensemble import WEIGHT_METHODS
        from search_algo.selection import parse_policy

        self.select = str(parse_policy(self.select))
        from search_algo.retention import parse_retention

        self.keep = str(parse_retention(self.keep))
        if self.distill_augment not in AUGMENTATIONS:
            raise UserError(f"distill-augment must be one of {', '.join(AUGMENTATIONS)}, not {self.distill_augment!r}")
        if self.ensemble_weights not in WEIGHT_METHODS:
            raise UserError(f"ensemble-weights must be one of {', '.join(WEIGHT_METHODS)}, not {self.ensemble_weights!r}")
        if isinstance(self.student, dict):
            self.student = json.dumps(self.student, sort_keys=True)
        if self.student is not None and not isinstance(self.student, str):
            raise UserError(f"student must be a trial id or an architecture, got {self.student!r}")
        if not isinstance(self.search_space, dict):
            raise UserError("search_space must be a mapping (blocks, min_depth, max_depth, ...)")

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
        # A URI as well: gs://b/data/train.csv -> train.
        return path_stem(source.data.rstrip("/*")) or "study"
    return "study"


PATH_SETTINGS = ("data", "test_data", "module_file")
# `seed` is the study's (proposals, training, splits): top level, copied into the source.
_SOURCE_FIELDS = {f.name for f in dataclasses.fields(SourceConfig)} - {"seed"}
_TOP_FIELDS = {f.name for f in dataclasses.fields(StudyConfig)} - {"source"}


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
    try:
        return StudyConfig(source=source, **values)
    except TypeError as error:
        raise UserError(f"{where}: {error}") from None
