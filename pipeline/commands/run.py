"""`model-search run`: run a study end to end on this machine."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

log = logging.getLogger(__name__)

NOT_YET = (
    "the search itself (proposers, trainers, ensembling, distillation, evaluation, push) "
    "is not built yet; this run ingested the data and wrote its dataset spec"
)


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
    parser.add_argument("--study", help="the study name (default: named after the data)")
    parser.add_argument("--seed", type=int, help="seed for splits, proposals and training (default 0)")
    add_data_arguments(parser)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a study: ingest the data, search, ensemble, distil, evaluate, push",
        description="Run a study on this machine (TFX LocalDagRunner, SQLite ML Metadata in the run directory). "
        "Re-running the same command reuses finished work.",
    )
    add_study_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print a summary as JSON on stdout")
    parser.set_defaults(handler=run)


def study_config_from_args(args: argparse.Namespace):
    from pipeline import config as study_config

    file_values = study_config.load_config_file(args.config) if args.config else {}
    overrides = {
        key: getattr(args, key, None)
        for key in ("output", "study", "seed", "dataset", "data", "label", "task", "test_data",
                    "split_ratios", "image_size", "color_mode")
    }
    if overrides["dataset"] or overrides["data"]:
        # A source on the command line replaces the config file's source.
        file_values = {k: v for k, v in file_values.items() if k not in ("dataset", "data", "data_source")}
    config = study_config.build_config(file_values, overrides, where=args.config or "flags")
    if not config.source.dataset and not config.source.data:
        from search_algo.errors import UserError

        raise UserError("say what to search on: --dataset NAME or --data PATH (or a config file that does)")
    return config


def run(args: argparse.Namespace) -> int:
    config = study_config_from_args(args)
    from pipeline import local_runner

    started = time.monotonic()
    result = local_runner.run_study(config, debug=args.debug)
    summary = {
        "output": os.path.abspath(config.output_dir),
        "study": config.study_name,
        "dataset": result["dataset_spec"],
        "examples_uri": result["examples_uri"],
        "dataset_spec_uri": result["dataset_spec_uri"],
        "metadata": result["metadata"],
        "seconds": round(time.monotonic() - started, 1),
        "not_yet_built": NOT_YET,
    }
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        spec = result["dataset_spec"]
        classes = f", {len(spec['class_names'])} classes" if spec["class_names"] else ""
        print(f"Ingested {spec['name']}: {spec['task']}{classes}, {spec['input_kind']} input, "
              f"splits {spec['split_sizes']}")
        print(f"  examples:     {result['examples_uri']}")
        print(f"  dataset spec: {result['dataset_spec_uri']}/dataset_spec.json")
        print(f"  metadata:     {result['metadata']}")
        print(f"Not there yet: {NOT_YET}.")
    return 0
