"""Trainer component: one per (round, trainer) - the fan-out."""

from __future__ import annotations

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import component_spec, standard_artifacts

from components import artifacts
from components.trainer import executor as trainer_executor
from components.trainer.executor import (
    CODE_VERSION_KEY, DATASET_SPEC_KEY, EPOCHS_KEY, EXAMPLES_KEY, MODULE_FILE_KEY, PROPOSALS_KEY,
    TENSORBOARD_KEY, TIME_LIMIT_KEY, TRAINER_INDEX_KEY, TRIAL_CACHE_KEY, TRIALS_KEY,
)


class TrialTrainerSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        TRAINER_INDEX_KEY: component_spec.ExecutionParameter(type=int),
        EPOCHS_KEY: component_spec.ExecutionParameter(type=int),
        TIME_LIMIT_KEY: component_spec.ExecutionParameter(type=float, optional=True),
        TRIAL_CACHE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        CODE_VERSION_KEY: component_spec.ExecutionParameter(type=str),
        MODULE_FILE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        # Each trial logs its curves and hyperparameters to <root>/<trial id>.
        TENSORBOARD_KEY: component_spec.ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATASET_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DatasetSpec),
        PROPOSALS_KEY: component_spec.ChannelParameter(type=artifacts.Proposals),
    }
    OUTPUTS = {
        TRIALS_KEY: component_spec.ChannelParameter(type=artifacts.TrialResults),
    }


class TrialTrainer(base_component.BaseComponent):
    SPEC_CLASS = TrialTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(trainer_executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        dataset_spec: types.BaseChannel,
        proposals: types.BaseChannel,
        trainer_index: int,
        epochs: int,
        code_version: str,
        time_limit_seconds: Optional[float] = None,
        trial_cache_root: Optional[str] = None,
        module_file: Optional[str] = None,
        tensorboard_root: Optional[str] = None,
    ):
        super().__init__(
            spec=TrialTrainerSpec(
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
                trials=types.Channel(type=artifacts.TrialResults),
            )
        )
