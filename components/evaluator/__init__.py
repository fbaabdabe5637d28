"""SearchEvaluator: scores best single, ensemble and distilled; chooses on eval, reports test."""
