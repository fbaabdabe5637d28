"""Epoch time of a trial's `fit` on in-memory arrays (how trainers read data
before issue 32) against `fit` on the split streamed through `tf.data`
(components/examples_io.py), cached within the budget and not cached (budget 0).

    PYTHONPATH=. .venv/bin/python benchmarks/split_streaming.py --datasets mnist1d digits --epochs 6 --rounds 3

Each way is measured `--rounds` times, the ways taking turns (the machine's
load moves). Prints, per data set and way of reading, the median over rounds of
the first epoch's seconds (tracing, filling the cache) and of the median of
the later ones. Not part of `run_all`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# A small model of each input kind, of the sizes the example studies train.
ARCHITECTURES = {
    "sequence": [{"name": "conv1d", "args": {"filters": 32, "kernel_size": 5, "strides": 1}},
                 {"name": "global_avg_pool"}],
    "image": [{"name": "conv2d", "args": {"filters": 16}}, {"name": "global_avg_pool"}],
    "tabular": [{"name": "dense", "args": {"units": 64}}],
}


class EpochTimes:
    def __init__(self):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(inner, epoch, logs=None):
                inner.started = time.perf_counter()

            def on_epoch_end(inner, epoch, logs=None):
                self.seconds.append(time.perf_counter() - inner.started)

        self.seconds: list[float] = []
        self.callback = Timer()

    def summary(self) -> dict:
        return {"first": self.seconds[0], "median_later": statistics.median(self.seconds[1:])}


def measure(dataset: str, epochs: int, batch_size: int, seed: int, rounds: int) -> dict:
    import keras

    from components import examples_io
    from components.ingest.sources import SourceConfig
    from search_algo.architecture import Architecture
    from search_algo.model_builder import build_model
    from tests.tfx_helpers import run_ingest

    with tempfile.TemporaryDirectory() as scratch:
        examples, _, spec = run_ingest(SourceConfig(dataset=dataset, seed=seed), scratch)
        architecture = Architecture.from_dict({"blocks": ARCHITECTURES[spec.input_kind],
                                               "hyperparameters": {"batch_size": batch_size}})
        measured: dict[str, list[dict]] = {}

        def fit(name, x, y=None, validation=None, **kwargs):
            keras.utils.set_random_seed(seed)
            model = build_model(architecture, spec, seed=seed)
            times = EpochTimes()
            model.fit(x, y, epochs=epochs, validation_data=validation, callbacks=[times.callback], verbose=0, **kwargs)
            measured.setdefault(name, []).append(times.summary())
            keras.backend.clear_session()

        train_x, train_y = examples_io.load_split(examples, "train", spec)
        eval_x, eval_y = examples_io.load_split(examples, "eval", spec)
        for _ in range(rounds):
            fit("arrays", train_x, train_y, (eval_x, eval_y), batch_size=batch_size, shuffle=True)
            for name, budget in (("stream_cached", None), ("stream_uncached", 0)):
                train = examples_io.ExamplesSplit(examples, "train", spec, cache_budget=budget)
                evaluation = examples_io.ExamplesSplit(examples, "eval", spec, cache_budget=budget)
                fit(name, train.batches(batch_size, seed=seed), validation=evaluation.batches(batch_size))
        results = {"train_examples": spec.split_sizes.get("train")}
        for name, runs in measured.items():
            results[name] = {key: round(statistics.median(run[key] for run in runs), 4) for key in runs[0]}
        results["cached_over_arrays"] = round(
            results["stream_cached"]["median_later"] / results["arrays"]["median_later"], 3)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist1d", "digits"])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    report = {name: measure(name, args.epochs, args.batch_size, args.seed, args.rounds) for name in args.datasets}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
