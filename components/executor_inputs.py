"""What most executors read first: user modules, the data and every trial so far."""

from __future__ import annotations

from typing import Any, Mapping

from tfx import types
from tfx.types import artifact_utils

from components import fan_in, trial_files
from components.ingest.executor import read_dataset_spec
from search_algo import module_file as user_modules
from search_algo.dataset_spec import DatasetSpec
from search_algo.trial import Trial

EXAMPLES_KEY = "examples"
DATASET_SPEC_KEY = "dataset_spec"
PRIOR_KEY = "prior_trials"
MODULE_FILE_KEY = "module_file"


def load_user_modules(exec_properties: Mapping[str, Any]) -> None:
    """Registers custom blocks before any architecture is read or built."""
    if exec_properties.get(MODULE_FILE_KEY):
        user_modules.load_module_file(exec_properties[MODULE_FILE_KEY])


def dataset_spec(input_dict: Mapping[str, list[types.Artifact]]) -> DatasetSpec:
    return read_dataset_spec(artifact_utils.get_single_instance(input_dict[DATASET_SPEC_KEY]))


def examples_and_spec(input_dict: Mapping[str, list[types.Artifact]]) -> tuple[types.Artifact, DatasetSpec]:
    return artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY]), dataset_spec(input_dict)


def study_trials(input_dict: Mapping[str, list[types.Artifact]], prefix: str) -> list[Trial]:
    """The study's earlier runs' trials, then this run's, from the fan-in inputs."""
    return trial_files.trials_of(list(input_dict.get(PRIOR_KEY, [])) + fan_in.fan_in_artifacts(prefix, input_dict))
