"""TFX's standard Pusher with the executor that records the validation."""

from __future__ import annotations

from typing import Optional

from tfx import types
from tfx.components import Pusher
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2

from components.pusher import executor as pusher_executor


class StudyPusher(Pusher):
    """TFX's Pusher: pushes the `model` to `serving_dir` only if
    `model_blessing` says TFX's Evaluator blessed it, then adds the outcome to
    the study record (`study_record`), where the next run finds its baseline."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(pusher_executor.Executor)

    def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel, serving_dir: str,
                 study_record: Optional[str] = None):
        super().__init__(
            model=model,
            model_blessing=model_blessing,
            push_destination=pusher_pb2.PushDestination(
                filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_dir)),
            custom_config={pusher_executor.STUDY_RECORD_CONFIG: study_record} if study_record else None,
        )
