"""`model-search predict`: runs a pushed model on raw input of the kind it was trained on.

The model's own dataset spec (`assets.extra/dataset_spec.json`, written at
export) says how raw input becomes its features; images and WAV files go
through ingestion's own decoders, so they are resized, colour-converted and
turned into log-mel spectrograms exactly as in training. The model and the
input may be local or at any URI TensorFlow's file systems know (`gs://…`).
"""

from __future__ import annotations

import json
import logging
import posixpath
import sys
from typing import Any

log = logging.getLogger(__name__)

MODEL_SPEC_PATH = posixpath.join("assets.extra", "dataset_spec.json")
# What every exported model serves (components/model_export.py).
SIGNATURE = "serving_default"
SIGNATURE_INPUT = "examples"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict with a pushed model on CSV rows, image files or WAV files",
        description="Run a pushed model (DIR/serving/<version>, or DIR/serving for the newest) on raw input of "
        "the kind it was trained on - a CSV file with the training columns (the label column may be absent), "
        "image files or a folder of them, WAV files or a folder of them - and print the predicted class with "
        "its probability (classification) or the predicted value (regression).",
    )
    parser.add_argument("--model", required=True, help="a pushed model: DIR/serving/<version> (or DIR/serving)")
    parser.add_argument("--data", required=True, nargs="+", help="a CSV file, or image / WAV files or folders")
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
# Raw input to feature values


def _files(paths: list[str], suffixes: tuple[str, ...], what: str) -> list[str]:
    """The given files, and the matching files inside given folders (sorted)."""
    from tfx.dsl.io import fileio

    from components.ingest import sources
    from search_algo.errors import DataError

    found: list[str] = []
    for path in paths:
        with sources.file_system_errors(path):
            if fileio.isdir(path):
                inside = sources.list_files(path, suffixes)
                if not inside:
                    raise DataError(f"{path}: holds no {what} ({', '.join(suffixes)})")
                found.extend(inside)
            elif fileio.exists(path):
                found.append(sources.clean_path(path))
            else:
                raise DataError(f"{path}: no such file or folder")
    return found


def image_inputs(paths: list[str], spec) -> list[tuple[str, dict[str, Any]]]:
    from components.ingest import sources
    from search_algo.errors import DataError

    feature = spec.features[0]
    height, width, channels = feature.shape
    inputs = []
    for file in _files(paths, sources.IMAGE_SUFFIXES, "images"):
        try:
            array = sources.decode_image(file, (height, width), channels)
        except Exception as error:  # noqa: BLE001 - any decoder failure means "unreadable"
            raise DataError(f"{file}: cannot read it as an image ({type(error).__name__}: {error})") from None
        inputs.append((file, {feature.name: array}))
    return inputs


def audio_inputs(paths: list[str], spec) -> list[tuple[str, dict[str, Any]]]:
    from components.ingest import sources
    from search_algo.errors import DataError

    feature = spec.features[0]
    options = dict((spec.source.get("options") or {}).get("audio") or {})
    seconds = options.pop("seconds")
    audio = sources.AudioOptions(**options, seconds=seconds)
    inputs = []
    for file in _files(paths, sources.AUDIO_SUFFIXES, "WAV files"):
        try:
            array = sources.decode_wav(file, audio, seconds)
        except Exception as error:  # noqa: BLE001 - any decoder failure means "unreadable"
            raise DataError(f"{file}: cannot read it as a WAV file ({type(error).__name__}: {error})") from None
        if list(array.shape) != list(feature.shape):
            raise DataError(f"{file}: gives a {array.shape} spectrogram, the model expects {tuple(feature.shape)}")
        inputs.append((file, {feature.name: array}))
    return inputs


def csv_inputs(paths: list[str], spec) -> list[tuple[str, dict[str, Any]]]:
    """Rows of CSV files whose header names the training columns (by their
    original names or their keys); the label column may be there or not. An
    empty numeric cell takes the training mean, with a warning."""
    from components.ingest import sources
    from search_algo.errors import DataError

    inputs = []
    for path in paths:
        table = sources.read_csv(path)
        columns = {}
        for feature in spec.features:
            for name in (feature.display_name, feature.name):
                if name in table.header:
                    columns[feature.name] = table.header.index(name)
                    break
        missing = [f.display_name for f in spec.features if f.name not in columns]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {', '.join(repr(m) for m in missing)}; the model needs: "
                + ", ".join(repr(f.display_name) for f in spec.features)
            )
        known = set(columns.values())
        ignored = [h for i, h in enumerate(table.header) if i not in known and h not in (spec.label_display_name, spec.label)]
        if ignored:
            log.warning("%s: ignoring column(s) the model does not use: %s", path, ", ".join(ignored))
        imputed: dict[str, list[int]] = {}
        for row, line in zip(table.rows, table.line_numbers):
            values: dict[str, Any] = {}
            for feature in spec.features:
                cell = row[columns[feature.name]]
                if feature.kind == "categorical":
                    values[feature.name] = cell if cell.lower() not in sources.MISSING_TOKENS else "<missing>"
                    continue
                if cell.lower() in sources.MISSING_TOKENS:
                    imputed.setdefault(feature.display_name, []).append(line)
                    values[feature.name] = float((feature.mean or [0.0])[0])
                    continue
                try:
                    values[feature.name] = float(cell)
                except ValueError:
                    raise DataError(
                        f"{path}: column {feature.display_name!r} is numeric but line {line} holds text ({cell!r})"
                    ) from None
            inputs.append((f"{path}:{line}", values))
        for name, lines in imputed.items():
            log.warning("%s: column %r: %d empty cell(s) take the training mean (lines %s)",
                        path, name, len(lines), ", ".join(map(str, lines[:5])))
    return inputs


def raw_inputs(paths: list[str], spec) -> list[tuple[str, dict[str, Any]]]:
    from search_algo.errors import DataError

    kind = spec.source.get("kind")
    if spec.input_kind == "tabular":
        return csv_inputs(paths, spec)
    if spec.input_kind == "image":
        return image_inputs(paths, spec)
    if kind == "audio":
        return audio_inputs(paths, spec)
    raise DataError(f"predict reads CSV, image and WAV input; this model was trained on {kind or spec.input_kind} "
                    f"data ({spec.name})")


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


def predict(model_path: str, data: list[str]) -> list[dict[str, Any]]:
    """Predictions for every input, in order."""
    model_dir = resolve_model_dir(model_path)
    spec = load_spec(model_dir)
    inputs = raw_inputs(data, spec)
    from pipeline import local_runner

    quiet.quiet_libraries(False)
    import numpy as np
    import tensorflow as tf

    signature = load_serving_signature(model_dir, spec)
    results: list[dict[str, Any]] = []
    batch_size = 256
    for start in range(0, len(inputs), batch_size):
        batch = inputs[start : start + batch_size]
        outputs = signature(examples=tf.constant([serialize(values) for _, values in batch]))
        if spec.task == "classification":
            probabilities = outputs["probabilities"].numpy()
            for (source, _), row in zip(batch, probabilities):
                best = int(np.argmax(row))
                results.append({
                    "input": source,
                    "class": spec.class_names[best],
                    "probability": float(row[best]),
                    "probabilities": {name: float(p) for name, p in zip(spec.class_names, row)},
                })
        else:
            for (source, _), value in zip(batch, outputs["predictions"].numpy().reshape(-1)):
                results.append({"input": source, "value": float(value)})
    return results


def run(args) -> int:
    results = predict(args.model, args.data)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
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
