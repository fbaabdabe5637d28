"""Student budget: does a student that fills its parameter budget learn more
from the teacher than one that halving the widths left far under it?

On MNIST-1D as the pipeline ingests it, each teacher architecture is trained
once (its hyperparameters, `--teacher-epochs`), then narrowed into
`--budget` parameters by `search_algo.distillation.shrink_to_budget` twice:
the coarse walk alone (`fill=False`: the widest block halved first until the
model fits, what the Distiller did before) and with the fine walk that fills
the budget (the default). Each student is distilled as the Distiller does
with the headline's settings (function matching: mixup, the teacher labelling
every epoch's mixed inputs; temperature 4, alpha 0.2, `--epochs` epochs).

Only eval accuracy is measured and written: this benchmark chooses a setting
(how the student is narrowed), so test is not looked at.

    .venv/bin/python benchmarks/student_budget.py                    # 2 teachers x 2 seeds
    .venv/bin/python benchmarks/student_budget.py --epochs 20 --seeds 0   # a quick look
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import study_run  # noqa: E402
from benchmarks.search_efficiency_data import load_average, load_mnist1d  # noqa: E402

log = logging.getLogger("student_budget")

RESNET = "resnet1d"
# Teachers like the headline study's best single models (seed 0's was 2 x resnet1d of 64 filters, kernel 7).
TEACHERS = {
    "resnet64x2": [{"name": RESNET, "args": {"filters": 64, "kernel_size": 7}}] * 2 + ["global_avg_pool"],
    "conv_resnet_mix": [{"name": "conv1d", "args": {"filters": 32, "kernel_size": 5}},
                        {"name": RESNET, "args": {"filters": 64, "kernel_size": 5}},
                        {"name": RESNET, "args": {"filters": 64, "kernel_size": 7}},
                        {"name": "conv1d", "args": {"filters": 16, "kernel_size": 7}}, "global_avg_pool"],
}
HYPERPARAMETERS = {"learning_rate": 0.003, "optimizer": "adam", "batch_size": 32, "lr_schedule": "cosine"}
TEMPERATURE, ALPHA = 4.0, 0.2


def architecture_of(blocks):
    from search_algo.architecture import Architecture
    from search_algo.stack import normalize

    return normalize(Architecture.from_dict({"blocks": blocks, "hyperparameters": HYPERPARAMETERS}), "sequence")


def train_teacher(architecture, data, seed: int, epochs: int):
    from search_algo.model_builder import build_model, learning_rate_callbacks

    model = build_model(architecture, data.spec, seed=seed)
    model.fit(data.train.features, data.train.labels, batch_size=architecture.hyperparameters.batch_size,
              epochs=epochs, callbacks=learning_rate_callbacks(architecture.hyperparameters, epochs),
              shuffle=True, verbose=0)
    return model


def eval_accuracy(model, data) -> float:
    probabilities = model.predict(data.evaluation.features, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=-1) == data.evaluation.labels))


def distil(student_architecture, teacher, data, seed: int, epochs: int) -> dict:
    """The Distiller's loop (components/distiller/executor.py) with a Keras teacher."""
    import keras

    from search_algo.distillation import compile_for_distillation, distillation_targets, mixup_features, one_hot_labels
    from search_algo.model_builder import build_model, learning_rate_callbacks, parameter_count

    spec = data.spec
    student = build_model(student_architecture, spec, seed=seed, compile=False)
    hyperparameters = student_architecture.hyperparameters
    compile_for_distillation(student, hyperparameters, spec, TEMPERATURE, ALPHA)
    soft_eval = teacher.predict(data.evaluation.features, batch_size=1024, verbose=0)
    eval_targets = distillation_targets(data.evaluation.labels, soft_eval, spec.task)
    hard = one_hot_labels(data.train.labels, spec.num_classes)
    rng = np.random.default_rng(seed)
    callbacks = learning_rate_callbacks(hyperparameters, epochs)
    started = time.monotonic()
    history = []
    for epoch in range(epochs):
        mixed, mixed_labels = mixup_features(data.train.features, hard, rng)
        soft = teacher.predict(mixed, batch_size=1024, verbose=0)
        result = student.fit(mixed, distillation_targets(mixed_labels, soft, spec.task),
                             batch_size=hyperparameters.batch_size, initial_epoch=epoch, epochs=epoch + 1,
                             validation_data=(data.evaluation.features, eval_targets), callbacks=callbacks,
                             shuffle=True, verbose=0)
        history.append(round(float(result.history["val_accuracy"][-1]), 4))
    record = {"num_params": parameter_count(student), "eval_accuracy": eval_accuracy(student, data),
              "eval_accuracy_by_epoch": history, "seconds": round(time.monotonic() - started, 1)}
    keras.backend.clear_session()
    return record


def measure(args) -> dict:
    import keras

    from search_algo.constraints import Constraints, ModelCost
    from search_algo.distillation import shrink_to_budget

    data = load_mnist1d()
    cost = ModelCost(data.spec, Constraints())

    def count(architecture) -> int:
        return cost(architecture).num_params

    runs = []
    for teacher_name in args.teachers:
        teacher_architecture = architecture_of(TEACHERS[teacher_name])
        students = {}
        for walk, fill in (("coarse", False), ("fill", True)):
            architecture, size = shrink_to_budget(teacher_architecture, count, args.budget, fill=fill)
            students[walk] = (architecture, size)
        for seed in args.seeds:
            keras.utils.set_random_seed(seed)
            teacher = train_teacher(teacher_architecture, data, seed, args.teacher_epochs)
            run = {"teacher": teacher_name, "seed": seed, "teacher_params": count(teacher_architecture),
                   "teacher_eval_accuracy": eval_accuracy(teacher, data), "students": {}}
            for walk, (architecture, size) in students.items():
                result = distil(architecture, teacher, data, seed, args.epochs)
                result["architecture"] = architecture.describe()
                run["students"][walk] = result
                log.info("%s seed %d %s student (%d params): eval %.4f in %.0f s", teacher_name, seed, walk, size,
                         result["eval_accuracy"], result["seconds"])
            run["load_average_1min"] = load_average()
            runs.append(run)
            keras.backend.clear_session()
    return {
        "command": "benchmarks/student_budget.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": study_run.git_commit(),
        "machine": study_run.machine(),
        "threads": args.threads,
        "budget": args.budget, "epochs": args.epochs, "teacher_epochs": args.teacher_epochs,
        "temperature": TEMPERATURE, "alpha": ALPHA, "augment": "mixup",
        "runs": runs,
    }


def markdown(report: dict) -> str:
    lines = [
        "# Student budget: the coarse walk against filling the budget (eval only)",
        "",
        f"Generated by `benchmarks/student_budget.py` from the raw JSON beside this file. Command: "
        f"`{report['command']}`; {report['machine']}; {report['threads']} TensorFlow thread(s); "
        f"{report['date']}, commit {report['commit']}. Budget {report['budget']:,} parameters; students distilled "
        f"{report['epochs']} epochs (mixup, T {report['temperature']:g}, alpha {report['alpha']:g}) from one teacher "
        f"trained {report['teacher_epochs']} epochs. Eval accuracy only: test is not looked at.",
        "",
        "| teacher | seed | teacher eval | coarse walk: params | eval | filled: params | eval |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        coarse, fill = run["students"]["coarse"], run["students"]["fill"]
        lines.append(f"| {run['teacher']} ({run['teacher_params']:,}) | {run['seed']} | "
                     f"{run['teacher_eval_accuracy']:.4f} | {coarse['num_params']:,} | {coarse['eval_accuracy']:.4f} | "
                     f"{fill['num_params']:,} | {fill['eval_accuracy']:.4f} |")
    lines += ["", "Students:", ""]
    seen = set()
    for run in report["runs"]:
        for walk, student in run["students"].items():
            if (run["teacher"], walk) not in seen:
                seen.add((run["teacher"], walk))
                lines.append(f"- {run['teacher']}, {walk}: `{student['architecture']}`")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teachers", nargs="+", choices=sorted(TEACHERS), default=sorted(TEACHERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--budget", type=int, default=10000, help="the student's parameter budget")
    parser.add_argument("--epochs", type=int, default=160, help="distillation epochs (the headline's)")
    parser.add_argument("--teacher-epochs", type=int, default=32, help="the teacher's epochs (the headline's)")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads")
    parser.add_argument("--out", default="benchmarks/results/student_budget", help="OUT.json and OUT.md")
    parser.add_argument("--report-only", action="store_true", help="regenerate OUT.md from OUT.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.report_only:
        out.with_suffix(".md").write_text(markdown(json.loads(out.with_suffix(".json").read_text())))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    report = measure(args)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
