"""The data-scale benchmark's Keras baseline: a measured trial's model trained
one epoch with plain Keras `fit` on in-memory NumPy arrays of the same
ingested train split, at the trial's batch size. data_scale.py runs it in a
fresh subprocess after each measured run; it prints one JSON object.

    python benchmarks/data_scale_keras.py EXAMPLES_URI SPEC_URI TRIAL_JSON

EXAMPLES_URI and SPEC_URI are the run's Examples and DatasetSpec artifacts,
TRIAL_JSON a file holding the trial's record (`model-search trials --json`).
The model is rebuilt from the record's architecture and seed
(search_algo/model_builder.py), as the trainer builds it. Timed apart:
loading the splits into memory, building, one `fit` epoch (shuffled, no
validation), and scoring: what a trial does beyond that epoch on the eval
split (a validation pass, `evaluate` and `predict` at batch 1024), so that
build + fit + scoring is comparable with the trial's `train_seconds`.
"""

from __future__ import annotations

import json
import os
import sys
import time


def load_split(examples_uri: str, split: str, spec) -> tuple[dict, "object"]:
    """The split's features and labels as NumPy arrays (the baseline's premise: they fit in memory)."""
    import numpy as np
    import tensorflow as tf

    from search_algo.model_builder import parse_feature_spec

    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*")))
    parse = parse_feature_spec(spec, include_label=True)
    dataset = (tf.data.TFRecordDataset(files, compression_type="GZIP").batch(8192)
               .map(lambda serialized: tf.io.parse_example(serialized, parse), num_parallel_calls=tf.data.AUTOTUNE))
    parts: dict[str, list] = {}
    for batch in dataset.as_numpy_iterator():
        for key, value in batch.items():
            parts.setdefault(key, []).append(value)
    arrays = {key: np.concatenate(values) for key, values in parts.items()}
    return arrays, arrays.pop(spec.label)


def measure(examples_uri: str, spec_uri: str, trial_file: str) -> dict:
    import keras
    import tensorflow as tf

    from search_algo.architecture import Architecture
    from search_algo.dataset_spec import SPEC_FILE_NAME, DatasetSpec
    from search_algo.model_builder import build_model

    with tf.io.gfile.GFile(os.path.join(spec_uri, SPEC_FILE_NAME)) as handle:
        spec = DatasetSpec.from_json(handle.read())
    with open(trial_file) as handle:
        trial = json.load(handle)
    architecture = Architecture.from_dict(trial["architecture_spec"])
    batch_size = architecture.hyperparameters.batch_size
    started = time.monotonic()
    train_features, train_labels = load_split(examples_uri, "train", spec)
    eval_features, eval_labels = load_split(examples_uri, "eval", spec)
    loaded = time.monotonic()
    keras.utils.set_random_seed(trial["seed"])
    model = build_model(architecture, spec, seed=trial["seed"])
    built = time.monotonic()
    model.fit(train_features, train_labels, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
    fitted = time.monotonic()
    model.evaluate(eval_features, eval_labels, batch_size=1024, verbose=0)  # the validation pass of fit
    model.evaluate(eval_features, eval_labels, batch_size=1024, verbose=0)
    model.predict(eval_features, batch_size=1024, verbose=0)
    scored = time.monotonic()
    return {
        "batch_size": batch_size, "train_rows": int(len(train_labels)), "eval_rows": int(len(eval_labels)),
        "load_seconds": round(loaded - started, 2), "build_seconds": round(built - loaded, 2),
        "fit_seconds": round(fitted - built, 2), "scoring_seconds": round(scored - fitted, 2),
        "trial_equivalent_seconds": round(scored - loaded, 2),
    }


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(json.dumps(measure(*sys.argv[1:])))
