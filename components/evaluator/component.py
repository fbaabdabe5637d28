"""SearchEvaluator component: scores the candidates and chooses one by the selection policy."""

from __future__ import annotations

from typing import Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import component_spec, standard_artifacts

from components import artifacts, fan_in
from components.evaluator import executor as evaluator_executor
from search_algo.constraints import Constraints
from components.keys import (
    CHOSEN_MODEL_KEY, CODE_VERSION_KEY, CONSTRAINTS_KEY, DATASET_SPEC_KEY, DISTILLED_KEY, ENSEMBLE_KEY, EXAMPLES_KEY,
    LEADERBOARD_KEY, OBJECTIVE_KEY, SELECT_KEY, STUDY_HISTORY_KEY, STUDY_KEY, STUDY_RECORD_KEY, TRIALS_PREFIX,
)


class SearchEvaluatorSpec(component_spec.ComponentSpec):
    """The SearchEvaluator component's parameters, inputs and outputs (names in components/keys.py)."""

    PARAMETERS = {
        OBJECTIVE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        STUDY_KEY: component_spec.ExecutionParameter(type=str),
        # Where the model in production is found and the leaderboard recorded.
        STUDY_RECORD_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        CODE_VERSION_KEY: component_spec.ExecutionParameter(type=str),
        SELECT_KEY: component_spec.ExecutionParameter(type=str),
        # JSON {max_params, max_latency_ms}: a candidate over a limit is not eligible.
        CONSTRAINTS_KEY: component_spec.ExecutionParameter(type=str),
    }
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATASET_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DatasetSpec),
        ENSEMBLE_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        DISTILLED_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        STUDY_HISTORY_KEY: component_spec.ChannelParameter(type=artifacts.TrialHistory),
    }
    OUTPUTS = {
        LEADERBOARD_KEY: component_spec.ChannelParameter(type=artifacts.Leaderboard),
        CHOSEN_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
    }


class SearchEvaluator(base_component.BaseComponent):
    """Scores the three candidates - the best single trial, the ensemble and the
    distilled student - on the eval and test splits, chooses one on eval by the
    selection policy, and outputs the `leaderboard` and the `chosen_model`
    (carrying the study's model in production as its baseline).

    Inputs: `examples`, `dataset_spec`, `ensemble`, `distilled`,
    `study_history` (the run's id, earlier runs' trials) and `trials_0..k`.
    Parameters: `study`, `study_record`, `select` (best | lowest-loss |
    smallest-within=X), `code_version`, `objective` (the study's metric; unset: accuracy or RMSE),
    `constraints` (the study's limits; a candidate over one is not eligible).
    """

    SPEC_CLASS = SearchEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(evaluator_executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        dataset_spec: types.BaseChannel,
        ensemble: types.BaseChannel,
        distilled: types.BaseChannel,
        study_history: types.BaseChannel,
        trials: Sequence[types.BaseChannel],
        study: str,
        code_version: str,
        *,
        # A study setting, always given: its default lives in pipeline/config_schema.py.
        select: str,
        max_params: int,
        max_latency_ms: Optional[float],
        study_record: Optional[str] = None,
        objective: Optional[str] = None,
    ):
        spec_class = fan_in.spec_with_fan_in(SearchEvaluatorSpec, TRIALS_PREFIX, len(trials), artifacts.TrialResults)
        super().__init__(
            spec=spec_class(
                objective=objective,
                examples=examples,
                dataset_spec=dataset_spec,
                ensemble=ensemble,
                distilled=distilled,
                study_history=study_history,
                study=study,
                study_record=study_record,
                code_version=code_version,
                select=select,
                constraints=Constraints(max_params, max_latency_ms or 0.0).to_json(),
                leaderboard=types.Channel(type=artifacts.Leaderboard),
                chosen_model=types.Channel(type=standard_artifacts.Model),
                **fan_in.fan_in_channels(TRIALS_PREFIX, trials),
            )
        )
