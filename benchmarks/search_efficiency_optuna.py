"""The search-efficiency benchmark: Optuna as a peer - a study with its TPE
sampler (seeded) and its HyperbandPruner, whose objective draws the candidate
define-by-run over the same space as KerasTuner (`architecture_from`), builds
it with the same model builder, trains it on the same data and reports the
eval accuracy after every epoch so the pruner can stop it.

Its budget is counted like kt_hyperband's, in epoch-equivalent trials (total
epochs / epochs per trial), since pruned trials are short; or in wall time
with `--seconds`. A pruned trial's model is still a candidate the method may
pick, like Hyperband's short trials (`stopped_early` in its record).
It fits with the drawn batch size and learning-rate schedule, as the
platform's trainer does, and so do the KerasTuner tuners now (the committed
results were measured when they fitted at Keras's default batch size, 32, and a
constant learning rate, whatever they drew).

Time to accuracy against the peers (issue 23), 3 seeds, one TensorFlow thread
a run, two runs at a time, 20 minutes a method and seed (the committed
benchmarks/results/time_to_accuracy_peers.{json,md}):

    .venv/bin/python benchmarks/search_efficiency.py --methods kt_hyperband optuna_tpe_hyperband \\
        --seeds 0 1 2 --seconds 1200 --jobs 2 --transfer-pairs 0 --out benchmarks/results/time_to_accuracy_peers

The platform's own configuration with the same harness (e.g. `--methods beam`
with its options) into another file, then both joined into one report:

    .venv/bin/python benchmarks/search_efficiency.py --combine benchmarks/results/time_to_accuracy_peers.json \\
        OURS.json --out benchmarks/results/time_to_accuracy
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_efficiency_data import SPACE, Budget, Data, fitted_record  # noqa: E402

from search_algo.algorithms.optuna_tpe import OptunaSuggest  # noqa: E402
from search_algo.space_walk import architecture_from  # noqa: E402

# Hyperband's reduction factor, as kt_hyperband's `factor`.
REDUCTION_FACTOR = 3


def run_optuna(method: str, seed: int, args, data: Data, workdir: Path) -> list[dict]:
    import keras
    import optuna

    from search_algo.model_builder import build_model, learning_rate_callbacks
    from search_algo.search_space import SearchSpace

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # `args.space`: another study's space (benchmarks/time_to_accuracy.py); default the benchmark's own.
    space = SearchSpace.from_dict(getattr(args, "space", SPACE), data.spec.input_kind)
    records: list[dict] = []
    budget = Budget.of(args)

    class Pruning(keras.callbacks.Callback):
        """Reports each epoch's eval accuracy to the trial and ends training
        when the pruner says so. It stops `fit` rather than raising
        optuna.TrialPruned inside it (optuna-integration's callback), so the
        pruned model is still there to be scored on test and recorded."""

        def __init__(self, trial):
            super().__init__()
            self.trial, self.pruned = trial, False

        def on_epoch_end(self, epoch, logs=None):
            self.trial.report(float(logs["val_accuracy"]), step=epoch + 1)
            if self.trial.should_prune():
                self.pruned = self.model.stop_training = True

    def objective(trial):
        begun = time.monotonic()
        architecture = architecture_from(OptunaSuggest(trial), space)
        model = build_model(architecture, data.spec, seed=seed)
        pruning = Pruning(trial)
        # As the platform's trainer fits: the drawn batch size and learning-rate schedule.
        history = model.fit(data.train.features, data.train.labels, epochs=args.epochs, verbose=0,
                            batch_size=architecture.hyperparameters.batch_size, shuffle=True,
                            validation_data=(data.evaluation.features, data.evaluation.labels),
                            callbacks=[pruning, *learning_rate_callbacks(architecture.hyperparameters, args.epochs)])
        records.append(fitted_record(method, seed, len(records), model, history, architecture, data, args.epochs,
                                     begun, budget.started, stopped_early=pruning.pruned))
        budget.epochs_spent += records[-1]["epochs"]
        keras.backend.clear_session()
        if pruning.pruned:
            raise optuna.TrialPruned()
        return records[-1]["eval_accuracy"]

    def stop_when_used_up(study, _):
        if budget.used_up():
            study.stop()

    study = optuna.create_study(
        study_name=f"{method}-s{seed}", direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=args.epochs,
                                              reduction_factor=REDUCTION_FACTOR),
    )
    keras.utils.set_random_seed(seed)
    study.optimize(objective, callbacks=[stop_when_used_up], gc_after_trial=True)
    return records
