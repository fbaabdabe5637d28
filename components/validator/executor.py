"""TFX's Evaluator executor, with the evaluation config completed at run time.

The label key and the task (hence the metric and its direction) are known only
after ingestion, so the SearchEvaluator records them on the chosen model
(`label_key`, `task`) and this executor writes them into the EvalConfig
before TFX's own executor runs TFMA: the chosen model must do at least as
well as the baseline (the study's model in production) on the eval split -
accuracy for classification, mean squared error for regression.
"""

from __future__ import annotations

from typing import Any, Dict, List

import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.components.evaluator import executor as tfx_evaluator_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import path_utils, proto_utils
from components.keys import BASELINE_MODEL_PROPERTY, LABEL_KEY_PROPERTY, TASK_PROPERTY


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
        inputs = with_baseline(input_dict, model)
        super().Do(inputs, output_dict, properties)
        if inputs is not input_dict:
            # The baseline came from the study record, not from ML Metadata: it
            # has no artifact id (its URI is recorded), and Kubeflow v2's
            # entrypoint can only translate ids of the task's own inputs.
            blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.BLESSING_KEY])
            blessing.mlmd_artifact.custom_properties.pop(evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY,
                                                         None)


def with_baseline(input_dict: Dict[str, List[types.Artifact]], model: types.Artifact) -> Dict[str, List[types.Artifact]]:
    """The inputs with the study's model in production as the baseline, as
    the SearchEvaluator found it in the study record (no ML Metadata query:
    the same works where components cannot reach ML Metadata)."""
    uri = model.get_string_custom_property(BASELINE_MODEL_PROPERTY)
    if not uri or input_dict.get(standard_component_specs.BASELINE_MODEL_KEY):
        return input_dict
    if not fileio.exists(path_utils.serving_model_path(uri)):
        # Validating without it could replace a better model in production.
        raise RuntimeError(f"the study's model in production is gone (nothing at {path_utils.serving_model_path(uri)}); "
                           "restore it, or start a new study")
    baseline = standard_artifacts.Model()
    baseline.uri = uri
    return {**input_dict, standard_component_specs.BASELINE_MODEL_KEY: [baseline]}
