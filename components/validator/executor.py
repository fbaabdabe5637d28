"""TFX's Evaluator executor, with the evaluation config completed at run time.

The label key and the task (hence the metric and its direction) are known only
after ingestion, so the SearchEvaluator records them on the chosen model
(`label_key`, `task`) and this executor writes them into the EvalConfig
before TFX's own executor runs TFMA: the chosen model must do at least as
well as the baseline (the latest blessed model) on the eval split -
accuracy for classification, mean squared error for regression.
"""

from __future__ import annotations

from typing import Any, Dict, List

import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components.evaluator import executor as tfx_evaluator_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.validator import LABEL_KEY_PROPERTY, TASK_PROPERTY

# Equal to the baseline passes: a re-run that finds the same model pushes it.
TOLERANCE = 1e-10


def validation_metric(task: str) -> tfma.MetricConfig:
    # The value threshold always holds; it is there because TFX's Evaluator
    # drops change thresholds when there is no baseline (the study's first run)
    # and does not validate - nor bless - without any threshold.
    if task == "classification":
        name, direction, tolerance = "SparseCategoricalAccuracy", tfma.MetricDirection.HIGHER_IS_BETTER, -TOLERANCE
        value_threshold = tfma.GenericValueThreshold(lower_bound={"value": 0.0})
    else:
        name, direction, tolerance = "MeanSquaredError", tfma.MetricDirection.LOWER_IS_BETTER, TOLERANCE
        value_threshold = tfma.GenericValueThreshold(upper_bound={"value": 3.0e38})
    return tfma.MetricConfig(
        class_name=name,
        threshold=tfma.MetricThreshold(
            value_threshold=value_threshold,
            change_threshold=tfma.GenericChangeThreshold(direction=direction, absolute={"value": tolerance}),
        ),
    )


def completed_eval_config(eval_config: tfma.EvalConfig, label_key: str, task: str) -> tfma.EvalConfig:
    """A copy with the label key, the model output and the validation metric set."""
    config = tfma.EvalConfig()
    config.CopyFrom(eval_config)
    for model_spec in config.model_specs:
        model_spec.label_key = label_key
        model_spec.prediction_key = "probabilities" if task == "classification" else "predictions"
    del config.metrics_specs[:]
    config.metrics_specs.append(
        tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount"), validation_metric(task)])
    )
    return config


class Executor(tfx_evaluator_executor.Executor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        model = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY])
        eval_config = tfma.EvalConfig()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.EVAL_CONFIG_KEY], eval_config)
        completed = completed_eval_config(
            eval_config,
            label_key=model.get_string_custom_property(LABEL_KEY_PROPERTY),
            task=model.get_string_custom_property(TASK_PROPERTY),
        )
        properties = dict(exec_properties)
        properties[standard_component_specs.EVAL_CONFIG_KEY] = proto_utils.proto_to_json(completed)
        super().Do(input_dict, output_dict, properties)
