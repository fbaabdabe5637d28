"""TFX's standard Evaluator (TFMA), validating the chosen model against the
latest blessed model of the study's earlier runs."""

# Set by the SearchEvaluator on the chosen model; read by the executor (which
# imports TFMA, so these live here for importers that do not need it).
LABEL_KEY_PROPERTY = "label_key"
TASK_PROPERTY = "task"
