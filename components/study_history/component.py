"""StudyHistory component: one per run, before the first Proposer."""

from __future__ import annotations

from typing import Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import component_spec

from components import artifacts
from components.study_history import executor as history_executor
from components.keys import CODE_VERSION_KEY, HISTORY_KEY, RUN_ID_KEY, STUDY_KEY, STUDY_RECORD_KEY


class StudyHistorySpec(component_spec.ComponentSpec):
    """The StudyHistory component's parameters, inputs and outputs (names in components/keys.py)."""

    PARAMETERS = {
        # Empty: derive one (a scheduled run on a cluster).
        RUN_ID_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        STUDY_KEY: component_spec.ExecutionParameter(type=str),
        STUDY_RECORD_KEY: component_spec.ExecutionParameter(type=str),
        CODE_VERSION_KEY: component_spec.ExecutionParameter(type=str),
    }
    INPUTS = {}
    OUTPUTS = {HISTORY_KEY: component_spec.ChannelParameter(type=artifacts.TrialHistory)}


class StudyHistory(base_component.BaseComponent):
    """Resolves the run's id and reads the study record: every trial of the
    study's earlier runs, which the Proposers, the Ensembler, the Distiller and
    the SearchEvaluator build on (output `history`, a TrialHistory).

    Parameters: `run_id` (a string, or a runtime parameter; empty means "derive
    one from this execution"), `study`, `study_record` (the record's URI,
    <pipeline root>/StudyRecord/<study>), `code_version`.
    """

    SPEC_CLASS = StudyHistorySpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(history_executor.Executor)

    def __init__(self, run_id: Union[str, data_types.RuntimeParameter], study: str, study_record: str,
                 code_version: str):
        super().__init__(
            spec=StudyHistorySpec(
                run_id=run_id,
                study=study,
                study_record=study_record,
                code_version=code_version,
                history=types.Channel(type=artifacts.TrialHistory),
            )
        )
