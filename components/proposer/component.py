"""Proposer component: one per round."""

from __future__ import annotations

import json
from typing import Any, Optional, Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import component_spec

from components import artifacts, fan_in
from components.proposer import executor as proposer_executor
from search_algo.constraints import Constraints
from components.keys import (
    ALGORITHM_KEY, BUDGET_SCHEDULE_KEY, CODE_VERSION_KEY, CONSTRAINTS_KEY, DATASET_SPEC_KEY, EPOCHS_KEY,
    MIN_EPOCHS_KEY, REDUCTION_FACTOR_KEY, HISTORY_PREFIX, MODULE_FILE_KEY,
    NUM_TRAINERS_KEY, OBJECTIVE_KEY, PROPOSALS_KEY, ROUND_KEY, SEARCH_SPACE_KEY, SEED_KEY, STUDY_HISTORY_KEY,
    NODES_AFTER_KEY, STUDY_KEY, TEACHER_DISTILLATION_KEY, TIME_BUDGET_KEY, TRIALS_PER_TRAINER_KEY,
    WEIGHT_SHARING_KEY,
)


class ProposerSpec(component_spec.ComponentSpec):
    """The Proposer component's parameters, inputs and outputs (names in components/keys.py)."""

    PARAMETERS = {
        OBJECTIVE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        ROUND_KEY: component_spec.ExecutionParameter(type=int),
        STUDY_KEY: component_spec.ExecutionParameter(type=str),
        ALGORITHM_KEY: component_spec.ExecutionParameter(type=str),
        NUM_TRAINERS_KEY: component_spec.ExecutionParameter(type=int),
        TRIALS_PER_TRAINER_KEY: component_spec.ExecutionParameter(type=int),
        SEED_KEY: component_spec.ExecutionParameter(type=int),
        SEARCH_SPACE_KEY: component_spec.ExecutionParameter(type=str),
        CODE_VERSION_KEY: component_spec.ExecutionParameter(type=str),
        MODULE_FILE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        # 1: a child starts from its parent's trained blocks.
        WEIGHT_SHARING_KEY: component_spec.ExecutionParameter(type=int),
        # 1: children also learn from the best trial so far (classification).
        TEACHER_DISTILLATION_KEY: component_spec.ExecutionParameter(type=int),
        # The trainers' epochs: the budget schedule's top rung.
        EPOCHS_KEY: component_spec.ExecutionParameter(type=int),
        BUDGET_SCHEDULE_KEY: component_spec.ExecutionParameter(type=str),
        REDUCTION_FACTOR_KEY: component_spec.ExecutionParameter(type=int),
        MIN_EPOCHS_KEY: component_spec.ExecutionParameter(type=int),
        # JSON {max_params, max_latency_ms}; 0 means no limit.
        CONSTRAINTS_KEY: component_spec.ExecutionParameter(type=str),
        # The run's wall-clock budget in seconds (0 or unset: none): past its
        # search time the round proposes nothing.
        TIME_BUDGET_KEY: component_spec.ExecutionParameter(type=float, optional=True),
        NODES_AFTER_KEY: component_spec.ExecutionParameter(type=int, optional=True),
    }
    INPUTS = {
        DATASET_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DatasetSpec),
        # The run's id and the trials of the study's earlier runs.
        STUDY_HISTORY_KEY: component_spec.ChannelParameter(type=artifacts.TrialHistory),
    }
    OUTPUTS = {
        PROPOSALS_KEY: component_spec.ChannelParameter(type=artifacts.Proposals),
    }


class Proposer(base_component.BaseComponent):
    """Asks the search algorithm for one round's trials (output `proposals`).

    Inputs: `dataset_spec`, `study_history` (the run's id and the study's
    earlier trials) and `history_0..k` (this run's earlier trainers' trials).
    Parameters: `round`, `study`, `algorithm`, `num_trainers`,
    `trials_per_trainer` (the round proposes their product), `seed`,
    `search_space` (JSON), `code_version`, `module_file` (custom blocks),
    `weight_sharing`, `teacher_distillation`,
    `objective` (the study's metric; unset: accuracy or RMSE), `epochs`,
    `budget_schedule`, `reduction_factor` and `min_epochs` (multi-fidelity
    promotion, search_algo/budget_schedule.py) and `constraints` (the limits
    no proposed candidate may exceed, search_algo/constraints.py) and
    `time_budget_seconds` (the run's wall-clock budget: once its search time
    is spent the round proposes nothing and its trainers pass through,
    search_algo/time_budget.py; `nodes_after`, the later rounds' Proposers
    and trainers, end this round's search time early enough for them to
    pass through).
    """

    SPEC_CLASS = ProposerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(proposer_executor.Executor)

    def __init__(
        self,
        dataset_spec: types.BaseChannel,
        study_history: types.BaseChannel,
        history: Sequence[types.BaseChannel],
        round_index: int,
        study: str,
        algorithm: str,
        num_trainers: int,
        trials_per_trainer: int,
        seed: int,
        code_version: str,
        *,
        # Study settings, always given: their defaults live in pipeline/config_schema.py.
        weight_sharing: bool,
        teacher_distillation: bool,
        epochs: Union[int, data_types.RuntimeParameter],
        budget_schedule: str,
        reduction_factor: int,
        min_epochs: Optional[int],
        max_params: int,
        max_latency_ms: Optional[float],
        search_space: Optional[dict[str, Any]] = None,
        module_file: Optional[str] = None,
        objective: Optional[str] = None,
        time_budget_seconds: Union[None, float, data_types.RuntimeParameter] = None,
        nodes_after: int = 0,
    ):
        spec_class = fan_in.spec_with_fan_in(ProposerSpec, HISTORY_PREFIX, len(history), artifacts.TrialResults)
        super().__init__(
            spec=spec_class(
                objective=objective,
                dataset_spec=dataset_spec,
                study_history=study_history,
                round=round_index,
                study=study,
                algorithm=algorithm,
                num_trainers=num_trainers,
                trials_per_trainer=trials_per_trainer,
                seed=seed,
                search_space=json.dumps(search_space or {}, sort_keys=True),
                code_version=code_version,
                module_file=module_file,
                weight_sharing=int(weight_sharing),
                teacher_distillation=int(teacher_distillation),
                epochs=epochs,
                budget_schedule=budget_schedule,
                reduction_factor=reduction_factor,
                min_epochs=min_epochs or 0,
                constraints=Constraints(max_params, max_latency_ms or 0.0).to_json(),
                time_budget_seconds=time_budget_seconds,
                nodes_after=nodes_after,
                proposals=types.Channel(type=artifacts.Proposals),
                **fan_in.fan_in_channels(HISTORY_PREFIX, history),
            )
        )
