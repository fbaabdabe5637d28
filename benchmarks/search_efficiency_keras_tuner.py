"""The search-efficiency benchmark: KerasTuner (RandomSearch,
BayesianOptimization, Hyperband) over the same space, built by the same model
builder."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_efficiency_data import SPACE, UNBOUNDED_TRIALS, Budget, Data, fitted_record  # noqa: E402

from search_algo.space_walk import architecture_from  # noqa: E402

# Random trials before BayesianOptimization fits its Gaussian process (Optuna's TPE starts after 10 too).
BAYES_INITIAL_POINTS = 10
# The seed KerasTuner gets for seed 0, which it would otherwise replace with a random one.
KERAS_TUNER_SEED_ZERO = 2**31 - 1


class KerasTunerSuggest:
    """`architecture_from`'s draws as KerasTuner hyperparameters."""

    def __init__(self, hp):
        self.hp = hp

    def boolean(self, name):
        return self.hp.Boolean(name)

    def choice(self, name, values):
        return self.hp.Choice(name, values)

    def integer(self, name, low, high, log):
        return self.hp.Int(name, low, high, sampling="log" if log else "linear")

    def real(self, name, low, high, log):
        return self.hp.Float(name, low, high, sampling="log" if log else "linear")


def keras_tuner_space(hp, space):
    """An Architecture from KerasTuner hyperparameters covering `space`."""
    return architecture_from(KerasTunerSuggest(hp), space)


def run_keras_tuner(method: str, seed: int, args, data: Data, workdir: Path) -> list[dict]:
    import keras
    import keras_tuner as kt

    from search_algo.model_builder import build_model, learning_rate_callbacks
    from search_algo.search_space import SearchSpace

    # `args.space`: another study's space (benchmarks/time_to_accuracy.py); default the benchmark's own.
    space = SearchSpace.from_dict(getattr(args, "space", SPACE), data.spec.input_kind)
    records: list[dict] = []
    budget = Budget.of(args)

    class BlockHyperModel(kt.HyperModel):
        def build(self, hp):
            arch = keras_tuner_space(hp, space)
            return build_model(arch, data.spec, seed=seed)

        def fit(self, hp, model, *fit_args, **fit_kwargs):
            begun = time.monotonic()
            arch = keras_tuner_space(hp, space)
            # At the batch size the trial drew (`search` passes none, which would be Keras' 32 for every trial),
            # with its learning-rate schedule over the full epoch budget (epoch indices count on across
            # Hyperband's rounds, `initial_epoch`), as Optuna's and the platform's trainers fit.
            fit_kwargs["callbacks"] = [*(fit_kwargs.get("callbacks") or []),
                                       *learning_rate_callbacks(arch.hyperparameters, args.epochs)]
            history = model.fit(*fit_args, batch_size=arch.hyperparameters.batch_size, **fit_kwargs)
            records.append(fitted_record(method, seed, len(records), model, history, arch,
                                         data, args.epochs, begun, budget.started,
                                         parent=hp.values.get("tuner/trial_id")))
            budget.epochs_spent += records[-1]["epochs"]
            return history

    def budgeted(oracle_class):
        """The oracle stopped once the budget is used up."""

        def populate_space(self, trial_id):
            if budget.used_up():
                return {"status": "STOPPED"}
            return oracle_class.populate_space(self, trial_id)

        return type(f"Budgeted{oracle_class.__name__}", (oracle_class,), {"populate_space": populate_space})

    # KerasTuner reads seed 0 as "no seed" and draws one at random.
    common = dict(hypermodel=BlockHyperModel(), directory=str(workdir), project_name=method, overwrite=True,
                  seed=seed or KERAS_TUNER_SEED_ZERO)
    objective = kt.Objective("val_accuracy", "max")
    max_trials = budget.trials or UNBOUNDED_TRIALS
    if method == "kt_random":
        tuner = kt.RandomSearch(objective=objective, max_trials=max_trials, **common)
    elif method == "kt_bayes":
        # KerasTuner's default, 3 random trials per hyperparameter (well over 40 in this space), would leave
        # it random search for the whole budget.
        tuner = kt.BayesianOptimization(objective=objective, max_trials=max_trials,
                                        num_initial_points=min(BAYES_INITIAL_POINTS, max_trials), **common)
    else:
        tuner = kt.Hyperband(objective=objective, max_epochs=args.epochs, factor=3, hyperband_iterations=100,
                             **common)
    # Hyperband's own budget is in iterations; it and any tuner on a wall-time budget stop on ours.
    if method == "kt_hyperband" or budget.seconds is not None:
        tuner.oracle.__class__ = budgeted(type(tuner.oracle))
    keras.utils.set_random_seed(seed)
    # A search where every model fails must not spin: KerasTuner raises after 3 in a row.
    tuner.search(data.train.features, data.train.labels, epochs=args.epochs, verbose=0,
                 validation_data=(data.evaluation.features, data.evaluation.labels))
    keras.backend.clear_session()
    return records
