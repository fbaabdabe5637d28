"""`model-search run`: run a study end to end on this machine."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from pipeline import metadata_uri
from search_algo.objective import OBJECTIVES

log = logging.getLogger(__name__)

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


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    source = data.add_mutually_exclusive_group()
    source.add_argument("--dataset", help="a built-in data set (see `model-search datasets`)")
    source.add_argument("--data", help="a CSV file, a folder of class folders (images or WAV), or a TFRecord glob")
    data.add_argument("--label", help="label column (CSV) or key (TFRecord); default: a column named label/target/class/y")
    data.add_argument("--task", choices=("classification", "regression"), help="default: detected from the label")
    data.add_argument("--test-data", dest="test_data", help="a separate test set of the same kind as --data")
    data.add_argument("--split", dest="split_ratios", type=parse_split, metavar="TRAIN,EVAL,TEST",
                      help="split ratios (default 0.8,0.1,0.1; with a separate test set only TRAIN:EVAL counts)")
    data.add_argument("--image-size", dest="image_size", type=parse_size, metavar="HxW",
                      help="resize images to this size (default: the most common size, at most 64 pixels a side)")
    data.add_argument("--color-mode", dest="color_mode", choices=("auto", "grayscale", "rgb"),
                      help="image channels (default auto: grayscale when every image is)")


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="a study config file (YAML); flags override it")
    parser.add_argument("--output", help="the run directory (default runs/<study>)")
    parser.add_argument("--study", help="the study name (default: named after the data); "
                        "a new run of a study continues its search")
    parser.add_argument("--seed", type=int, help="seed for splits, proposals and training (default 0)")
    add_data_arguments(parser)
    search = parser.add_argument_group("search")
    search.add_argument("--algorithm", help="beam (default), evolution, surrogate, random or portfolio; "
                        "see docs/algorithms.md")
    search.add_argument("--rounds", type=int, help="rounds of proposals (default 2)")
    search.add_argument("--trainers", type=int, help="trainers per round, run concurrently (default 2)")
    search.add_argument("--trials-per-trainer", dest="trials_per_trainer", type=int,
                        help="trials each trainer trains per round (default 2)")
    search.add_argument("--epochs", type=int, help="training epochs per trial (default 5)")
    search.add_argument("--time-limit", dest="time_limit", type=float, metavar="SECONDS",
                        help="per-trial time limit, enforced from outside the trial (a few seconds of grace); a "
                        "trial over it is recorded as failed (default none)")
    search.add_argument("--max-retries", dest="max_retries", type=int,
                        help="a trial whose process died (out of memory, a crash) is tried this many times more, "
                        "then recorded failed with the reason (default 2)")
    search.add_argument("--max-consecutive-failures", dest="max_consecutive_failures", type=int,
                        help="stop the run when this many trials in a row failed, with their reasons (default 3; "
                        "0: never)")
    search.add_argument("--node-timeout", dest="node_timeout", type=float, metavar="SECONDS",
                        help="stop the run when one node (e.g. a trainer) runs longer (default none; local runner)")
    search.add_argument("--module-file", dest="module_file", help="a Python file registering custom blocks")
    search.add_argument("--weight-sharing", dest="weight_sharing", action=argparse.BooleanOptionalAction,
                        help="children start from their parent's trained blocks (default on)")
    search.add_argument("--teacher-distillation", dest="teacher_distillation",
                        action=argparse.BooleanOptionalAction,
                        help="children also learn from the best trial so far's soft predictions "
                        "(classification; default off: a weak early teacher hurt in the benchmark)")
    search.add_argument("--early-stopping", dest="early_stopping", choices=("median", "none"),
                        help="median: stop a trial whose best eval score is below the median of earlier "
                        "trials at the same epoch, after a third of its epochs (default); none: never")
    after = parser.add_argument_group("ensemble and distillation")
    after.add_argument("--ensemble-size", dest="ensemble_size", type=int, help="most ensemble members (default 5)")
    after.add_argument("--max-params", dest="max_params", type=int,
                       help="the distilled student's parameter budget (default: half the best single model)")
    after.add_argument("--distill-epochs", dest="distill_epochs", type=int, help="student training epochs (default 5)")
    after.add_argument("--distill-temperature", dest="distill_temperature", type=float,
                       help="distillation temperature T (default 2)")
    after.add_argument("--distill-alpha", dest="distill_alpha", type=float,
                       help="weight of the true labels in the student's loss, the teacher's soft labels get 1 - alpha "
                       "(default 0.5)")
    after.add_argument("--distill-augment", dest="distill_augment", choices=("none", "mixup"),
                       help="mixup: each epoch the student learns the teacher's labels of freshly mixed training "
                       "examples (slower per epoch, closer to the teacher; default none)")
    after.add_argument("--ensemble-weights", dest="ensemble_weights",
                       choices=("auto", "bagged", "greedy", "learned", "average"),
                       help="bagged or plain greedy selection, learned weights, an equal-weight average of the best, "
                       "or auto: whichever of bagged, average and learned scores best on cross-validation within "
                       "the eval split (default auto)")
    after.add_argument("--student", help="the distilled student: a trial id, or an architecture as JSON "
                       "(default: chosen from the search within --max-params)")
    after.add_argument("--select", help="which candidate becomes the run's model, on eval metrics: best (default; "
                       "the best --objective), lowest-loss (cross-entropy) or smallest-within=X (the smallest within "
                       "X points of the best, or X percent for RMSE, MAE and log loss)")
    after.add_argument("--objective", choices=tuple(OBJECTIVES),
                       help="what the study optimizes, on eval: accuracy, log_loss, roc_auc (two classes) or macro_f1 "
                       "for classification; rmse or mae for regression (default accuracy, or rmse)")
    where = parser.add_argument_group("where it runs")
    where.add_argument("--metadata", help="ML Metadata: a SQLite path (default DIR/metadata.sqlite) or "
                       f"{metadata_uri.MYSQL_FORM} ({metadata_uri.PASSWORD_HELP})")
    where.add_argument("--runner", choices=("local", "beam"),
                       help="local: trainers of a round run concurrently (default); beam: TFX's BeamDagRunner")


STUDY_FLAGS = (
    "output", "study", "seed", "dataset", "data", "label", "task", "test_data", "split_ratios", "image_size",
    "color_mode", "algorithm", "rounds", "trainers", "trials_per_trainer", "epochs", "time_limit", "max_retries",
    "max_consecutive_failures", "node_timeout", "module_file",
    "weight_sharing", "teacher_distillation", "early_stopping", "ensemble_size", "max_params", "distill_epochs",
    "distill_temperature", "distill_alpha", "distill_augment",
    "ensemble_weights", "student", "select", "objective", "metadata", "runner", "keep",
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a study: ingest the data, search, ensemble, distil, evaluate, push",
        description="Run a study on this machine (TFX LocalDagRunner, SQLite ML Metadata in the run directory). "
        "Re-running the same command reuses finished work.",
    )
    add_study_arguments(parser)
    # Not a study argument of `compile`: a cluster's pipeline root is not cleaned up.
    parser.add_argument("--keep", metavar="all|best-K|members",
                        help="whose trial files stay once the run has finished: every trial's, the K best and "
                        "those the study uses (default best-10), or only those the study uses (see `model-search gc`)")
    parser.add_argument("--json", action="store_true", help="print a summary as JSON on stdout")
    parser.set_defaults(handler=run)


def study_config_from_args(args: argparse.Namespace, check_local_paths: bool = True):
    from pipeline import config as study_config

    file_values = study_config.load_config_file(args.config) if args.config else {}
    overrides = {key: getattr(args, key, None) for key in STUDY_FLAGS}
    if overrides["dataset"] or overrides["data"]:
        # A source on the command line replaces the config file's source.
        file_values = {k: v for k, v in file_values.items() if k not in ("dataset", "data", "data_source")}
    config = study_config.build_config(file_values, overrides, where=args.config or "flags")
    from search_algo.errors import DataError, UserError

    if not config.source.dataset and not config.source.data:
        raise UserError("say what to search on: --dataset NAME or --data PATH (or a config file that does)")
    # Cheap checks before TFX starts: a typo should not cost the start-up time.
    for location in (config.source.data, config.source.test_data) if check_local_paths else ():
        if location and not any(c in location for c in "*?[") and not _data_exists(location):
            raise DataError(f"{location}: no such file or directory")
    if check_local_paths and config.module_file and not os.path.isfile(config.module_file):
        raise UserError(f"--module-file {config.module_file}: no such file")
    if check_local_paths:
        _check_run_directory(config.output_dir)
    from search_algo.algorithms import ALGORITHM_NAMES

    if config.algorithm not in ALGORITHM_NAMES:
        raise UserError(f"unknown search algorithm {config.algorithm!r}; choose one of {', '.join(ALGORITHM_NAMES)}")
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
    from pipeline import local_runner

    show_progress = not args.json and sys.stderr.isatty()
    summary = local_runner.run_study(config, debug=args.debug, show_progress=show_progress)
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    trials = summary["trials"]
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in summary["chosen_metrics"]["test"].items())
    print(f"{summary['study']} {summary['run_id']}: {trials['total']} trials "
          f"({trials['completed']} completed, {trials['failed']} failed) in {summary['seconds']:.0f} s")
    print(f"  chosen:      {summary['chosen']} by eval {summary['objective']} ({summary['num_params']} params; "
          f"test {metrics})")
    print(f"  leaderboard: {summary['leaderboard']}")
    pushed = "pushed by this run" if summary.get("pushed") else "not pushed: worse than the latest blessed model"
    print(f"  serving:     {summary['serving'] or 'nothing pushed'} ({pushed})")
    print(f"  metadata:    {summary['metadata']}")
    print(f"  trials:      model-search trials --output {summary['output']}")
    return 0
