"""TFX's standard Evaluator (TFMA), validating the chosen model against the
latest blessed model of the study's earlier runs."""
