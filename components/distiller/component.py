"""Distiller component."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import component_spec, standard_artifacts

from components import artifacts, fan_in
from components.distiller import executor as distiller_executor
from components.keys import (
    ALPHA_KEY, AUGMENT_KEY, CODE_VERSION_KEY, DATASET_SPEC_KEY, EPOCHS_KEY, EXAMPLES_KEY, MAX_PARAMS_KEY,
    MODEL_KEY, MODULE_FILE_KEY, OBJECTIVE_KEY, SEED_KEY, STUDENT_KEY, STUDY_HISTORY_KEY, TEACHER_KEY,
    TEMPERATURE_KEY, TIME_BUDGET_KEY, TRIALS_PREFIX,
)


class DistillerSpec(component_spec.ComponentSpec):
    """The Distiller component's parameters, inputs and outputs (names in components/keys.py)."""

    PARAMETERS = {
        OBJECTIVE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        MAX_PARAMS_KEY: component_spec.ExecutionParameter(type=int),
        EPOCHS_KEY: component_spec.ExecutionParameter(type=int),
        TEMPERATURE_KEY: component_spec.ExecutionParameter(type=float),
        ALPHA_KEY: component_spec.ExecutionParameter(type=float),
        AUGMENT_KEY: component_spec.ExecutionParameter(type=str),
        SEED_KEY: component_spec.ExecutionParameter(type=int),
        CODE_VERSION_KEY: component_spec.ExecutionParameter(type=str),
        MODULE_FILE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        STUDENT_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        # The run's wall-clock budget in seconds (0 or unset: none).
        TIME_BUDGET_KEY: component_spec.ExecutionParameter(type=float, optional=True),
    }
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATASET_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DatasetSpec),
        TEACHER_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        STUDY_HISTORY_KEY: component_spec.ChannelParameter(type=artifacts.TrialHistory),
    }
    OUTPUTS = {MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model)}


class Distiller(base_component.BaseComponent):
    """Trains a small student on the ensemble's soft labels (output `model`).

    Inputs: `examples`, `dataset_spec`, `teacher` (the ensemble),
    `study_history` and `trials_0..k` (where a student is chosen from).
    Parameters: `epochs`, `temperature`, `alpha` (weight of the true labels),
    `augment` (none | mixup), `max_params` (the student's budget; 0: half the
    best single model), `student` (a trial id or an architecture as JSON),
    `seed`, `code_version`, `module_file`, `objective` (the study's metric; unset: accuracy or RMSE),
    `time_budget_seconds` (the run's budget: `epochs` becomes a maximum, fitted
    into the time left before the evaluation's share, with early stopping on
    the eval loss; with too little time, or no ensemble, no student is made -
    the output model then has no files and says why, `skipped_reason`).
    """

    SPEC_CLASS = DistillerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(distiller_executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        dataset_spec: types.BaseChannel,
        teacher: types.BaseChannel,
        study_history: types.BaseChannel,
        trials: Sequence[types.BaseChannel],
        epochs: int,
        seed: int,
        code_version: str,
        *,
        # Study settings, always given: their defaults live in pipeline/config_schema.py.
        max_params: int,
        temperature: float,
        alpha: float,
        augment: str,
        module_file: Optional[str] = None,
        student: Optional[str] = None,
        objective: Optional[str] = None,
        time_budget_seconds: Union[None, float, data_types.RuntimeParameter] = None,
    ):
        spec_class = fan_in.spec_with_fan_in(DistillerSpec, TRIALS_PREFIX, len(trials), artifacts.TrialResults)
        super().__init__(
            spec=spec_class(
                objective=objective,
                examples=examples,
                dataset_spec=dataset_spec,
                teacher=teacher,
                study_history=study_history,
                max_params=max_params,
                epochs=epochs,
                temperature=temperature,
                alpha=alpha,
                augment=augment,
                seed=seed,
                code_version=code_version,
                module_file=module_file,
                student=student,
                time_budget_seconds=time_budget_seconds,
                model=types.Channel(type=standard_artifacts.Model),
                **fan_in.fan_in_channels(TRIALS_PREFIX, trials),
            )
        )
