"""`model-search predict`: runs a pushed model on raw input of the kind it was trained on.

The model's own dataset spec (`assets.extra/dataset_spec.json`, written at
export) says how raw input becomes its features (pipeline/predict_inputs.py);
images and WAV files go through ingestion's own decoders, so they are resized,
colour-converted and turned into log-mel spectrograms exactly as in training.
The input is read and predicted a batch at a time. The model and the input may
be local or at any URI TensorFlow's file systems know (`gs://…`).
"""

from __future__ import annotations

import itertools
import json
import logging
import posixpath
import sys
from typing import Any, Iterator

log = logging.getLogger(__name__)

MODEL_SPEC_PATH = posixpath.join("assets.extra", "dataset_spec.json")
# What every exported model serves (components/model_export.py).
SIGNATURE = "serving_default"
SIGNATURE_INPUT = "examples"
# Inputs read, and predicted, at a time.
BATCH_SIZE = 256


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict with a pushed model on CSV rows, images, WAV files, .npy arrays or TFRecords",
        description="Run a pushed model (DIR/serving/<version>, or DIR/serving for the newest) on raw input of "
        "the kind it was trained on - a CSV file with the training columns (the label column may be absent), "
        "image files or a folder of them, WAV files or a folder of them; for a sequence model (mnist1d) a .npy "
        "array (N, steps) or (N, steps, channels), or a CSV file with one example per row, its values in order "
        "(a header row optional); for every model, TFRecord files of tf.Example in the training feature names "
        "(.tfrecord, gzipped when the name ends in .gz) - and print the predicted class with its probability "
        "(classification) or the predicted value (regression).",
    )
    parser.add_argument("--model", required=True, help="a pushed model: DIR/serving/<version> (or DIR/serving)")
    parser.add_argument("--data", required=True, nargs="+", help="CSV, .npy or TFRecord files (or a glob), or image / WAV files or folders")
    parser.add_argument("--json", action="store_true", help="print a JSON list of predictions on stdout")
    parser.set_defaults(handler=run)


# --------------------------------------------------------------------------
# The model and its spec


def resolve_model_dir(path: str) -> str:
    """A SavedModel directory; a serving folder means its newest version."""
    from tfx.dsl.io import fileio

    from components.ingest import sources
    from search_algo.errors import UserError

    with sources.file_system_errors(path):
        if not fileio.isdir(path):
            raise UserError(f"{path}: no such model folder")
        if sources.is_file(posixpath.join(path, "saved_model.pb")):
            return path
        # Object stores list a sub-folder as `name/`.
        names = (name.rstrip("/") for name in fileio.listdir(path))
        versions = sorted(
            (v for v in names if v.isdigit() and sources.is_file(posixpath.join(path, v, "saved_model.pb"))), key=int
        )
    if versions:
        return posixpath.join(path, versions[-1])
    raise UserError(f"{path}: not a pushed model (no saved_model.pb; expected DIR/serving/<version>)")


def load_spec(model_dir: str):
    from components.ingest import sources
    from search_algo.dataset_spec import DatasetSpec
    from search_algo.errors import UserError

    path = posixpath.join(model_dir, MODEL_SPEC_PATH)
    with sources.file_system_errors(path):
        if not sources.is_file(path):
            raise UserError(f"{model_dir}: the model has no {MODEL_SPEC_PATH} (exported by an older version); "
                            "run the study again to export it")
        return DatasetSpec.load(path)


def load_serving_signature(model_dir: str, spec):
    """The model's tf.Example serving signature; a UserError when the folder
    holds no loadable SavedModel, or one without that signature."""
    import tensorflow as tf

    from search_algo.errors import UserError

    try:
        model = tf.saved_model.load(model_dir)
    except Exception as error:  # noqa: BLE001 - TensorFlow raises many kinds for a corrupt or foreign folder
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise UserError(f"{model_dir}: not a loadable SavedModel ({type(error).__name__}: {reason})") from None
    signature = model.signatures.get(SIGNATURE)
    if signature is None:
        raise UserError(f"{model_dir}: the SavedModel has no {SIGNATURE!r} signature "
                        f"(it has: {', '.join(model.signatures) or 'none'}); is it a model pushed by `model-search run`?")
    output = "probabilities" if spec.task == "classification" else "predictions"
    inputs = sorted(signature.structured_input_signature[1])
    outputs = sorted(signature.structured_outputs)
    if inputs != [SIGNATURE_INPUT] or output not in outputs:
        raise UserError(f"{model_dir}: its {SIGNATURE!r} signature takes {', '.join(inputs) or 'nothing'} and returns "
                        f"{', '.join(outputs) or 'nothing'}; a pushed model takes {SIGNATURE_INPUT!r} and returns "
                        f"{output!r}")
    return signature


# --------------------------------------------------------------------------
# Feature values to predictions


def serialize(values: dict[str, Any]) -> bytes:
    """A tf.Example as the serving signature parses it (see model_export)."""
    import numpy as np
    import tensorflow as tf

    feature = {}
    for key, value in values.items():
        if isinstance(value, str):
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")]))
        else:
            flat = np.asarray(value, dtype=np.float32).reshape(-1)
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=flat))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


# --------------------------------------------------------------------------
# The command


def iter_predictions(model_path: str, data: list[str]) -> Iterator[dict[str, Any]]:
    """Predictions for every input, in order, a batch of inputs at a time.
    The first batch is read before the model loads, so that bad input is
    reported without waiting for TensorFlow."""
    from pipeline import predict_inputs

    model_dir = resolve_model_dir(model_path)
    spec = load_spec(model_dir)
    inputs = predict_inputs.read_inputs(data, spec)
    batch = list(itertools.islice(inputs, BATCH_SIZE))
    from pipeline import quiet

    quiet.quiet_libraries(False)
    import numpy as np
    import tensorflow as tf

    signature = load_serving_signature(model_dir, spec)
    while batch:
        outputs = signature(examples=tf.constant([serialize(values) for _, values in batch]))
        if spec.task == "classification":
            for (source, _), row in zip(batch, outputs["probabilities"].numpy()):
                best = int(np.argmax(row))
                yield {
                    "input": source,
                    "class": spec.class_names[best],
                    "probability": float(row[best]),
                    "probabilities": {name: float(p) for name, p in zip(spec.class_names, row)},
                }
        else:
            for (source, _), value in zip(batch, outputs["predictions"].numpy().reshape(-1)):
                yield {"input": source, "value": float(value)}
        batch = list(itertools.islice(inputs, BATCH_SIZE))


def write_json(results: Iterator[dict[str, Any]], stream) -> None:
    """A JSON list, written as the predictions come: the closing bracket only
    once every input is predicted."""
    separator = "[\n"
    for result in results:
        stream.write(separator + "  " + json.dumps(result))
        separator = ",\n"
    stream.write("[]\n" if separator == "[\n" else "\n]\n")


def run(args) -> int:
    if args.json:
        write_json(iter_predictions(args.model, args.data), sys.stdout)
        return 0
    results = list(iter_predictions(args.model, args.data))
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    regression = bool(results) and "value" in results[0]
    columns = ("input", "value") if regression else ("input", "class", "probability")
    table = Table(*columns, box=None, header_style="bold")
    for result in results:
        if regression:
            table.add_row(escape(result["input"]), f"{result['value']:.6g}")
        else:
            table.add_row(escape(result["input"]), escape(result["class"]), f"{result['probability']:.4f}")
    Console(width=160).print(table)
    return 0
