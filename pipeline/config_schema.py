"""The study config's schema: every key of a study's YAML file, its type,
allowed values, default and meaning, in one place.

Everything else derives from it: `pipeline/config.py` validates config files
and flags with it, `model-search run` takes its flags' defaults, choices and
help from it, and `python -m pipeline.config_docs` writes docs/config.md and
docs/config.schema.json from it. A default lives here and nowhere else: the
components receive every value from the pipeline factory. (The data keys'
SourceConfig keeps defaults for code that builds one directly; a test keeps
them equal to these.)

Values are checked strictly (YAML `yes` is no number, `"2"` no integer): a
config file is the user's, and a silent conversion would hide a typo.
"""

from __future__ import annotations

import json
import typing
from typing import Any, Literal, Optional, Union

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.fields import FieldInfo

from components.ingest.builtin import DATASETS as BUILTIN_DATASETS
from components.ingest.sources import SOURCE_KINDS
from pipeline import beam_args
from pipeline.metadata_uri import MYSQL_FORM, PASSWORD_HELP
from search_algo import objective
from search_algo.algorithms import ALGORITHM_NAMES
from search_algo.budget_schedule import SCHEDULES as BUDGET_SCHEDULES
from search_algo.early_stopping import RULES as EARLY_STOPPING_RULES
from search_algo.ensemble import WEIGHT_METHODS
from search_algo.errors import UserError
from search_algo.retention import parse_retention
from search_algo.selection import parse_policy
from search_algo.time_budget import DURATION_FORMS, parse_duration

# NumPy rejects negative seeds, and its legacy seeding (keras.utils.set_random_seed)
# anything past 32 bits; 31 bits, like the per-trial seeds derived from it
# (search_algo/proposals.py), also fit a signed 32-bit integer anywhere.
MAX_SEED = 2**31 - 1
# search_algo/distillation.py's AUGMENTATIONS, written out: that module loads
# Keras, which the CLI must not wait for to print --help
# (tests/pipeline/test_config_schema.py keeps the two equal).
DISTILL_AUGMENTATIONS = ("none", "mixup")
OBJECTIVES = tuple(objective.OBJECTIVES)

# Groups of keys, in the order docs/config.md shows them.
STUDY = "study"
DATA = "data"
SEARCH = "search"
FAILURES = "when trials fail"
AFTER_SEARCH = "ensemble and distillation"
WHERE = "where it runs"
GROUPS = (STUDY, DATA, SEARCH, FAILURES, AFTER_SEARCH, WHERE)
GROUP_KEY = "group"


def setting(default: Any = None, *, description: str, group: str, **constraints: Any) -> Any:
    """One key: its default, a one-sentence description and its group."""
    if "default_factory" in constraints:
        return Field(description=description, json_schema_extra={GROUP_KEY: group}, **constraints)
    return Field(default, description=description, json_schema_extra={GROUP_KEY: group}, **constraints)


# How a value of these keys must look, said once for every way it can be
# wrong (a wrong type, an item out of range, a failed parse); other keys'
# requirements follow from their type and bounds (`requirement`).
REQUIREMENTS = {
    # Only the type is checked here: ingestion names the built-in data sets when one is unknown.
    "dataset": f"must be the name of a built-in data set: {', '.join(BUILTIN_DATASETS)}",
    "split_ratios": "must be three non-negative numbers [train, eval, test] summing to 1, the train share positive",
    "image_size": "must be [height, width], two positive integers",
    "student": "must be a trial id or an architecture (a mapping, or JSON)",
    "select": "must be best, lowest-loss or smallest-within=X (X >= 0: points, or percent for rmse, mae and log_loss)",
    "keep": "must be all, members or best-K with K a positive integer (e.g. best-10)",
    "time_budget": f"must be {DURATION_FORMS}",
    "search_space": "must be a mapping (blocks, min_depth, max_depth, ...)",
    "beam_pipeline_args": "must be Beam flags, in one string split like a shell or a list (e.g. "
    "\"--direct_num_workers=2 --direct_running_mode=multi_processing\")",
}


class AudioSettings(BaseModel):
    """How WAV clips become log-mel spectrograms."""

    model_config = ConfigDict(extra="forbid")

    sample_rate: int = setting(16000, description="clips are resampled to this many samples per second",
                               group=DATA, strict=True, ge=1)
    seconds: Optional[float] = setting(
        None, description="clips are cut or padded to this many seconds; unset: the longest clip of the data set, "
        "at most max_seconds", group=DATA, strict=True, gt=0)
    max_seconds: float = setting(10.0, description="the longest clip length in seconds when seconds is unset",
                                 group=DATA, strict=True, gt=0)
    n_mels: int = setting(40, description="mel bands of the spectrogram", group=DATA, strict=True, ge=1)
    frame_ms: float = setting(25.0, description="spectrogram frame length in milliseconds", group=DATA,
                              strict=True, gt=0)
    step_ms: float = setting(10.0, description="spectrogram frame step in milliseconds", group=DATA,
                             strict=True, gt=0)


class DataSettings(BaseModel):
    """What to ingest and how."""

    # The keys of components/ingest/sources.py's SourceConfig but its seed,
    # which is the study's (tests/pipeline/test_config_schema.py keeps them equal).
    model_config = ConfigDict(extra="forbid")

    dataset: Optional[str] = setting(
        description="a built-in data set (see `model-search datasets`); give this or data", group=DATA,
        examples=list(BUILTIN_DATASETS))
    data: Optional[str] = setting(
        description="a CSV file, a folder of class folders (images or WAV) or a TFRecord glob, local or a URI "
        "(gs://...); a relative path in a config file is relative to the file", group=DATA)
    kind: Optional[Literal[SOURCE_KINDS]] = setting(
        description="what data holds; unset: detected from its name or contents", group=DATA)
    label: Optional[str] = setting(
        description="the label column (CSV) or key (TFRecord); unset: a column named label, target, class or y",
        group=DATA)
    task: Optional[Literal["classification", "regression"]] = setting(
        description="what the label asks for; unset: detected from the label", group=DATA)
    test_data: Optional[str] = setting(
        description="a separate test set of the same kind as data; relative to the config file like data",
        group=DATA)
    split_ratios: list[float] = setting(
        default_factory=lambda: [0.8, 0.1, 0.1],
        description="train, eval and test shares of the data, summing to 1; with a separate test set only "
        "train:eval counts", group=DATA, min_length=3, max_length=3)
    image_size: Optional[list[int]] = setting(
        description="resize images to [height, width] pixels; unset: the most common size, at most 64 pixels a side",
        group=DATA, min_length=2, max_length=2)
    color_mode: Literal["auto", "grayscale", "rgb"] = setting(
        "auto", description="image channels; auto: grayscale when every image is, else rgb", group=DATA)
    audio: AudioSettings = setting(default_factory=AudioSettings, description="how WAV clips become log-mel "
                                   "spectrograms: sample_rate, seconds, max_seconds, n_mels, frame_ms, step_ms",
                                   group=DATA)

    @field_validator("split_ratios", mode="before")
    @classmethod
    def _three_numbers(cls, value: Any) -> Any:
        # Strict per item: a bool or a string is no share of the data.
        if isinstance(value, (list, tuple)) and not all(_is_number(v) for v in value):
            raise ValueError("not numbers")
        return value

    @field_validator("split_ratios")
    @classmethod
    def _shares_of_one(cls, value: list[float]) -> list[float]:
        if any(v < 0 for v in value) or abs(sum(value) - 1.0) > 1e-6 or value[0] <= 0:
            raise ValueError("not shares of one")
        return [float(v) for v in value]

    @field_validator("image_size", mode="before")
    @classmethod
    def _two_sizes(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)) and not all(_is_integer(v) and v >= 1 for v in value):
            raise ValueError("not two positive integers")
        return value


class StudySettings(DataSettings):
    """A study: what to search on, how to search, what to do with the results, and where it runs."""

    model_config = ConfigDict(extra="forbid", title="model-search study config")

    study: Optional[str] = setting(
        description="the study's name; a new run of a study continues its search; unset: named after the data",
        group=STUDY)
    output: Optional[str] = setting(description="the run directory; unset: runs/<study>", group=STUDY)
    seed: int = setting(0, description="seed of the splits, the proposals and training", group=STUDY,
                        strict=True, ge=0, le=MAX_SEED)
    data_source: Optional[DataSettings] = setting(
        description="the data keys grouped in one mapping, as an alternative to the top level, where a key wins",
        group=DATA)

    # The search: R rounds of (Proposer -> N trainers, T trials each). The default budget, 3 rounds of
    # 2 x 2 trials of 10 epochs, was chosen on eval: in the committed beam records on mnist1d
    # (benchmarks/results/search_efficiency.json, rounds of 4 trials of 10 epochs) the best eval accuracy
    # after 12 trials has median 0.973 over 3 seeds, after 8 trials 0.951.
    algorithm: Literal[ALGORITHM_NAMES] = setting("beam", description="the search algorithm (see docs/algorithms.md)",
                                                  group=SEARCH)
    rounds: int = setting(3, description="rounds of proposals; each round proposes trainers x trials_per_trainer "
                          "trials", group=SEARCH, strict=True, ge=1)
    trainers: int = setting(2, description="trainers per round, run concurrently", group=SEARCH, strict=True, ge=1)
    trials_per_trainer: int = setting(
        2, description="trials a trainer trains per round, on average: a round's trials are dealt costliest first "
        "(parameters x epochs) to the least loaded trainer", group=SEARCH, strict=True, ge=1)
    epochs: int = setting(10, description="training epochs per trial", group=SEARCH, strict=True, ge=1)
    time_limit: Optional[float] = setting(
        description="per-trial time limit in seconds, enforced from outside the trial (a few seconds of grace); a "
        "trial over it is recorded as failed; unset: no limit", group=SEARCH, strict=True, gt=0)
    # Text or a number, read as seconds by `_seconds_of_budget` (the JSON schema takes both).
    time_budget: Optional[Union[float, str]] = setting(
        description="the run's wall-clock budget: 300 (seconds), 20m, 1h or 1h30m; rounds become a maximum - the "
        "search proposes and trains until the budget less a reserve for ensembling, distillation, evaluation and "
        "push is spent, later rounds pass through, the student's epochs fit what remains; counted from the run's "
        "start, also when it is resumed (see docs/usage.md); unset: no budget", group=SEARCH,
        examples=["20m", "1h", 300])
    search_space: dict[str, Any] = setting(
        default_factory=dict, description="blocks, depths, block arguments and hyperparameters to search (see "
        "docs/search_space.md); empty: the defaults for the data's input kind", group=SEARCH)
    module_file: Optional[str] = setting(
        description="a Python file registering custom blocks; relative to the config file", group=SEARCH)
    weight_sharing: bool = setting(True, description="children start from their parent's trained blocks",
                                   group=SEARCH, strict=True)
    # Off by default: measured on mnist1d, an early, weak teacher lowered its
    # students' accuracy (benchmarks/search_efficiency.py).
    teacher_distillation: bool = setting(
        False, description="children also learn from the best trial so far's soft predictions (classification; "
        "a weak early teacher hurt in the benchmark)", group=SEARCH, strict=True)
    early_stopping: Literal[EARLY_STOPPING_RULES] = setting(
        "median", description="median: stop a trial whose best eval score is below the median of earlier trials "
        "at the same epoch, after a third of its epochs; none: never", group=SEARCH)
    budget_schedule: Literal[BUDGET_SCHEDULES] = setting(
        "none", description="asha: new trials train the bottom rung's epochs, and each round first promotes the "
        "best 1/reduction_factor of each rung to the next (continuing their own weights), up to epochs; none: "
        "every trial trains epochs (see docs/algorithms.md)", group=SEARCH)
    reduction_factor: int = setting(3, description="asha: the top 1/reduction_factor of a rung is promoted, and "
                                    "the rungs are epochs divided by reduction_factor again and again",
                                    group=SEARCH, strict=True, ge=2)
    min_epochs: Optional[int] = setting(
        description="asha: the fewest epochs a new trial trains (no rung below it); unset: epochs / "
        "reduction_factor^2, at least 1", group=SEARCH, strict=True, ge=1)
    max_params: int = setting(0, description="no candidate may have more parameters: proposals over it are not "
                              "trained, and the chosen model (single, ensemble or student) is within it; 0: no "
                              "limit", group=SEARCH, strict=True, ge=0)
    max_latency_ms: Optional[float] = setting(
        description="no candidate may take longer for one example on CPU (batch 1; estimated before training, "
        "measured again through the serving signature before the choice); unset: no limit", group=SEARCH,
        strict=True, gt=0)
    objective: Optional[Literal[OBJECTIVES]] = setting(
        description="what the study optimizes, on eval (search_algo/objective.py): accuracy, log_loss, roc_auc "
        "(two classes) or macro_f1 for classification; rmse or mae for regression; unset: accuracy, or rmse for "
        "regression", group=SEARCH)

    # When things go wrong (components/trainer/trial_cache.py, pipeline/parallel_runner.py).
    # Retries as Optuna's RetryFailedTrialCallback; 3 failures in a row is
    # KerasTuner's max_consecutive_failed_trials default.
    max_retries: int = setting(
        2, description="a trial whose process died (out of memory, a crash) is tried this many times more, then "
        "recorded as failed with the reason", group=FAILURES, strict=True, ge=0)
    max_consecutive_failures: int = setting(
        3, description="stop the run when this many trials in a row failed, with their reasons; 0: never",
        group=FAILURES, strict=True, ge=0)
    node_timeout: Optional[float] = setting(
        description="stop the run when one node (e.g. a trainer) runs longer than this many seconds (local "
        "runner); unset: no limit", group=FAILURES, strict=True, gt=0)

    # After the search.
    ensemble_size: int = setting(5, description="the most ensemble members", group=AFTER_SEARCH, strict=True, ge=1)
    ensemble_weights: Literal[WEIGHT_METHODS] = setting(
        "auto", description="bagged or plain greedy selection, learned weights, an equal-weight average of the "
        "best, or auto: whichever of bagged, average and learned scores best on cross-validation within the eval "
        "split", group=AFTER_SEARCH)
    student_max_params: int = setting(
        0, description="the distilled student's parameter budget; 0: half the best single model (never above "
        "max_params)", group=AFTER_SEARCH, strict=True, ge=0)
    distill_epochs: int = setting(5, description="the student's training epochs", group=AFTER_SEARCH, strict=True,
                                  ge=1)
    # The student's loss: alpha * cross-entropy(labels) + (1 - alpha) * T^2 * KL at temperature T.
    distill_temperature: float = setting(2.0, description="distillation temperature T: higher softens the "
                                         "teacher's labels", group=AFTER_SEARCH, strict=True, gt=0)
    distill_alpha: float = setting(0.5, description="weight of the true labels in the student's loss; the "
                                   "teacher's soft labels get 1 - alpha", group=AFTER_SEARCH, strict=True, ge=0, le=1)
    distill_augment: Literal[DISTILL_AUGMENTATIONS] = setting(
        "none", description="mixup: each epoch the student learns the teacher's labels of freshly mixed training "
        "examples (function matching; slower per epoch, closer to the teacher)", group=AFTER_SEARCH)
    student: Optional[Union[str, dict[str, Any]]] = setting(
        description="the distilled student: a trial id, or an architecture as a mapping or JSON; unset: chosen "
        "from the search within student_max_params", group=AFTER_SEARCH)
    select: str = setting(
        "best", description="which candidate becomes the run's model, on eval metrics: best (the best objective), "
        "lowest-loss (cross-entropy) or smallest-within=X (the smallest within X points of the best objective, "
        "or X percent for rmse, mae and log_loss)",
        group=AFTER_SEARCH, examples=["best", "lowest-loss", "smallest-within=0.5"])

    # Where and how it runs.
    metadata: Optional[str] = setting(
        description=f"ML Metadata: a SQLite path or {MYSQL_FORM} ({PASSWORD_HELP}); unset: DIR/metadata.sqlite",
        group=WHERE)
    runner: Literal["local", "beam"] = setting(
        "local", description="local: the trainers of a round run concurrently; beam: TFX's BeamDagRunner",
        group=WHERE)
    beam_pipeline_args: Optional[Union[str, list[str]]] = setting(
        description="Beam arguments of the Beam components (the ingest and TFX's Evaluator): one string split like "
        "a shell (a config file may give a list); e.g. --direct_num_workers=2 "
        "--direct_running_mode=multi_processing, or for compile --runner=DataflowRunner --project=... (see "
        "docs/cluster.md); unset: Beam's DirectRunner in one process",
        group=WHERE, examples=["--direct_num_workers=2 --direct_running_mode=multi_processing"])
    keep: str = setting(
        "best-10", description="whose trial files stay once the run has finished: all, best-K (the K best and "
        "those the study uses) or members (only those the study uses); see `model-search gc`", group=WHERE,
        examples=["best-10", "members", "all"])

    @field_validator("student", mode="before")
    @classmethod
    def _student_as_text(cls, value: Any) -> Any:
        # The Distiller takes text; an architecture mapping travels as JSON.
        return json.dumps(value, sort_keys=True) if isinstance(value, dict) else value

    @field_validator("time_budget", mode="before")
    @classmethod
    def _seconds_of_budget(cls, value: Any) -> Optional[float]:
        return None if value is None else parse_duration(value)

    @field_validator("beam_pipeline_args")
    @classmethod
    def _beam_flags(cls, value: Union[str, list[str], None]) -> Optional[list[str]]:
        if value is None:
            return None
        return beam_args.split(value) if isinstance(value, str) else beam_args.checked(value)

    @field_validator("select")
    @classmethod
    def _normalise_select(cls, value: str) -> str:
        return _parsed(parse_policy, value)

    @field_validator("keep")
    @classmethod
    def _normalise_keep(cls, value: str) -> str:
        return _parsed(parse_retention, value)

    @model_validator(mode="after")
    def _min_epochs_within_epochs(self) -> "StudySettings":
        if self.min_epochs is not None and self.min_epochs > self.epochs:
            raise ValueError(f"min_epochs {self.min_epochs} is above epochs {self.epochs}")
        return self

    @model_validator(mode="after")
    def _data_source_under_the_top_level(self) -> "StudySettings":
        if self.data_source is not None:
            for key in self.data_source.model_fields_set - self.model_fields_set:
                setattr(self, key, getattr(self.data_source, key))
        return self


def _parsed(parse, value: str) -> str:
    """The canonical spelling (`Best-3` -> `best-3`); pydantic reports a
    ValueError against the key, a UserError would escape it."""
    try:
        return str(parse(value))
    except UserError as error:
        raise ValueError(str(error)) from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------
# Reading the schema: for error messages, CLI flags and the reference docs.

SOURCE_KEYS = tuple(DataSettings.model_fields)


def field_at(path: tuple[str, ...]) -> Optional[FieldInfo]:
    """The field a key path names (`("audio", "n_mels")`), or None."""
    model: Any = StudySettings
    field = None
    for key in path:
        if model is None or key not in model.model_fields:
            return None
        field = model.model_fields[key]
        model = nested_model(field)
    return field


def nested_model(field: FieldInfo) -> Optional[type[BaseModel]]:
    base = value_type(field)
    return base if isinstance(base, type) and issubclass(base, BaseModel) else None


def value_type(field: FieldInfo) -> Any:
    """The field's type without Optional (None means unset, not a value)."""
    annotation = field.annotation
    if typing.get_origin(annotation) is Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = members[0] if len(members) == 1 else Union[tuple(members)]
    return annotation


def choices(field: FieldInfo) -> Optional[tuple[Any, ...]]:
    """The allowed values of a Literal key, else None."""
    base = value_type(field)
    return typing.get_args(base) if typing.get_origin(base) is Literal else None


def bounds(field: FieldInfo) -> dict[str, Any]:
    """{"ge": 1} and the like, from the field's constraints."""
    found = {}
    for item in field.metadata:
        for name in ("ge", "gt", "le", "lt"):
            if isinstance(item, getattr(annotated_types, name.capitalize())):
                found[name] = getattr(item, name)
    return found


def requirement(key: str, field: FieldInfo) -> str:
    """What a value of `key` must be, as `must be ...`."""
    if key in REQUIREMENTS:
        return REQUIREMENTS[key]
    allowed = choices(field)
    if allowed:
        names = [str(a) for a in allowed]
        return f"must be {names[0]} or {names[1]}" if len(names) == 2 else f"must be one of {', '.join(names)}"
    base, limits = value_type(field), bounds(field)
    if base is bool:
        return "must be true or false"
    if base is int:
        if "ge" in limits and "le" in limits:
            return f"must be an integer from {limits['ge']} to {limits['le']}"
        if limits.get("ge") == 1:
            return "must be a positive integer"
        if limits.get("ge") == 0:
            return "must be 0 or a positive integer"
        return "must be an integer"
    if base is float:
        if "ge" in limits and "le" in limits:
            return f"must be a number from {limits['ge']:g} to {limits['le']:g}"
        if limits.get("gt") == 0:
            return "must be a positive number"
        return "must be a number"
    if base is str:
        return "must be text"
    if nested_model(field):
        return "must be a mapping"
    return f"must be {type_name(field)}"


def type_name(field: FieldInfo) -> str:
    """The key's type in words, for docs/config.md."""
    base = value_type(field)
    if choices(field):
        return "string"
    if nested_model(field):
        return "mapping"
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if base in names:
        return names[base]
    origin, args = typing.get_origin(base), typing.get_args(base)
    if origin is list:
        item = names.get(args[0], "value")
        length = next((m.min_length for m in field.metadata if isinstance(m, annotated_types.MinLen)), None)
        return f"list of {length} {item}s" if length else f"list of {item}s"
    if origin is dict:
        return "mapping"
    if origin is Union:
        return " or ".join("mapping" if typing.get_origin(a) is dict
                           else "list of strings" if typing.get_origin(a) is list else names.get(a, "value")
                           for a in typing.get_args(base))
    return "value"


def default_of(key: str) -> Any:
    """The default of a top-level key, for the few places outside a study
    config that need the same value (e.g. `model-search gc --keep`)."""
    return StudySettings.model_fields[key].get_default(call_default_factory=True)


def group_of(field: FieldInfo) -> str:
    return (field.json_schema_extra or {}).get(GROUP_KEY, STUDY)


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors validate a study config with."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    schema.update(StudySettings.model_json_schema())
    return schema
