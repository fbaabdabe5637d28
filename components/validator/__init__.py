"""TFX's standard Evaluator (TFMA), validating the chosen model against the
study's model in production (the latest pushed, from the study record)."""

# Set by the SearchEvaluator on the chosen model; read by the executor (which
# imports TFMA, so these live here for importers that do not need it).
LABEL_KEY_PROPERTY = "label_key"
TASK_PROPERTY = "task"
# The URI of the study's model in production (a Model artifact's URI), if any.
BASELINE_MODEL_PROPERTY = "baseline_model_uri"
