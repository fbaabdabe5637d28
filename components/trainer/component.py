"""Trainer component: one per (round, trainer) - the fan-out."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import component_spec, standard_artifacts

from components import artifacts, fan_in
from components.trainer import executor as trainer_executor
from components.keys import (
    CODE_VERSION_KEY, DATASET_SPEC_KEY, EARLY_STOPPING_KEY, EPOCHS_KEY, EXAMPLES_KEY, HISTORY_PREFIX,
    MAX_CONSECUTIVE_FAILURES_KEY, MAX_RETRIES_KEY, MODULE_FILE_KEY, OBJECTIVE_KEY, PROPOSALS_KEY, STUDY_HISTORY_KEY,
    NODES_AFTER_KEY, STUDY_RECORD_KEY, TENSORBOARD_KEY, TIME_BUDGET_KEY, TIME_LIMIT_KEY, TRAINER_INDEX_KEY,
    TRIALS_KEY, TRIAL_CACHE_KEY,
)


class TrialTrainerSpec(component_spec.ComponentSpec):
    """The TrialTrainer component's parameters, inputs and outputs (names in components/keys.py)."""

    PARAMETERS = {
        OBJECTIVE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        TRAINER_INDEX_KEY: component_spec.ExecutionParameter(type=int),
        EPOCHS_KEY: component_spec.ExecutionParameter(type=int),
        TIME_LIMIT_KEY: component_spec.ExecutionParameter(type=float, optional=True),
        TRIAL_CACHE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        CODE_VERSION_KEY: component_spec.ExecutionParameter(type=str),
        MODULE_FILE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        # Each trial logs its curves and hyperparameters to <root>/<trial id>.
        TENSORBOARD_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        # Each finished trial is added to the study record (components/study_record.py).
        STUDY_RECORD_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        # A trial whose process died is tried this many times more.
        MAX_RETRIES_KEY: component_spec.ExecutionParameter(type=int),
        # The run stops after this many failed trials in a row (0: never).
        MAX_CONSECUTIVE_FAILURES_KEY: component_spec.ExecutionParameter(type=int),
        # median | none: the reference curves are the history's.
        EARLY_STOPPING_KEY: component_spec.ExecutionParameter(type=str),
        # The run's wall-clock budget in seconds (0 or unset: none): no trial
        # starts that would not finish within its search time.
        TIME_BUDGET_KEY: component_spec.ExecutionParameter(type=float, optional=True),
        NODES_AFTER_KEY: component_spec.ExecutionParameter(type=int, optional=True),
    }
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATASET_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DatasetSpec),
        PROPOSALS_KEY: component_spec.ChannelParameter(type=artifacts.Proposals),
        # The trials of the study's earlier runs; with `history_0..k` every
        # trial before this round: parents, teachers, early stopping's reference.
        STUDY_HISTORY_KEY: component_spec.ChannelParameter(type=artifacts.TrialHistory),
    }
    OUTPUTS = {
        TRIALS_KEY: component_spec.ChannelParameter(type=artifacts.TrialResults),
    }


class TrialTrainer(base_component.BaseComponent):
    """Trains its share (`trainer_index`) of a round's `proposals`, each trial
    isolated, and outputs their records and files (`trials`, TrialResults).

    Inputs: `examples`, `dataset_spec`, `proposals`, `study_history` and
    `history_0..k` (this run's earlier trainers' trials: with the study's
    earlier trials, where parents and teachers are and the early-stopping
    reference). Parameters: `epochs`, `early_stopping` (median | none),
    `time_limit_seconds` (per trial; 0 or unset: none), `trial_cache_root`
    (finished trials reused by a resumed run), `code_version`, `module_file`,
    `tensorboard_root`, `study_record` (where finished trials are recorded
    for later runs), `max_retries` (attempts after a process death),
    `max_consecutive_failures` (0: no limit), `objective` (the study's
    metric, recorded per epoch and used by early stopping; unset: accuracy
    or RMSE), `time_budget_seconds` (the run's wall-clock budget: each
    trial's time limit is capped at the search time left, and a proposal
    expected not to finish in it is not started but recorded as skipped,
    search_algo/time_budget.py; `nodes_after`, the later rounds' Proposers
    and trainers, end the search time early enough for them to pass through).
    """

    SPEC_CLASS = TrialTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(trainer_executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        dataset_spec: types.BaseChannel,
        proposals: types.BaseChannel,
        study_history: types.BaseChannel,
        history: Sequence[types.BaseChannel],
        trainer_index: int,
        epochs: Union[int, data_types.RuntimeParameter],
        code_version: str,
        *,
        # Study settings, always given: their defaults live in pipeline/config_schema.py.
        max_retries: int,
        max_consecutive_failures: int,
        early_stopping: str,
        time_limit_seconds: Union[None, float, data_types.RuntimeParameter] = None,
        trial_cache_root: Optional[str] = None,
        module_file: Optional[str] = None,
        tensorboard_root: Optional[str] = None,
        study_record: Optional[str] = None,
        objective: Optional[str] = None,
        time_budget_seconds: Union[None, float, data_types.RuntimeParameter] = None,
        nodes_after: int = 0,
    ):
        spec_class = fan_in.spec_with_fan_in(TrialTrainerSpec, HISTORY_PREFIX, len(history), artifacts.TrialResults)
        super().__init__(
            spec=spec_class(
                objective=objective,
                time_budget_seconds=time_budget_seconds,
                nodes_after=nodes_after,
                study_history=study_history,
                early_stopping=early_stopping,
                examples=examples,
                dataset_spec=dataset_spec,
                proposals=proposals,
                trainer_index=trainer_index,
                epochs=epochs,
                time_limit_seconds=time_limit_seconds,
                trial_cache_root=trial_cache_root,
                code_version=code_version,
                module_file=module_file,
                tensorboard_root=tensorboard_root,
                study_record=study_record,
                max_retries=max_retries,
                max_consecutive_failures=max_consecutive_failures,
                trials=types.Channel(type=artifacts.TrialResults),
                **fan_in.fan_in_channels(HISTORY_PREFIX, history),
            )
        )
