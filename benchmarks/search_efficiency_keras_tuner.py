"""The search-efficiency benchmark: KerasTuner (RandomSearch,
BayesianOptimization, Hyperband) over the same space, built by the same model
builder."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_efficiency_data import SPACE, Data, log  # noqa: E402

# Random trials before BayesianOptimization fits its Gaussian process (Optuna's TPE starts after 10 too).
BAYES_INITIAL_POINTS = 10
# The seed KerasTuner gets for seed 0, which it would otherwise replace with a random one.
KERAS_TUNER_SEED_ZERO = 2**31 - 1


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

