"""What most executors read first: user modules, the data and every trial so far."""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

from tfx import types
from tfx.types import artifact_utils

from components import fan_in, trial_files
from components.dataset_spec_artifact import read_dataset_spec
from components.keys import (
    BUDGET_SPENT_PROPERTY, DATASET_SPEC_KEY, EXAMPLES_KEY, MODULE_FILE_KEY, OBJECTIVE_KEY, RUN_ID_PROPERTY,
    STARTED_AT_PROPERTY, NODES_AFTER_KEY, STOPPED_PROPERTY, STUDY_HISTORY_KEY, TIME_BUDGET_KEY,
)
from search_algo import module_file as user_modules
from search_algo import objective as objectives
from search_algo.dataset_spec import DatasetSpec
from search_algo.errors import RunFailing
from search_algo.time_budget import TimeBudget
from search_algo.trial import Trial

log = logging.getLogger(__name__)


def load_user_modules(exec_properties: Mapping[str, Any]) -> None:
    """Registers custom blocks before any architecture is read or built."""
    if exec_properties.get(MODULE_FILE_KEY):
        user_modules.load_module_file(exec_properties[MODULE_FILE_KEY])


def dataset_spec(input_dict: Mapping[str, list[types.Artifact]]) -> DatasetSpec:
    return read_dataset_spec(artifact_utils.get_single_instance(input_dict[DATASET_SPEC_KEY]))


def objective(exec_properties: Mapping[str, Any], spec: DatasetSpec) -> objectives.Objective:
    """The study's objective for this data; UserError when it does not fit."""
    return objectives.resolve(exec_properties.get(OBJECTIVE_KEY), spec.task,
                              spec.num_classes if spec.task == "classification" else None)


def examples_and_spec(input_dict: Mapping[str, list[types.Artifact]]) -> tuple[types.Artifact, DatasetSpec]:
    return artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY]), dataset_spec(input_dict)


def run_id(input_dict: Mapping[str, list[types.Artifact]]) -> str:
    """This run's id, as the StudyHistory node resolved it."""
    history = artifact_utils.get_single_instance(input_dict[STUDY_HISTORY_KEY])
    return history.get_string_custom_property(RUN_ID_PROPERTY)


def time_budget(input_dict: Mapping[str, list[types.Artifact]],
                exec_properties: Mapping[str, Any]) -> Optional[TimeBudget]:
    """The run's time budget, counted from the start the StudyHistory node
    stamped; None without a budget."""
    seconds = float(exec_properties.get(TIME_BUDGET_KEY) or 0)
    if not seconds:
        return None
    history = artifact_utils.get_single_instance(input_dict[STUDY_HISTORY_KEY])
    started = history.get_float_custom_property(STARTED_AT_PROPERTY)
    if not started:
        # A run begun before budgets existed, resumed: its start is unknown.
        log.warning("the run's start time is unknown (its history was written by an older version): "
                    "its time budget is not applied")
        return None
    return TimeBudget(seconds, started, int(exec_properties.get(NODES_AFTER_KEY) or 0))


def earlier_trials(input_dict: Mapping[str, list[types.Artifact]]) -> list[Trial]:
    """The study's earlier runs' trials (paths absolute), if the node has the history."""
    trials = []
    for history in input_dict.get(STUDY_HISTORY_KEY, []):
        trials += trial_files.read_history(history)
    return trials


def this_runs_trials(input_dict: Mapping[str, list[types.Artifact]], prefix: str) -> list[Trial]:
    """This run's trials so far: every trainer output on the `<prefix>_<i>` inputs."""
    return trial_files.trials_of(fan_in.fan_in_artifacts(prefix, input_dict))


def study_trials(input_dict: Mapping[str, list[types.Artifact]], prefix: str) -> list[Trial]:
    """The study's earlier runs' trials, then this run's."""
    return earlier_trials(input_dict) + this_runs_trials(input_dict, prefix)


def search_time_spent_earlier(input_dict: Mapping[str, list[types.Artifact]], prefix: str) -> bool:
    """Whether an earlier round of this run proposed nothing because the search
    time was spent. The search then stays ended: a later round's search
    deadline is later only by what the rounds between take to pass through,
    which is an allowance, not a measurement (search_algo/time_budget.py)."""
    return any(item.get_int_custom_property(BUDGET_SPENT_PROPERTY)
               for item in fan_in.fan_in_artifacts(prefix, input_dict))


def stop_if_a_trainer_stopped(input_dict: Mapping[str, list[types.Artifact]], prefix: str) -> None:
    """A trainer stops its share when too many trials failed in a row; the
    next node (Proposer, Ensembler) then stops the run with the reasons."""
    for item in fan_in.fan_in_artifacts(prefix, input_dict):
        message = item.get_string_custom_property(STOPPED_PROPERTY)
        if message:
            raise RunFailing(f"stopped: {message}")
