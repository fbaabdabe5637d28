"""Search efficiency on MNIST-1D: each search algorithm against random search
and KerasTuner, with the same per-trial budget, data and seeds.

Every method trains real models on the built-in `mnist1d` data (4000 train /
1000 test, the package's default generator; the pipeline's seeded train/eval
split) with the trainer's own `train_trial`, so weight sharing, distillation
from the best trial so far and median early stopping are exactly what the
pipeline does. The model a method would pick after B trials is its best trial
on the eval split; its test accuracy is what is reported - nothing is chosen
on test.

Methods:
- ours: `beam`, `evolution`, `surrogate`, `random`, `portfolio` (the
  platform's defaults: weight sharing and median early stopping; distillation
  from the best trial so far with `--teacher-distillation`);
- KerasTuner over the same space (depth, a block per slot with its arguments,
  head, optimizer hyperparameters), built by the same model builder:
  `kt_random` (RandomSearch), `kt_bayes` (BayesianOptimization, fitting its
  Gaussian process after 10 random trials) and `kt_hyperband` (Hyperband; its
  budget is counted in epoch-equivalent trials, total epochs / epochs per
  trial, since it trains many short trials).

Also measured: weight sharing (epochs a child needs to reach its parent's eval
accuracy, from its parent's weights vs from scratch) and distillation (the
same children trained with and without the best trial as teacher).

    .venv/bin/python benchmarks/search_efficiency.py                # 3 seeds, 40 trials
    .venv/bin/python benchmarks/search_efficiency.py --jobs 2       # the same, two runs at a time
    .venv/bin/python benchmarks/search_efficiency.py --quick        # 1 seed, 10 trials, 3 methods

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
import dataclasses
import json
import logging
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_run  # noqa: E402 - benchmarks/ is not a package

OURS = ("beam", "evolution", "surrogate", "random", "portfolio")
KERAS_TUNER = ("kt_random", "kt_bayes", "kt_hyperband")
METHODS = OURS + KERAS_TUNER
BUDGET_MARKS = (10, 20, 40)
TARGET_ACCURACY = 0.98
# The searched space: the default sequence space of the platform, capped at 3
# blocks so one trial stays within seconds on two cores.
SPACE = {"max_depth": 3}
TRIALS_PER_ROUND = 4  # as `--trainers 2 --trials-per-trainer 2`
# Random trials before BayesianOptimization fits its Gaussian process (Optuna's TPE starts after 10 too).
BAYES_INITIAL_POINTS = 10
# The seed KerasTuner gets for seed 0, which it would otherwise replace with a random one.
KERAS_TUNER_SEED_ZERO = 2**31 - 1

log = logging.getLogger("search_efficiency")


@dataclasses.dataclass
class Data:
    spec: Any
    train: Any
    evaluation: Any
    test: Any


def load_mnist1d(split_seed: int = 0) -> Data:
    """MNIST-1D as the pipeline ingests it: the same plan, split and statistics."""
    from components.ingest import sources
    from components.trainer.training import SplitData
    from search_algo.dataset_spec import DatasetSpec, FeatureSpec

    plan = sources.make_plan(sources.SourceConfig(dataset="mnist1d", seed=split_seed))
    (feature,) = plan.features

    def arrays(split: str) -> SplitData:
        records = plan.splits[split]
        x = np.stack([np.asarray(r[0][0], dtype=np.float32) for r in records])
        return SplitData({feature.name: x}, np.asarray([r[1] for r in records], dtype=np.int64))

    train = arrays("train")
    channels = train.features[feature.name].reshape(-1, feature.shape[-1])
    spec = DatasetSpec(
        name=plan.name, task=plan.task, input_kind=plan.input_kind, label=plan.label_key,
        label_display_name=plan.label_display_name, class_names=list(plan.class_names),
        features=[FeatureSpec(feature.name, feature.display_name, "numeric", "float32", list(feature.shape),
                              mean=[float(v) for v in channels.mean(axis=0)],
                              std=[float(v) for v in channels.std(axis=0)])],
        split_sizes=plan.split_sizes(),
    )
    return Data(spec, train, arrays("eval"), arrays("test"))


def test_accuracy(trial_dir: str, data: Data) -> float:
    from components.trial_model import load_trial_model

    model, _ = load_trial_model(trial_dir, data.spec)
    probabilities = model.predict(data.test.features, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=-1) == data.test.labels))


def record(trial, test: Optional[float], elapsed: float) -> dict:
    return {
        "trial_id": trial.trial_id, "status": trial.status, "algorithm": trial.algorithm,
        "blocks": trial.block_names, "num_params": trial.num_params, "epochs": trial.epochs,
        "eval_accuracy": trial.metrics.get("accuracy"), "test_accuracy": test,
        "parent": trial.parent, "transfer": trial.transfer, "teacher": trial.teacher,
        "stopped_early": trial.stopped_early, "train_seconds": trial.train_seconds,
        "elapsed_seconds": round(elapsed, 1), "cost_trials": 1.0,
    }


# --- the platform's algorithms ---------------------------------------------------

def run_ours(method: str, seed: int, args, data: Data, workdir: Path) -> tuple[list[dict], list]:
    import keras

    from components.trainer.training import train_trial
    from search_algo.algorithms import get_algorithm
    from search_algo.early_stopping import MedianStoppingRule, warmup_epochs
    from search_algo.loop import run_search
    from search_algo.proposals import derived_seed
    from search_algo.search_space import SearchSpace
    from search_algo.trial import COMPLETED

    records = []
    started = time.monotonic()

    def train_round(proposals, history):
        stopping = None
        if not args.no_early_stopping:
            stopping = MedianStoppingRule.from_curves(
                [t.curve for t in history if t.status == COMPLETED], warmup_epochs(args.epochs))
        for proposal in proposals:
            trial_dir = str(workdir / proposal.trial_id)
            result = train_trial(proposal, data.spec, data.train, data.evaluation, args.epochs, None, trial_dir,
                                 stopping)
            test = None
            if result.status == COMPLETED:
                result.path = trial_dir
                test = test_accuracy(trial_dir, data)
                if stopping is not None:
                    stopping.add(result.curve)
            keras.backend.clear_session()
            records.append(record(result, test, time.monotonic() - started))
            log.info("%s seed %d trial %d: eval %s test %s (%s epochs%s)", method, seed, len(records),
                     result.metrics.get("accuracy"), test, result.epochs, ", stopped" if result.stopped_early else "")
            yield result

    history = run_search(
        get_algorithm(method), SearchSpace.from_dict(SPACE, data.spec.input_kind), train_round,
        budget=args.budget, per_round=TRIALS_PER_ROUND, objective=data.spec.task, seed=seed, study="bench",
        run_id=f"{method}-s{seed}", weight_sharing=not args.no_weight_sharing,
        teacher_distillation=args.teacher_distillation,
        # The seeds the committed results were measured with.
        rng_for_round=lambda r: np.random.default_rng(derived_seed(seed, "bench", method, r, "propose")),
    )
    return records, history


# --- KerasTuner over the same space ------------------------------------------------

def keras_tuner_space(hp, space):
    """An Architecture from KerasTuner hyperparameters covering `space`: the
    depth, then a block per slot among those valid after the previous one,
    each block's arguments, the head and the optimizer settings."""
    from search_algo.architecture import Architecture, BlockSpec, HeadSpec, Hyperparameters
    from search_algo.stack import tensor_kind_of

    def choose(name: str, arg_spec):
        if arg_spec.is_choice and set(arg_spec.choices) == {False, True}:
            return hp.Boolean(name)
        if arg_spec.is_choice:
            # KerasTuner keeps choices as numbers or strings; the block wants its own types back.
            return arg_spec.coerce(hp.Choice(name, list(arg_spec.choices)))
        if isinstance(arg_spec.default, bool):
            return hp.Boolean(name)
        if isinstance(arg_spec.default, int):
            return hp.Int(name, int(arg_spec.low), int(arg_spec.high), sampling="log" if arg_spec.log else "linear")
        return hp.Float(name, float(arg_spec.low), float(arg_spec.high), sampling="log" if arg_spec.log else "linear")

    depth = hp.Int("depth", space.min_depth, space.max_depth)
    kind = tensor_kind_of(space.input_kind)
    blocks = []
    for position in range(depth):
        options = space.slot_options(kind, depth - position - 1)
        # One choice per (slot, allowed set), so KerasTuner never sees an invalid value.
        names = [n for n, _ in options]
        name = hp.Choice(f"block{position}_{'-'.join(names)}", names)
        kind = dict(options)[name]
        args = {arg: choose(f"block{position}_{name}_{arg}", s) for arg, s in space.block_arg_specs(name).items()}
        blocks.append(BlockSpec(name, args))
    head = HeadSpec(hidden_units=choose("head_hidden_units", space.head_hidden_units))
    values = {name: choose(name, s) for name, s in sorted(space.hyperparameters.items())}
    return Architecture(tuple(blocks), head, Hyperparameters(**values))


def run_keras_tuner(method: str, seed: int, args, data: Data, workdir: Path) -> list[dict]:
    import keras
    import keras_tuner as kt

    from search_algo.model_builder import build_model, parameter_count
    from search_algo.search_space import SearchSpace

    space = SearchSpace.from_dict(SPACE, data.spec.input_kind)
    records: list[dict] = []
    epochs_spent = [0]
    budget_epochs = args.budget * args.epochs
    started = time.monotonic()

    class BlockHyperModel(kt.HyperModel):
        def build(self, hp):
            arch = keras_tuner_space(hp, space)
            return build_model(arch, data.spec, seed=seed)

        def fit(self, hp, model, *fit_args, **fit_kwargs):
            begun = time.monotonic()
            history = model.fit(*fit_args, **fit_kwargs)
            trained = len(history.history.get("loss", []))
            epochs_spent[0] += trained
            eval_accuracy = float(history.history["val_accuracy"][-1])
            probabilities = model.predict(data.test.features, batch_size=1024, verbose=0)
            test = float(np.mean(np.argmax(probabilities, axis=-1) == data.test.labels))
            records.append({
                "trial_id": f"{method}-s{seed}-{len(records):03d}", "status": "completed", "algorithm": method,
                "blocks": [b.name for b in keras_tuner_space(hp, space).blocks],
                "num_params": parameter_count(model), "epochs": trained, "eval_accuracy": eval_accuracy,
                "test_accuracy": test, "parent": hp.values.get("tuner/trial_id"), "transfer": None,
                "teacher": None, "stopped_early": False, "train_seconds": round(time.monotonic() - begun, 3),
                "elapsed_seconds": round(time.monotonic() - started, 1), "cost_trials": trained / args.epochs,
            })
            log.info("%s seed %d trial %d: eval %.4f test %.4f (%d epochs)", method, seed, len(records),
                     eval_accuracy, test, trained)
            return history

    class BudgetedHyperbandOracle(kt.oracles.HyperbandOracle):
        """Hyperband stopped once the epochs of `budget` full trials are spent."""

        def populate_space(self, trial_id):
            if epochs_spent[0] >= budget_epochs:
                return {"status": "STOPPED"}
            return super().populate_space(trial_id)

    # KerasTuner reads seed 0 as "no seed" and draws one at random.
    common = dict(hypermodel=BlockHyperModel(), directory=str(workdir), project_name=method, overwrite=True,
                  seed=seed or KERAS_TUNER_SEED_ZERO)
    objective = kt.Objective("val_accuracy", "max")
    if method == "kt_random":
        tuner = kt.RandomSearch(objective=objective, max_trials=args.budget, **common)
    elif method == "kt_bayes":
        # KerasTuner's default, 3 random trials per hyperparameter (well over 40 in this space), would leave
        # it random search for the whole budget.
        tuner = kt.BayesianOptimization(objective=objective, max_trials=args.budget,
                                        num_initial_points=min(BAYES_INITIAL_POINTS, args.budget), **common)
    else:
        tuner = kt.Hyperband(objective=objective, max_epochs=args.epochs, factor=3, hyperband_iterations=100,
                             **common)
        tuner.oracle.__class__ = BudgetedHyperbandOracle
    keras.utils.set_random_seed(seed)
    # A search where every model fails must not spin: KerasTuner raises after 3 in a row.
    tuner.search(data.train.features, data.train.labels, epochs=args.epochs, verbose=0,
                 validation_data=(data.evaluation.features, data.evaluation.labels))
    keras.backend.clear_session()
    return records


# --- what is reported -------------------------------------------------------------

def curve_of_choice(records: list[dict]) -> list[tuple[float, Optional[float], Optional[float]]]:
    """After each trial: (trials spent, eval and test accuracy of the best-on-eval model)."""
    spent, best_eval, chosen_test, points = 0.0, -math.inf, None, []
    for item in records:
        spent += item["cost_trials"]
        if item["status"] == "completed" and item["eval_accuracy"] is not None and item["eval_accuracy"] > best_eval:
            best_eval, chosen_test = item["eval_accuracy"], item["test_accuracy"]
        points.append((round(spent, 3), None if best_eval == -math.inf else best_eval, chosen_test))
    return points


def summarize(records: list[dict], marks=BUDGET_MARKS) -> dict:
    points = curve_of_choice(records)
    at = {}
    for mark in marks:
        within = [p for p in points if p[0] <= mark + 1e-9]
        at[str(mark)] = within[-1][2] if within and points[-1][0] >= mark - 1e-9 else None
    reach = next((p[0] for p in points if p[2] is not None and p[2] >= TARGET_ACCURACY), None)
    return {
        "best_test_at": at,
        "trials_to_98": reach,
        "final_test": points[-1][2] if points else None,
        "wall_seconds": records[-1]["elapsed_seconds"] if records else 0.0,
        "epochs_trained": sum(r["epochs"] or 0 for r in records),
        "stopped_early": sum(1 for r in records if r["stopped_early"]),
        "failed": sum(1 for r in records if r["status"] != "completed"),
    }


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def transfer_effect(history, data: Data, args, workdir: Path, pairs: int) -> list[dict]:
    """Children of the beam run that shared weights, re-trained three ways for
    the full epoch budget: from scratch, from the parent's weights, and from
    the parent's weights with the best trial of their time as teacher."""
    import keras

    from components.trainer.training import train_trial
    from search_algo.trial import TRANSFER_NONE, TRANSFER_WEIGHTS

    by_id = {t.trial_id: t for t in history}
    children = [t for t in history if t.transfer == TRANSFER_WEIGHTS and t.transferred_blocks
                and t.parent in by_id and by_id[t.parent].completed][:pairs]
    results = []
    for child in children:
        parent = by_id[child.parent]
        target = parent.metrics["accuracy"]
        row = {"child": child.trial_id, "parent": parent.trial_id, "blocks": child.block_names,
               "parent_eval_accuracy": target, "teacher": child.teacher}
        variants = {
            "scratch": dict(transfer=TRANSFER_NONE, teacher=None, teacher_uri=None),
            "weights": dict(transfer=TRANSFER_WEIGHTS, teacher=None, teacher_uri=None),
            "weights_teacher": dict(transfer=TRANSFER_WEIGHTS, teacher=child.teacher, teacher_uri=child.teacher_uri),
        }
        for name, change in variants.items():
            if name == "weights_teacher" and not child.teacher_uri:
                continue
            trial = dataclasses.replace(child, status="proposed", metrics={}, curve=[], stopped_early=False, **change)
            trial_dir = str(workdir / f"{child.trial_id}-{name}")
            done = train_trial(trial, data.spec, data.train, data.evaluation, args.epochs, None, trial_dir)
            reached = next((i + 1 for i, v in enumerate(done.curve) if v >= target), None)
            row[name] = {
                "curve": done.curve, "epochs_to_parent": reached,
                "eval_accuracy": done.metrics.get("accuracy"),
                "test_accuracy": test_accuracy(trial_dir, data) if done.completed else None,
            }
            keras.backend.clear_session()
        results.append(row)
    return results


def markdown(report: dict) -> str:
    marks = report["budget_marks"]
    lines = [
        f"# Search efficiency on mnist1d ({report['machine']}"
        + (f"; {report['threads']} TensorFlow thread(s) a run" if report.get("threads") else "") + ")",
        "",
        f"{report['epochs']} epochs a trial, {len(report['seeds'])} seed(s) {report['seeds']}, budget "
        f"{report['budget']} trials; test accuracy of the model each method picks on the eval split (median over "
        f"seeds). Trials to {TARGET_ACCURACY:.0%}: the first budget at which that model reaches it "
        f"(`>{report['budget']}`: not within the budget in the median seed). Command: `{report['command']}`.",
        "",
        "| method | seeds | " + " | ".join(f"test acc @{m}" for m in marks)
        + f" | trials to {TARGET_ACCURACY:.0%} | epochs trained | stopped early | wall s |",
        "|---|---|" + "---|" * (len(marks) + 4),
    ]
    if not report.get("complete", True):
        lines[2:2] = ["**Partial: the run was stopped before every method and seed had run.**", ""]

    def fmt(value, pattern="{:.3f}"):
        return "–" if value is None else pattern.format(value)

    for method, summary in report["summary"].items():
        reach = summary["trials_to_98"]
        reach_text = f">{report['budget']}" if reach is None else f"{reach:g}"
        lines.append(
            f"| {method} | {len(summary['seeds_run'])} | "
            + " | ".join(fmt(summary["best_test_at"].get(str(m))) for m in marks)
            + f" | {reach_text} | {fmt(summary['epochs_trained'], '{:g}')} | {fmt(summary['stopped_early'], '{:g}')}"
            f" | {fmt(summary['wall_seconds'], '{:.0f}')} |"
        )
    if report.get("transfer"):
        lines += ["", "Weight sharing and distillation (children of the beam run, retrained for the full budget):", "",
                  "| child | parent eval acc | epochs to parent: scratch | with parent's weights | "
                  "test acc: scratch | weights | weights + teacher |", "|---|---|---|---|---|---|---|"]
        for row in report["transfer"]:
            def get(name, key):
                return (row.get(name) or {}).get(key)
            lines.append(
                f"| {row['child']} ({'+'.join(row['blocks'])}) | {row['parent_eval_accuracy']:.3f} | "
                f"{fmt(get('scratch', 'epochs_to_parent'), '{:g}')} | {fmt(get('weights', 'epochs_to_parent'), '{:g}')} | "
                f"{fmt(get('scratch', 'test_accuracy'))} | {fmt(get('weights', 'test_accuracy'))} | "
                f"{fmt(get('weights_teacher', 'test_accuracy'))} |")
    return "\n".join(lines) + "\n"


def summarize_runs(runs: dict, budget: int) -> dict:
    """Per method: the median over seeds of what `summarize` reports per seed."""
    marks = [m for m in BUDGET_MARKS if m <= budget]
    summary = {}
    for method, by_seed in runs.items():
        if not by_seed:
            continue
        per_seed = {seed: summarize(records, marks) for seed, records in by_seed.items()}
        reaches = [s["trials_to_98"] if s["trials_to_98"] is not None else math.inf for s in per_seed.values()]
        median_reach = statistics.median(reaches)
        summary[method] = {
            "best_test_at": {str(m): median_or_none([s["best_test_at"].get(str(m)) for s in per_seed.values()])
                             for m in marks},
            "trials_to_98": None if math.isinf(median_reach) else median_reach,
            "epochs_trained": median_or_none([s["epochs_trained"] for s in per_seed.values()]),
            "stopped_early": median_or_none([s["stopped_early"] for s in per_seed.values()]),
            "wall_seconds": median_or_none([s["wall_seconds"] for s in per_seed.values()]),
            "seeds_run": sorted(int(seed) for seed in by_seed),
            "per_seed": per_seed,
        }
    return summary


def write_report(out: str, settings: dict, runs: dict, transfer: list, total_seconds: float, complete: bool) -> dict:
    """Summarises what has run so far and writes it as JSON and markdown
    (after every method and seed, so an interrupted benchmark still leaves its
    finished part; each file is written whole and renamed)."""
    report = {
        **settings,
        "budget_marks": [m for m in BUDGET_MARKS if m <= settings["budget"]],
        "total_seconds": round(total_seconds, 1), "complete": complete,
        "summary": summarize_runs(runs, settings["budget"]), "transfer": transfer, "trials": runs,
    }
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(report, indent=1) + "\n"), (".md", markdown(report))):
        partial = path.with_suffix(suffix + ".tmp")
        partial.write_text(text)
        partial.replace(path.with_suffix(suffix))
    return report


def combine(paths: list[str], out: str, command: Optional[str] = None, complete: bool = True) -> dict:
    """One report from several runs of this benchmark with the same settings
    (e.g. seeds run in two processes): their trials side by side."""
    reports = [json.loads(Path(p).read_text()) for p in paths]
    keys = ("dataset", "space", "epochs", "budget", "options")
    for other in reports[1:]:
        if any(other[k] != reports[0][k] for k in keys):
            raise SystemExit(f"search_efficiency: cannot combine runs with different settings ({', '.join(keys)})")
    runs: dict[str, dict[str, list]] = {}
    for report in reports:
        for method, by_seed in report["trials"].items():
            runs.setdefault(method, {}).update(by_seed)
    settings = {k: reports[0][k] for k in ("machine", "dataset", "split_sizes", *keys)}
    threads = sorted({r.get("threads") for r in reports} - {None})
    settings["threads"] = threads[0] if len(threads) == 1 else threads
    # Each run's own command stays in the report (a combined report's own list,
    # or its " + "-joined command, counts as its runs); `command` may summarise them.
    settings["runs"] = [c for r in reports for c in r.get("runs") or r["command"].split(" + ")]
    settings["command"] = command or " + ".join(settings["runs"])
    settings["seeds"] = sorted({s for r in reports for s in r["seeds"]})
    transfer = next((r["transfer"] for r in reports if r["transfer"]), [])
    # Partial parts make a complete whole once every method has run every seed.
    covered = all(set(runs.get(m, {})) >= {str(s) for s in settings["seeds"]} for m in METHODS)
    return write_report(out, settings, runs, transfer, sum(r["total_seconds"] for r in reports),
                        complete and (covered or all(r["complete"] for r in reports)))


def job_commands(args, scratch: Path) -> list[tuple[str, int, list[str]]]:
    """One command per method and seed, in the order a single run takes them;
    the transfer measurement goes with the first seed's beam run."""
    shared = ["--budget", str(args.budget), "--epochs", str(args.epochs), "--threads", str(args.threads or 1)]
    shared += [flag for flag, on in (("--no-weight-sharing", args.no_weight_sharing),
                                     ("--teacher-distillation", args.teacher_distillation),
                                     ("--no-early-stopping", args.no_early_stopping)) if on]
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=40, help="trials per method and seed")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per trial")
    parser.add_argument("--transfer-pairs", type=int, default=3,
                        help="parent/child pairs of the first beam run to retrain (0: skip)")
    parser.add_argument("--no-weight-sharing", action="store_true")
    parser.add_argument("--teacher-distillation", action="store_true",
                        help="children also learn from the best trial so far (the platform's default is off)")
    parser.add_argument("--no-early-stopping", action="store_true")
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
    for noisy in ("tensorflow", "absl", "keras_tuner"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    data = load_mnist1d()
    scratch = Path(tempfile.mkdtemp(prefix="search-efficiency-"))
    runs: dict[str, dict[str, list[dict]]] = {m: {} for m in args.methods}
    transfer = []
    started = time.monotonic()
    settings = {
        "machine": study_run.machine(), "threads": args.threads or os.cpu_count(),
        "command": command,
        "dataset": "mnist1d", "split_sizes": data.spec.split_sizes, "space": SPACE,
        "epochs": args.epochs, "budget": args.budget, "seeds": args.seeds,
        "options": {"weight_sharing": not args.no_weight_sharing, "distillation": args.teacher_distillation,
                    "early_stopping": "none" if args.no_early_stopping else "median"},
    }
    try:
        for seed in args.seeds:
            for method in args.methods:
                workdir = scratch / f"{method}-s{seed}"
                workdir.mkdir(parents=True)
                if method in OURS:
                    records, history = run_ours(method, seed, args, data, workdir)
                    if method == "beam" and seed == args.seeds[0] and args.transfer_pairs:
                        transfer = transfer_effect(history, data, args, scratch / "transfer", args.transfer_pairs)
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
