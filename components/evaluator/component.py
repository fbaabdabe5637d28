"""SearchEvaluator component: scores the candidates and chooses one by the selection policy."""

from __future__ import annotations

from typing import Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import component_spec, standard_artifacts

from components import artifacts, fan_in
from components.evaluator import executor as evaluator_executor
from components.evaluator.executor import (
    CHOSEN_MODEL_KEY, CODE_VERSION_KEY, DATASET_SPEC_KEY, DISTILLED_KEY, ENSEMBLE_KEY,
    EXAMPLES_KEY, LEADERBOARD_KEY, PRIOR_KEY, RUN_ID_KEY, SELECT_KEY, STUDY_KEY, TRIALS_PREFIX,
)


class SearchEvaluatorSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        RUN_ID_KEY: component_spec.ExecutionParameter(type=str),
        STUDY_KEY: component_spec.ExecutionParameter(type=str),
        CODE_VERSION_KEY: component_spec.ExecutionParameter(type=str),
        SELECT_KEY: component_spec.ExecutionParameter(type=str),
    }
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATASET_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DatasetSpec),
        ENSEMBLE_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        DISTILLED_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        PRIOR_KEY: component_spec.ChannelParameter(type=artifacts.TrialResults, optional=True),
    }
    OUTPUTS = {
        LEADERBOARD_KEY: component_spec.ChannelParameter(type=artifacts.Leaderboard),
        CHOSEN_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
    }


class SearchEvaluator(base_component.BaseComponent):
    SPEC_CLASS = SearchEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(evaluator_executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        dataset_spec: types.BaseChannel,
        ensemble: types.BaseChannel,
        distilled: types.BaseChannel,
        trials: Sequence[types.BaseChannel],
        run_id: str,
        study: str,
        code_version: str,
        prior_trials: Optional[types.BaseChannel] = None,
        select: str = "best",
    ):
        spec_class = fan_in.spec_with_fan_in(SearchEvaluatorSpec, TRIALS_PREFIX, len(trials), artifacts.TrialResults)
        super().__init__(
            spec=spec_class(
                examples=examples,
                dataset_spec=dataset_spec,
                ensemble=ensemble,
                distilled=distilled,
                prior_trials=prior_trials,
                run_id=run_id,
                study=study,
                code_version=code_version,
                select=select,
                leaderboard=types.Channel(type=artifacts.Leaderboard),
                chosen_model=types.Channel(type=standard_artifacts.Model),
                **fan_in.fan_in_channels(TRIALS_PREFIX, trials),
            )
        )
