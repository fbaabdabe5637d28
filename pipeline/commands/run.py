"""`model-search run`: run a study end to end on this machine."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

log = logging.getLogger(__name__)

# The summary's time categories (pipeline/time_spent.py), written out: that
# module loads the search code, which `--help` must not wait for.
TIME_CATEGORIES = ("training", "evaluation", "post_search", "ingest", "orchestration")


def parse_split(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.8,0.1,0.1, got {text!r}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.8,0.1,0.1, got {text!r}")
    return parts


def parse_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(p) for p in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH like 32x32, got {text!r}") from None
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"image size must be positive, got {text!r}")
    return height, width


# A study key's flag, where it is not `--key-with-dashes`.
FLAG_NAMES = {"split_ratios": "--split"}
# One of these names the data: a built-in data set or the user's own.
SOURCE_FLAGS = ("dataset", "data")
# The study flags as `--help` groups them. Their defaults, choices and help
# come from the study config's schema (pipeline/config_schema.py); a flag
# left out is None, so that the config file's value or the schema's default holds.
STUDY_FLAG_GROUPS = {
    None: ("output", "study", "seed"),
    "data": ("label", "task", "test_data", "split_ratios", "image_size", "color_mode"),
    "search": ("algorithm", "rounds", "trainers", "trials_per_trainer", "epochs", "time_budget", "time_limit",
               "max_retries", "max_consecutive_failures", "node_timeout", "module_file", "weight_sharing",
               "teacher_distillation", "early_stopping", "objective", "budget_schedule", "reduction_factor",
               "min_epochs", "max_params", "max_latency_ms"),
    "ensemble and distillation": ("ensemble_size", "student_max_params", "distill_epochs", "distill_temperature",
                                  "distill_alpha", "distill_augment", "ensemble_weights", "student", "select"),
    "where it runs": ("metadata", "runner", "beam_pipeline_args"),
}
# What the schema cannot tell argparse: how a value is written on the command line.
FLAG_OPTIONS = {
    "split_ratios": {"type": parse_split, "metavar": "TRAIN,EVAL,TEST"},
    "image_size": {"type": parse_size, "metavar": "HxW"},
    "time_budget": {"metavar": "DURATION"},
    "time_limit": {"metavar": "SECONDS"},
    "node_timeout": {"metavar": "SECONDS"},
    "max_latency_ms": {"metavar": "MS"},
    "keep": {"metavar": "all|best-K|members"},
    # One string: `--beam-pipeline-args="--direct_num_workers=2"` (with `=`, as argparse
    # would take a lone flag after a space for one of its own).
    "beam_pipeline_args": {"metavar": '"ARGS"'},
}


def flag_name(key: str) -> str:
    return FLAG_NAMES.get(key) or f"--{key.replace('_', '-')}"


def add_study_flag(parser, key: str) -> None:
    """`--KEY`, with its help, choices and type from the schema."""
    from pipeline import config_schema

    field = config_schema.StudySettings.model_fields[key]
    options: dict = {"dest": key, "default": None, "help": flag_help(key)}
    value_type = config_schema.value_type(field)
    if value_type is bool:
        options["action"] = argparse.BooleanOptionalAction
    elif config_schema.choices(field):
        options["choices"] = config_schema.choices(field)
    elif value_type in (int, float):
        options["type"] = value_type
    options.update(FLAG_OPTIONS.get(key, {}))
    parser.add_argument(flag_name(key), **options)


def flag_help(key: str) -> str:
    """The schema's description, and its default as a flag would spell it."""
    from pipeline import config_schema

    field = config_schema.StudySettings.model_fields[key]
    default = config_schema.default_of(key)
    if default is None:
        return field.description
    if isinstance(default, bool):
        shown = "on" if default else "off"
    elif isinstance(default, (list, tuple)):
        shown = ",".join(f"{v:g}" for v in default)
    else:
        shown = f"{default:g}" if isinstance(default, float) else str(default)
    return f"{field.description} (default {shown})"


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="a study config file (YAML, keys in docs/config.md); flags override it")
    for group_name, keys in STUDY_FLAG_GROUPS.items():
        group = parser.add_argument_group(group_name) if group_name else parser
        if group_name == "data":
            source = group.add_mutually_exclusive_group()
            for key in SOURCE_FLAGS:
                add_study_flag(source, key)
        for key in keys:
            add_study_flag(group, key)


# `keep` is `run`'s alone (see `register`).
STUDY_FLAGS = SOURCE_FLAGS + tuple(key for keys in STUDY_FLAG_GROUPS.values() for key in keys) + ("keep",)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a study: ingest the data, search, ensemble, distil, evaluate, push",
        description="Run a study on this machine (TFX LocalDagRunner, SQLite ML Metadata in the run directory). "
        "Re-running the same command reuses finished work.",
    )
    add_study_arguments(parser)
    # Not a study argument of `compile`: a cluster's pipeline root is not cleaned up.
    add_study_flag(parser, "keep")
    # What this command does with an unfinished run: actions, not study settings (no config keys).
    unfinished = parser.add_argument_group("an unfinished run (by default it is resumed)")
    choice = unfinished.add_mutually_exclusive_group()
    choice.add_argument("--retry-failed", action="store_true",
                        help="resume it and train its failed trials again (once their cause is fixed)")
    choice.add_argument("--new-run", action="store_true",
                        help="leave it as it is and start the study's next run")
    parser.add_argument("--json", action="store_true", help="print a summary as JSON on stdout")
    parser.add_argument("--quiet", action="store_true",
                        help="no live view of the run; its INFO lines go to DIR/run.log, warnings and errors to stderr")
    parser.set_defaults(handler=run)


def study_config_from_args(args: argparse.Namespace, check_local_paths: bool = True):
    from pipeline import config as study_config

    file_values = study_config.load_config_file(args.config) if args.config else {}
    overrides = {key: getattr(args, key, None) for key in STUDY_FLAGS}
    if overrides["dataset"] or overrides["data"]:
        # A source on the command line replaces the config file's source.
        file_values = {k: v for k, v in file_values.items() if k not in ("dataset", "data", "data_source")}
    config = study_config.build_config(file_values, overrides, config_file=args.config, flag_names=FLAG_NAMES)
    from search_algo.errors import DataError, UserError

    if not config.source.dataset and not config.source.data:
        raise UserError("say what to search on: --dataset NAME or --data PATH (or a config file that does)")
    # Cheap checks before TFX starts: a typo should not cost the start-up time.
    if config.source.dataset:
        from components.ingest.builtin import parse_source

        parse_source(config.source.dataset)  # the name and its options; the data is generated in the ingest
    for location in (config.source.data, config.source.test_data) if check_local_paths else ():
        if location and not any(c in location for c in "*?[") and not _data_exists(location):
            raise DataError(f"{location}: no such file or directory")
    if check_local_paths and config.module_file and not os.path.isfile(config.module_file):
        raise UserError(f"--module-file {config.module_file}: no such file")
    if check_local_paths:
        _check_run_directory(config.output_dir)
    return config


def _check_run_directory(output_dir: str) -> None:
    """The run directory must be a directory, or creatable as one: a file
    there, or where one of its parents should be, stops the run here."""
    from search_algo.errors import UserError

    existing = os.path.abspath(output_dir)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if os.path.isdir(existing):
        return
    if existing == os.path.abspath(output_dir):
        raise UserError(f"--output {output_dir}: is a file, not a run directory")
    raise UserError(f"--output {output_dir}: cannot create it, {existing} is a file")


def _data_exists(location: str) -> bool:
    """A local path is checked with os.path, before TensorFlow loads; a URI
    (gs://...) needs the file-system layer."""
    from components.ingest import sources

    if not sources.is_uri(location):
        return os.path.exists(location)
    from tfx.dsl.io import fileio

    with sources.file_system_errors(location):
        return fileio.exists(location)


def run(args: argparse.Namespace) -> int:
    config = study_config_from_args(args)
    from search_algo.errors import UserError

    for key, flag in (("time_limit", "--time-limit"), ("time_budget", "--time-budget")):
        if config.runner == "beam" and getattr(config, key):
            # The watchdog stops a trial past its limit (under a time budget,
            # every trial has one) by killing its process: under TFX's
            # BeamDagRunner that process is this command.
            raise UserError(f"{flag} needs --runner local (the default): with --runner beam the trials run "
                            "inside this command's process, which a trial's time limit would kill")
    from pipeline import beam_args, local_runner, run_view

    # A remote Beam runner without this project's image stops before the run directory is written.
    beam_args.complete(config.beam_pipeline_args or [])
    show_progress = run_view.view_wanted(sys.stderr, json_output=args.json, quiet=args.quiet, debug=args.debug)
    summary = local_runner.run_study(config, debug=args.debug, show_progress=show_progress, quiet_log=args.quiet,
                                     retry_failed=args.retry_failed, new_run=args.new_run,
                                     started_at=getattr(args, "started_at", None))
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    trials = summary["trials"]
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in summary["chosen_metrics"]["test"].items())
    skipped = f", {trials['skipped']} not started for the time budget" if trials.get("skipped") else ""
    print(f"{summary['study']} {summary['run_id']}: {trials['total']} trials "
          f"({trials['completed']} completed, {trials['failed']} failed{skipped}) in {summary['seconds']:.0f} s")
    estimate = (summary["chosen_metrics"].get("estimate") or {}).get(summary["objective"])
    by = (f"by its estimated eval {summary['objective']} {estimate:.4g} ({summary['chosen_estimated_by']})"
          if isinstance(estimate, (int, float)) and summary.get("chosen_estimated_by")
          else f"by eval {summary['objective']}")
    print(f"  chosen:      {summary['chosen']} {by}; {summary['num_params']} params; test (reported only) {metrics}")
    print(f"  leaderboard: {summary['leaderboard']}")
    pushed = "pushed by this run" if summary.get("pushed") else "not pushed: worse than the latest blessed model"
    print(f"  serving:     {summary['serving'] or 'nothing pushed'} ({pushed})")
    spent = summary.get("time_spent")
    if spent:
        print(f"  time:        {spent['wall_seconds']:.0f} s: " + ", ".join(
            f"{name.replace('_', '-')} {spent[name]:.0f} s" for name in TIME_CATEGORIES))
    budget = summary.get("time_budget")
    if budget:
        verdict = "kept" if budget["kept"] else f"NOT kept (over by more than {budget['tolerance_seconds']:.0f} s)"
        print(f"  budget:      {budget['budget']}, {budget['elapsed_seconds']:.0f} s since the run started: {verdict}; "
              f"{budget['rounds_searched']} of {budget['max_rounds']} rounds searched, "
              f"{budget['reserve_seconds']:.0f} s reserved after the search")
    print(f"  metadata:    {summary['metadata']}")
    print(f"  trials:      model-search trials --output {summary['output']}")
    return 0
