"""TFX's standard Evaluator (TFMA), validating the chosen model against the
study's model in production (the latest pushed, from the study record)."""

