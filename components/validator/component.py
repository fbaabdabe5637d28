"""TFX's standard Evaluator with the executor that completes its config at run time."""

from __future__ import annotations

from typing import Optional

import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components import Evaluator
from tfx.dsl.components.base import executor_spec

from components.validator import executor as validator_executor

SERVING_SIGNATURE = "serving_default"
VALIDATION_SPLIT = "eval"


def base_eval_config() -> tfma.EvalConfig:
    """The part known before the data is read; the executor adds the label
    key, the model output and the metric."""
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=SERVING_SIGNATURE, model_type=tfma.TF_GENERIC)],
        slicing_specs=[tfma.SlicingSpec()],
    )


class ModelValidator(Evaluator):
    """TFX's Evaluator (TFMA): evaluates the chosen model on the eval split (the
    push decision is a choice, so never on test) against `baseline_model`."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(validator_executor.Executor)

    def __init__(self, examples: types.BaseChannel, model: types.BaseChannel,
                 baseline_model: Optional[types.BaseChannel] = None):
        super().__init__(
            examples=examples,
            model=model,
            baseline_model=baseline_model,
            example_splits=[VALIDATION_SPLIT],
            eval_config=base_eval_config(),
        )
