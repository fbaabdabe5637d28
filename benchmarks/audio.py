"""Audio: does a default search beat a hand-written keyword-spotting CNN and
logistic regression on pooled log-mel statistics?

For each speech set of `speech_sets.py` (keyword spotting, language
identification; 256 training clips of 2 s, 8 classes) and each seed:

1. the platform's default-budget search, as a user runs it:
   `model-search run --data SET/data --test-data SET/test --split 0.6,0.3,0.1 --seed S`
   (every other setting at its default); its chosen model (chosen on eval)
   with its test accuracy and parameter count;
2. on the very same ingested features and splits (read back from the run's
   Examples artifact):
   - a hand-written 2-D CNN for keyword spotting (three conv-BN-ReLU-maxpool
     stages, 16/32/64 filters, global average pooling, dropout, softmax),
     trained with the search's per-trial epoch budget; the epoch kept is the
     best on eval;
   - logistic regression (scikit-learn) on each mel band's mean and standard
     deviation over time, standardised on train; its C chosen on eval.

Test accuracy is reported for each; the figures are medians over the seeds.

    python benchmarks/audio.py                     # 2 sets x seeds 0 1 2 (about 1 h here)
    python benchmarks/audio.py --seeds 0 --tasks keywords --search-args "--rounds 1 --epochs 2"

Writes benchmarks/results/audio.json (raw: command, seeds, machine, threads,
every run) and audio.md (generated from the JSON; `--report-only` regenerates
it from an existing JSON).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import speech_sets  # noqa: E402 - benchmarks/ is not a package
import study_run  # noqa: E402
from pipeline.config_schema import StudySettings  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "audio"
# The CLI's default per-trial epoch budget (`model-search run --help`), which
# the CNN baseline gets too (the committed results: 5, the default then).
DEFAULT_EPOCHS = StudySettings.model_fields["epochs"].default
BASELINE_THREADS = 1
LOGISTIC_C = (0.01, 0.1, 1.0, 10.0)


def search_arguments(task_root: Path, seed: int, extra: list[str]) -> list[str]:
    return ["--data", str(task_root / "data"), "--test-data", str(task_root / "test"),
            "--split", speech_sets.SPLIT, "--seed", str(seed),
            "--study", f"{task_root.name}-seed{seed}", *extra]


def epochs_of(extra: list[str]) -> int:
    return int(extra[extra.index("--epochs") + 1]) if "--epochs" in extra else DEFAULT_EPOCHS


def ingested_splits(run_dir: Path):
    """{split: (log-mel [n, frames, mels], labels [n])} and the dataset spec,
    from the run's Examples and DatasetSpec artifacts."""
    from tfx.types import standard_artifacts

    from components.examples_io import load_split
    from search_algo.dataset_spec import SPEC_FILE_NAME, DatasetSpec

    spec_files = sorted(run_dir.glob(f"**/DataIngest/**/{SPEC_FILE_NAME}"))
    examples_dirs = sorted({p.parent.parent for p in run_dir.glob("**/DataIngest/examples/*/Split-train/*")})
    if len(spec_files) != 1 or len(examples_dirs) != 1:
        raise RuntimeError(f"{run_dir}: expected one ingestion, found {spec_files} / {examples_dirs}")
    spec = DatasetSpec.load(str(spec_files[0]))
    examples = standard_artifacts.Examples()
    examples.uri = str(examples_dirs[0])
    examples.split_names = json.dumps(["train", "eval", "test"])
    splits = {}
    for split in ("train", "eval", "test"):
        features, labels = load_split(examples, split, spec)
        splits[split] = (features[spec.features[0].name].astype(np.float32), labels.astype(np.int64))
    return splits, spec


def pooled_statistics(log_mel: np.ndarray) -> np.ndarray:
    """Each mel band's mean and standard deviation over time: [n, 2 * mels]."""
    return np.concatenate([log_mel.mean(axis=1), log_mel.std(axis=1)], axis=1)


def logistic_regression(splits, seed: int) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    started = time.monotonic()
    pooled = {name: pooled_statistics(x) for name, (x, _) in splits.items()}
    scaler = StandardScaler().fit(pooled["train"])
    pooled = {name: scaler.transform(x) for name, x in pooled.items()}
    fits = []
    for c in LOGISTIC_C:
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(pooled["train"], splits["train"][1])
        fits.append((model.score(pooled["eval"], splits["eval"][1]), c, model))
    eval_accuracy, c, model = max(fits, key=lambda fit: fit[0])  # ties: the first, the smallest C
    return {
        "test_accuracy": round(float(model.score(pooled["test"], splits["test"][1])), 4),
        "eval_accuracy": round(float(eval_accuracy), 4),
        "num_params": int(model.coef_.size + model.intercept_.size),
        "chosen_on_eval": {"C": c},
        "wall_seconds": round(time.monotonic() - started, 1),
    }


def keyword_cnn(frames: int, mels: int, classes: int, batch_norm_momentum: float = 0.99):
    """A small keyword-spotting CNN on the spectrogram as an image (Keras'
    default batch-norm momentum, 0.99, unless told)."""
    import keras

    inputs = keras.Input((frames, mels))
    x = keras.layers.Reshape((frames, mels, 1))(inputs)
    for filters in (16, 32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=batch_norm_momentum)(x)
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def cnn_baseline(splits, classes: int, epochs: int, seed: int, learning_rate: float = 1e-3,
                 batch_norm_momentum: float = 0.99, batch_size: int | None = None) -> dict:
    """The CNN trained `epochs` epochs, keeping its best epoch on eval. The
    defaults are this benchmark's committed settings; `audio_probes.md` found
    learning rate 3e-3, batch 16 and batch-norm momentum 0.9 better on eval
    (time_to_accuracy.py's speech baselines use them). `batch_size` None: the
    default search space's batch size for this many clips."""
    import keras

    from search_algo.search_space import DEFAULT_HYPERPARAMETERS, batch_sizes_for

    started = time.monotonic()
    keras.utils.set_random_seed(seed)
    train_x, train_y = splits["train"]
    # Standardised per mel band on train, as the platform's input adapter does.
    mean, std = train_x.mean(axis=(0, 1)), train_x.std(axis=(0, 1)) + 1e-6
    scaled = {name: ((x - mean) / std, y) for name, (x, y) in splits.items()}
    model = keyword_cnn(train_x.shape[1], train_x.shape[2], classes, batch_norm_momentum)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    best = {"eval_accuracy": -1.0}
    # The batch size the default search space allows on this many clips, so
    # the CNN gets as many steps as a searched trial.
    batch_size = batch_size or batch_sizes_for(DEFAULT_HYPERPARAMETERS["batch_size"], len(train_y)).default
    for epoch in range(epochs):
        model.fit(*scaled["train"], batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
        eval_accuracy = model.evaluate(*scaled["eval"], verbose=0)[1]
        if eval_accuracy > best["eval_accuracy"]:
            best = {"eval_accuracy": eval_accuracy, "epoch": epoch + 1, "weights": model.get_weights()}
    model.set_weights(best["weights"])
    return {
        "test_accuracy": round(float(model.evaluate(*scaled["test"], verbose=0)[1]), 4),
        "eval_accuracy": round(float(best["eval_accuracy"]), 4),
        "train_accuracy": round(float(model.evaluate(*scaled["train"], verbose=0)[1]), 4),
        "num_params": int(model.count_params()),
        "chosen_on_eval": {"epoch": best["epoch"]},
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "batch_norm_momentum": batch_norm_momentum,
        "wall_seconds": round(time.monotonic() - started, 1),
    }


def searched(run: dict) -> dict:
    leaderboard = run["leaderboard"]
    chosen = next(c for c in leaderboard["candidates"] if c["name"] == run["summary"]["chosen"])
    return {
        "test_accuracy": round(chosen["test"]["accuracy"], 4),
        "eval_accuracy": round(chosen["eval"]["accuracy"], 4),
        "num_params": chosen["num_params"],
        "chosen": chosen["name"],
        "trial_ids": chosen.get("trial_ids", []),
        "trials": [{"trial_id": t["trial_id"], "status": t["status"],
                    "blocks": t["architecture"], "hyperparameters": t["hparams"],
                    "head_hidden_units": t["architecture_spec"]["head"]["hidden_units"],
                    "num_params": t.get("num_params"),
                    "eval_accuracy": (t.get("metrics") or {}).get("accuracy")} for t in run["trials"]],
        "wall_seconds": run["wall_seconds"],
        "command": run["command"],
    }


def run_task(task: str, workdir: Path, seeds: list[int], extra: list[str]) -> dict:
    task_root = speech_sets.write_task(workdir / "sets", task)
    results = []
    for seed in seeds:
        run_dir = workdir / f"{task}-seed{seed}"
        run = study_run.run_measured(search_arguments(task_root, seed, extra), run_dir)
        splits, spec = ingested_splits(run_dir)
        results.append({
            "seed": seed,
            "split_sizes": {name: int(len(y)) for name, (_, y) in splits.items()},
            "search": searched(run),
            "cnn": cnn_baseline(splits, spec.num_classes, epochs_of(extra), seed),
            "logistic_regression": logistic_regression(splits, seed),
        })
        print(json.dumps({task: {k: results[-1][k].get("test_accuracy") for k in
                                 ("search", "cnn", "logistic_regression")}, "seed": seed}), flush=True)
    return {"task": task, "classes": list(speech_sets.classes_of(task)), "runs": results,
            "median": medians(results)}


def medians(runs: list[dict]) -> dict:
    return {method: {field: statistics.median(r[method][field] for r in runs)
                     for field in ("test_accuracy", "num_params", "wall_seconds")}
            for method in ("search", "cnn", "logistic_regression")}


def verdict(median: dict) -> dict[str, bool]:
    """The seed's claim in its two parts: more accurate than both baselines,
    and smaller than the hand-written CNN."""
    search, cnn, logistic = median["search"], median["cnn"], median["logistic_regression"]
    return {
        "more_accurate_than_both": search["test_accuracy"] > max(cnn["test_accuracy"], logistic["test_accuracy"]),
        "fewer_parameters_than_cnn": search["num_params"] < cnn["num_params"],
    }


def markdown(report: dict) -> str:
    lines = [
        "# Audio: default search vs a hand-written CNN and logistic regression",
        "",
        f"Generated by `benchmarks/audio.py` from the raw JSON beside this file. Command: `{report['command']}`; "
        f"search: `{report['search_command']}`; seeds {report['seeds']}; {report['machine']}; "
        f"search trainers {report['search_threads']}, baselines {report['baseline_threads']} "
        f"TensorFlow thread(s); {report['date']}, commit {report['commit']}; "
        f"total wall time {report['wall_seconds'] / 60:.0f} min.",
        "",
        "Test accuracy of what each method chose on eval; medians over the seeds. The "
        "claim to test: the searched model is more accurate than both baselines and "
        "smaller than the CNN.",
        "",
        "| speech set | method | test accuracy (median) | per seed | parameters (median) | wall s (median) |",
        "|---|---|---|---|---|---|",
    ]
    names = {"search": "default search (chosen)", "cnn": "hand-written 2-D CNN",
             "logistic_regression": "logistic regression, mean+std log-mel"}
    for task in report["tasks"]:
        for method, name in names.items():
            median = task["median"][method]
            per_seed = ", ".join(f"{r[method]['test_accuracy']:.3f}" for r in task["runs"])
            lines.append(f"| {task['task']} | {name} | {median['test_accuracy']:.3f} | {per_seed} | "
                         f"{median['num_params']:,.0f} | {median['wall_seconds']:.0f} |")
    lines += ["", "| speech set | searched model more accurate than both (median) | "
              "fewer parameters than the CNN (median) |", "|---|---|---|"]
    for task in report["tasks"]:
        claim = verdict(task["median"])
        lines.append(f"| {task['task']} | {'yes' if claim['more_accurate_than_both'] else 'no'} | "
                     f"{'yes' if claim['fewer_parameters_than_cnn'] else 'no'} |")
    lines += ["", "The CNN's training accuracy at its kept epoch (per seed): " + "; ".join(
        f"{t['task']} " + ", ".join(f"{r['cnn']['train_accuracy']:.3f}" for r in t["runs"]) for t in report["tasks"])
        + f" (chance {1 / len(report['tasks'][0]['classes']):.3f}).", "", "Chosen models (per seed):", ""]
    for task in report["tasks"]:
        for run in task["runs"]:
            search = run["search"]
            best = max((t for t in search["trials"] if t["eval_accuracy"] is not None),
                       key=lambda t: t["eval_accuracy"], default=None)
            lines.append(f"- {task['task']}, seed {run['seed']}: {search['chosen']} "
                         f"({search['num_params']:,} parameters); best trial "
                         f"{' > '.join(best['blocks']) if best else '-'} "
                         f"(eval {best['eval_accuracy']:.3f}, batch {best['hyperparameters']['batch_size']})"
                         if best else "")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=speech_sets.TASKS, default=list(speech_sets.TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--search-args", default="", help="extra `model-search run` flags (quick runs)")
    parser.add_argument("--workdir", type=Path, help="where sets and runs go; unset: a temporary folder")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="OUT.json and OUT.md")
    parser.add_argument("--report-only", action="store_true", help="regenerate OUT.md from OUT.json")
    args = parser.parse_args(argv)
    if args.report_only:
        study_run.rerender(args.out, markdown)
        return
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(BASELINE_THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(BASELINE_THREADS)
    extra = shlex.split(args.search_args)
    commit = study_run.git_commit()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or Path(scratch)
        tasks = [run_task(task, workdir, args.seeds, extra) for task in args.tasks]
    report = {
        "command": "python benchmarks/audio.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "search_command": "model-search run --data SET/data --test-data SET/test "
                          f"--split {speech_sets.SPLIT} --seed S {' '.join(extra)}".strip(),
        "seeds": args.seeds,
        "machine": study_run.machine(),
        # The local runner gives each of its concurrent trainers an equal share of the cores.
        "search_threads": "cores / trainers (1 each with 2 trainers on 2 cores)",
        "baseline_threads": BASELINE_THREADS,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "wall_seconds": round(time.monotonic() - started, 1),
        "tasks": tasks,
    }
    study_run.write_report(args.out, report, markdown(report))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
