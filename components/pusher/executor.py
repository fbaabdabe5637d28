"""TFX's Pusher executor, then one study-record object: what this run chose,
whether TFX's Evaluator blessed it against the model in production, and
whether and where it was pushed. The next run's baseline is the latest model
pushed, so the record is what guards production across runs."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.components.pusher import executor as tfx_pusher_executor
from tfx.types import artifact_utils, standard_component_specs as std

from components.study_record import StudyRecord
from components.keys import (
    CANDIDATE_PROPERTY, NUM_PARAMS_PROPERTY, PUSHED_DESTINATION_PROPERTY, PUSHED_PROPERTY, RUN_ID_PROPERTY,
    STUDY_PROPERTY,
)

STUDY_RECORD_CONFIG = "study_record"


def validation_record(model: types.Artifact, blessing: types.Artifact, pushed: types.Artifact) -> dict[str, Any]:
    was_pushed = bool(pushed.get_int_custom_property(PUSHED_PROPERTY))
    metrics = {}
    for name in model.mlmd_artifact.custom_properties:
        if name.startswith("eval_"):
            # Through the Artifact API: Kubeflow v2 hands properties over as JSON values.
            metrics[name[len("eval_"):]] = model.get_float_custom_property(name)
    return {
        "run_id": model.get_string_custom_property(RUN_ID_PROPERTY),
        "study": model.get_string_custom_property(STUDY_PROPERTY),
        "candidate": model.get_string_custom_property(CANDIDATE_PROPERTY),
        "model_uri": model.uri,
        "num_params": model.get_int_custom_property(NUM_PARAMS_PROPERTY),
        "eval": metrics,
        "blessed": bool(blessing.get_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY)),
        "baseline_model": blessing.get_string_custom_property(
            evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY) or None,
        "pushed": was_pushed,
        "pushed_to": pushed.get_string_custom_property(PUSHED_DESTINATION_PROPERTY) if was_pushed else None,
    }


class Executor(tfx_pusher_executor.Executor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        config = json.loads(exec_properties.get(std.CUSTOM_CONFIG_KEY) or "null") or {}
        if not config.get(STUDY_RECORD_CONFIG):
            return
        pushed = artifact_utils.get_single_instance(output_dict[std.PUSHED_MODEL_KEY])
        record = validation_record(
            artifact_utils.get_single_instance(input_dict[std.MODEL_KEY]),
            artifact_utils.get_single_instance(input_dict[std.MODEL_BLESSING_KEY]),
            pushed,
        )
        StudyRecord(config[STUDY_RECORD_CONFIG]).add_validation(record, writer=pushed.uri)
