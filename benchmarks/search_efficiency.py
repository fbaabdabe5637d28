"""Search efficiency on MNIST-1D: each search algorithm against random search
and KerasTuner, with the same per-trial budget, data and seeds.

Every method trains real models on the built-in `mnist1d` data (4000 train,
the package's default generator; the pipeline's seeded train/eval split),
scored on each seed's own 4000 fresh test examples (`mnist1d?test_seed=`
10000 + the seed; study_run.fresh_mnist1d), with the trainer's own
`train_trial`, so weight sharing, distillation from the best trial so far and
median early stopping are exactly what the pipeline does. The model a method would pick after B trials is its best trial
on the eval split; its test accuracy is what is reported - nothing is chosen
on test.

Methods:
- ours: `beam`, `evolution`, `surrogate`, `optuna_tpe`, `random`, `portfolio` (the
  platform's defaults: weight sharing and median early stopping; distillation
  from the best trial so far with `--teacher-distillation`);
- KerasTuner over the same space (depth, a block per slot with its arguments,
  head, optimizer hyperparameters), built by the same model builder:
  `kt_random` (RandomSearch), `kt_bayes` (BayesianOptimization, fitting its
  Gaussian process after 10 random trials) and `kt_hyperband` (Hyperband; its
  budget is counted in epoch-equivalent trials, total epochs / epochs per
  trial, since it trains many short trials);
- Optuna over the same space, drawn define-by-run, built by the same model
  builder: `optuna_tpe_hyperband` (TPE sampler with its HyperbandPruner; the
  budget counted like kt_hyperband's; search_efficiency_optuna.py).

Time to accuracy: the wall time until the model a method would pick at that
moment (its best trial on eval so far) first reaches 98.5% and 99.0% on test,
per seed and its median over seeds (run seeds that never reach it count as
never in the median). With `--seconds N` each method and seed gets N seconds
of wall time instead of a trial budget (see search_efficiency_optuna.py for the
command measuring the peers).

Also measured: weight sharing (epochs a child needs to reach its parent's eval
accuracy, from its parent's weights vs from scratch) and distillation (the
same children trained with and without the best trial as teacher).

    .venv/bin/python benchmarks/search_efficiency.py                # 3 seeds, 40 trials
    .venv/bin/python benchmarks/search_efficiency.py --jobs 2       # the same, two runs at a time
    .venv/bin/python benchmarks/search_efficiency.py --quick        # 1 seed, 10 trials, 3 methods
    .venv/bin/python benchmarks/search_efficiency.py --methods kt_hyperband --seconds 900 --jobs 2  # 15 min each

With `--jobs N`, every method and seed runs in its own process, N at a time,
each with one TensorFlow thread (unless `--threads` says otherwise); their
reports are combined into one. Small models leave a second core mostly
idle, so on 2 cores two one-thread runs side by side get through the
benchmark sooner than one run with both cores; each run's wall time is then
that of a run sharing the machine.

Writes benchmarks/results/search_efficiency.json and .md (tables).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_run  # noqa: E402 - benchmarks/ is not a package
# The benchmark's parts, sibling modules (this file is run as a script): data and search space, the platform's
# algorithms, KerasTuner, the weight-sharing/distillation measurement, the report. This file: the command line.
from search_efficiency_data import (  # noqa: E402
    BUDGET_MARKS, KERAS_TUNER, METHODS, OPTUNA, OURS, SPACE, TARGET_ACCURACY, TRIALS_PER_ROUND, Data, load_mnist1d,
    log, record, test_accuracy,
)
from search_efficiency_distillation import transfer_effect  # noqa: E402
from search_efficiency_keras_tuner import (  # noqa: E402
    BAYES_INITIAL_POINTS, KERAS_TUNER_SEED_ZERO, keras_tuner_space, run_keras_tuner,
)
from search_efficiency_optuna import run_optuna  # noqa: E402
from search_efficiency_ours import run_ours  # noqa: E402
from search_efficiency_report import (  # noqa: E402
    combine, curve_of_choice, markdown, median_or_none, seconds_to_accuracy, summarize, summarize_runs,
    time_to_accuracy, write_report,
)

# What this module offered before it was split; tests and callers import these from here.
__all__ = [
    "BAYES_INITIAL_POINTS", "BUDGET_MARKS", "KERAS_TUNER", "KERAS_TUNER_SEED_ZERO", "METHODS", "OPTUNA", "OURS",
    "SPACE", "TARGET_ACCURACY", "TRIALS_PER_ROUND", "Data", "build_parser", "combine", "curve_of_choice",
    "job_commands", "keras_tuner_space", "load_mnist1d", "main", "markdown", "median_or_none", "record", "run_jobs",
    "run_keras_tuner", "run_optuna", "run_ours", "seconds_to_accuracy", "summarize", "summarize_runs",
    "test_accuracy", "time_to_accuracy", "transfer_effect", "write_report",
]


def job_commands(args, scratch: Path) -> list[tuple[str, int, list[str]]]:
    """One command per method and seed, in the order a single run takes them;
    the transfer measurement goes with the first seed's beam run."""
    budget = ["--seconds", f"{args.seconds:g}"] if args.seconds else ["--budget", str(args.budget)]
    shared = [*budget, "--epochs", str(args.epochs), "--threads", str(args.threads or 1)]
    shared += [flag for flag, on in (("--no-weight-sharing", args.no_weight_sharing),
                                     ("--teacher-distillation", args.teacher_distillation),
                                     ("--no-early-stopping", args.no_early_stopping)) if on]
    if args.budget_schedule != "none":
        shared += ["--budget-schedule", args.budget_schedule]
    if args.max_params:
        shared += ["--max-params", str(args.max_params)]
    jobs = []
    for seed in args.seeds:
        for method in args.methods:
            pairs = args.transfer_pairs if method == "beam" and seed == args.seeds[0] else 0
            jobs.append((method, seed, [sys.executable, str(Path(__file__).resolve()), "--methods", method,
                                        "--seeds", str(seed), "--transfer-pairs", str(pairs), *shared,
                                        "--out", str(scratch / f"{method}-s{seed}")]))
    return jobs


def run_jobs(args, command: str) -> int:
    """`--jobs N`: each method and seed in its own process, N at a time, then
    one combined report (also when some failed: the finished part is kept and
    marked incomplete)."""
    scratch = Path(tempfile.mkdtemp(prefix="search-efficiency-jobs-"))
    jobs = job_commands(args, scratch)

    def run(job):
        method, seed, job_command = job
        log.info("%s seed %d: started", method, seed)
        returncode = subprocess.run(job_command, stdout=subprocess.DEVNULL).returncode
        log.info("%s seed %d: %s", method, seed, "done" if returncode == 0 else f"FAILED (exit {returncode})")
        return returncode

    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            returncodes = list(pool.map(run, jobs))
        finished = [str(scratch / f"{method}-s{seed}.json") for (method, seed, _), code in zip(jobs, returncodes)
                    if code == 0]
        failed = [f"{method} seed {seed}" for (method, seed, _), code in zip(jobs, returncodes) if code != 0]
        if finished:
            print(markdown(combine(finished, args.out, command, complete=not failed)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if failed:
        print(f"search_efficiency: {len(failed)} of {len(jobs)} runs failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# The report's `dataset`, the same for every seed (runs combine only with equal ones): what its test scores are on.
FRESH_TEST_DATASET = (f"mnist1d, test: {study_run.FRESH_TEST_SIZE} fresh examples per seed "
                      f"(mnist1d?test_seed={study_run.FRESH_TEST_SEED_OFFSET}+SEED)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=40, help="trials per method and seed")
    parser.add_argument("--seconds", type=float,
                        help="wall time per method and seed instead of a trial budget (time to accuracy)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per trial")
    parser.add_argument("--transfer-pairs", type=int, default=3,
                        help="parent/child pairs of the first beam run to retrain (0: skip)")
    parser.add_argument("--no-weight-sharing", action="store_true")
    parser.add_argument("--teacher-distillation", action="store_true",
                        help="children also learn from the best trial so far (the platform's default is off)")
    parser.add_argument("--no-early-stopping", action="store_true")
    parser.add_argument("--budget-schedule", choices=("none", "asha"), default="none",
                        help="asha: our algorithms train new trials briefly and promote the best; the budget is "
                        "then counted in epoch-equivalent trials")
    parser.add_argument("--max-params", type=int, default=0,
                        help="our algorithms propose only models of at most this many parameters (0: no limit)")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow threads (0: TensorFlow's default, one per core); 1 lets two runs share 2 cores")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs at a time, each method and seed in its own process (default 1: one process)")
    parser.add_argument("--quick", action="store_true", help="1 seed, 10 trials, beam/random/kt_random, 1 pair")
    parser.add_argument("--out", default="benchmarks/results/search_efficiency",
                        help="output path without suffix: writes OUT.json and OUT.md")
    parser.add_argument("--combine", nargs="+", metavar="JSON",
                        help="only combine earlier results (same settings, other seeds) into OUT")
    return parser


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.combine:
        print(markdown(combine(args.combine, args.out)))
        return 0
    if args.quick:
        args.seeds, args.budget, args.transfer_pairs = args.seeds[:1], 10, min(args.transfer_pairs, 1)
        args.methods = [m for m in args.methods if m in ("beam", "random", "kt_random")]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    command = "benchmarks/search_efficiency.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.jobs > 1:
        return run_jobs(args, command)
    for noisy in ("tensorflow", "absl", "keras_tuner", "optuna"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    # Each seed's test examples are its own fresh draw (train and eval the standard ones): seeds are
    # independent evidence, and no setting was chosen on them.
    def data_of(seed: int):
        return load_mnist1d(dataset=study_run.fresh_mnist1d(seed))

    data = data_of(args.seeds[0])
    scratch = Path(tempfile.mkdtemp(prefix="search-efficiency-"))
    runs: dict[str, dict[str, list[dict]]] = {m: {} for m in args.methods}
    transfer = []
    started = time.monotonic()
    settings = {
        "machine": study_run.machine(), "threads": args.threads or os.cpu_count(), "commit": study_run.git_commit(),
        "command": command,
        "dataset": FRESH_TEST_DATASET, "split_sizes": data.spec.split_sizes, "space": SPACE,
        "epochs": args.epochs, "budget": None if args.seconds else args.budget, "seeds": args.seeds,
        "options": {"weight_sharing": not args.no_weight_sharing, "distillation": args.teacher_distillation,
                    "early_stopping": "none" if args.no_early_stopping else "median",
                    "budget_schedule": args.budget_schedule, "max_params": args.max_params},
    }
    if args.seconds:
        settings["seconds"] = args.seconds
    try:
        for index, seed in enumerate(args.seeds):
            if index:
                data = data_of(seed)
            for method in args.methods:
                workdir = scratch / f"{method}-s{seed}"
                workdir.mkdir(parents=True)
                if method in OURS:
                    records, history = run_ours(method, seed, args, data, workdir)
                    if method == "beam" and seed == args.seeds[0] and args.transfer_pairs:
                        transfer = transfer_effect(history, data, args, scratch / "transfer", args.transfer_pairs)
                elif method in OPTUNA:
                    records = run_optuna(method, seed, args, data, workdir)
                else:
                    records = run_keras_tuner(method, seed, args, data, workdir)
                runs[method][str(seed)] = records
                shutil.rmtree(workdir, ignore_errors=True)
                write_report(args.out, settings, runs, transfer, time.monotonic() - started, complete=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    report = write_report(args.out, settings, runs, transfer, time.monotonic() - started, complete=True)
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
