"""Wiring: the pipeline factory, the runners, the CLI and config loading."""
