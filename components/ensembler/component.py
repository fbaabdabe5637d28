"""Ensembler component: the fan-in that sees every trainer's trials."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import component_spec, standard_artifacts

from components import artifacts, fan_in
from components.ensembler import executor as ensembler_executor
from components.keys import (
    CODE_VERSION_KEY, DATASET_SPEC_KEY, EXAMPLES_KEY, MAX_MEMBERS_KEY, MODEL_KEY, OBJECTIVE_KEY, POOL_SIZE_KEY,
    STUDY_HISTORY_KEY, TIME_BUDGET_KEY, TRIALS_PREFIX, WEIGHTS_KEY,
)


class EnsemblerSpec(component_spec.ComponentSpec):
    """The Ensembler component's parameters, inputs and outputs (names in components/keys.py)."""

    PARAMETERS = {
        OBJECTIVE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        MAX_MEMBERS_KEY: component_spec.ExecutionParameter(type=int),
        POOL_SIZE_KEY: component_spec.ExecutionParameter(type=int),
        WEIGHTS_KEY: component_spec.ExecutionParameter(type=str),
        CODE_VERSION_KEY: component_spec.ExecutionParameter(type=str),
        # The run's wall-clock budget in seconds (0 or unset: none).
        TIME_BUDGET_KEY: component_spec.ExecutionParameter(type=float, optional=True),
    }
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATASET_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DatasetSpec),
        STUDY_HISTORY_KEY: component_spec.ChannelParameter(type=artifacts.TrialHistory),
    }
    OUTPUTS = {MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model)}


class Ensembler(base_component.BaseComponent):
    """Chooses ensemble members among the study's best trials on the eval split
    and exports their weighted average as one servable model (output `model`).

    Inputs: `examples`, `dataset_spec`, `study_history` (earlier runs' trials)
    and `trials_0..k` (this run's trainers; a run none of whose trials
    completed fails here, so it pushes nothing). Parameters: `max_members`,
    `pool_size` (the best trials considered), `weights_method` (auto | bagged |
    greedy | learned | average), `code_version`, `objective` (the study's metric; unset: accuracy or RMSE);
    the members' weights are fitted on log loss or squared error whatever
    the objective (a smooth score that does not overfit a small eval split).
    `time_budget_seconds` (the run's budget): with too little time left
    before the evaluation's share, no ensemble is made - the output model
    then has no files and says why (`skipped_reason`), and the Distiller and
    SearchEvaluator go on without it.
    """

    SPEC_CLASS = EnsemblerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(ensembler_executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        dataset_spec: types.BaseChannel,
        study_history: types.BaseChannel,
        trials: Sequence[types.BaseChannel],
        code_version: str,
        *,
        # Study settings, always given: their defaults live in pipeline/config_schema.py.
        max_members: int,
        weights_method: str,
        pool_size: int = 10,
        objective: Optional[str] = None,
        time_budget_seconds: Union[None, float, data_types.RuntimeParameter] = None,
    ):
        spec_class = fan_in.spec_with_fan_in(EnsemblerSpec, TRIALS_PREFIX, len(trials), artifacts.TrialResults)
        super().__init__(
            spec=spec_class(
                objective=objective,
                examples=examples,
                dataset_spec=dataset_spec,
                study_history=study_history,
                max_members=max_members,
                pool_size=pool_size,
                weights_method=weights_method,
                code_version=code_version,
                time_budget_seconds=time_budget_seconds,
                model=types.Channel(type=standard_artifacts.Model),
                **fan_in.fan_in_channels(TRIALS_PREFIX, trials),
            )
        )
