"""`train_trial` on tiny in-memory data: a promotion continues its parent's run
(weights, optimizer state, epoch, learning-rate schedule, data order) as if
trained straight through; the one eval pass per epoch gives Keras' own
numbers; trials save weights, not a SavedModel, and are exported on demand;
nothing is traced again and again."""

from __future__ import annotations

import dataclasses
import json
import logging
import os

import numpy as np
import pytest

from components.examples_io import ArraySplit
from search_algo.architecture import Architecture
from search_algo.testing import sequence_spec
from search_algo.trial import TRANSFER_CONTINUE, Trial

STEPS = 12


def _splits(task: str, seed: int = 0):
    rng = np.random.default_rng(seed)

    def split(count):
        features = rng.normal(size=(count, STEPS, 1)).astype("float32")
        if task == "classification":
            labels = (features[:, :4, 0].sum(axis=1) > 0).astype("int64") + (features[:, -1, 0] > 1)
        else:
            labels = (features.sum(axis=(1, 2)) * 2 + 3).astype("float32")
        return ArraySplit({"x": features}, labels)

    return split(192), split(70)


def _trial(trial_id: str, lr_schedule: str = "cosine", **fields) -> Trial:
    architecture = Architecture.from_dict({
        "blocks": [{"name": "conv1d", "args": {"filters": 8, "kernel_size": 3, "strides": 1}}],
        "hyperparameters": {"learning_rate": 0.01, "batch_size": 32, "lr_schedule": lr_schedule},
    })
    return Trial(trial_id, 1, 0, architecture, seed=7, algorithm="test", run_id="run1", study="tiny", **fields)


def _train(trial, tmp_path, epochs, task="classification", **kwargs):
    from components.trainer.training import train_trial

    spec = sequence_spec(task=task, steps=STEPS)
    train, evaluation = _splits(task)
    result = train_trial(trial, spec, train, evaluation, epochs, None, str(tmp_path / trial.trial_id),
                         objective=task, **kwargs)
    assert result.status == "completed", result.error
    result.path = str(tmp_path / trial.trial_id)
    return result


def _weights(trial_dir: str, spec, optimizer: bool):
    from components.trial_model import read_trial_record, restore_training_state
    from search_algo.model_builder import build_model

    record = read_trial_record(trial_dir)
    model = build_model(record.architecture, spec, seed=0)
    restore_training_state(model, trial_dir)
    variables = model.optimizer.variables if optimizer else model.weights
    return [np.asarray(v) for v in variables], int(model.optimizer.iterations.numpy())


@pytest.mark.slow
def test_a_promotion_continues_its_parents_run_as_if_trained_straight_through(tmp_path):
    spec = sequence_spec(steps=STEPS)
    straight = _train(_trial("straight"), tmp_path, 3, schedule_epochs=3)
    parent = _train(_trial("parent", planned_epochs=1, total_epochs=1), tmp_path, 1, schedule_epochs=3)
    promoted = _train(_trial("promoted", parent="parent", transfer=TRANSFER_CONTINUE, planned_epochs=2,
                             total_epochs=3), tmp_path, 2, schedule_epochs=3, parent_dir=parent.path)

    assert (promoted.initial_epoch, promoted.epochs) == (1, 2)
    assert promoted.transferred_blocks, "every block came from the parent"
    # 192 examples in batches of 32: 6 steps an epoch; the optimizer counts on from the parent's.
    straight_weights, straight_steps = _weights(straight.path, spec, optimizer=False)
    promoted_weights, promoted_steps = _weights(promoted.path, spec, optimizer=False)
    assert straight_steps == promoted_steps == 18
    # The same cosine schedule over 3 epochs, the same data order, the same Adam moments.
    history = json.loads(open(os.path.join(promoted.path, "history.json")).read())
    straight_history = json.loads(open(os.path.join(straight.path, "history.json")).read())
    assert history["learning_rate"] == pytest.approx(straight_history["learning_rate"][1:], rel=1e-6)
    for continued, reference in zip(promoted_weights, straight_weights):
        np.testing.assert_allclose(continued, reference, rtol=1e-4, atol=1e-5)
    assert promoted.curve == pytest.approx(straight.curve[1:], abs=1e-4)
    assert promoted.metrics["loss"] == pytest.approx(straight.metrics["loss"], rel=1e-4)
    # Without the parent's state it would be another run: the schedule restarted, the moments gone.
    restarted = _train(_trial("restarted", parent="parent", transfer="weights"), tmp_path, 2,
                       parent_dir=parent.path)
    restarted_weights, restarted_steps = _weights(restarted.path, spec, optimizer=False)
    assert restarted_steps == 12
    assert not all(np.allclose(a, b, atol=1e-5) for a, b in zip(restarted_weights, straight_weights))


@pytest.mark.slow
def test_a_promotion_whose_parent_has_another_model_fails_clearly(tmp_path):
    parent = _train(_trial("parent", lr_schedule="constant"), tmp_path, 1)
    other = dataclasses.replace(_trial("other", parent="parent", transfer=TRANSFER_CONTINUE),
                                architecture=Architecture.from_dict({"blocks": [{"name": "dense"}]}))
    from components.trainer.training import train_trial

    train, evaluation = _splits("classification")
    result = train_trial(other, sequence_spec(steps=STEPS), train, evaluation, 1, None, str(tmp_path / "other"),
                         parent_dir=parent.path)
    assert result.status == "failed" and "cannot continue parent" in result.error


@pytest.mark.slow
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_one_eval_pass_gives_the_numbers_keras_evaluate_gives(tmp_path, task):
    from components.trial_model import load_trial_model

    trial = _train(_trial(task, lr_schedule="constant"), tmp_path, 2, task=task)
    spec = sequence_spec(task=task, steps=STEPS)
    model, _ = load_trial_model(trial.path, spec)
    _, evaluation = _splits(task)
    keras_scores = model.evaluate(evaluation.batches(32), verbose=0, return_dict=True)
    metric = "accuracy" if task == "classification" else "rmse"
    assert trial.metrics["loss"] == pytest.approx(keras_scores["loss"], rel=1e-5)
    assert trial.metrics[metric] == pytest.approx(keras_scores[metric], rel=1e-5)
    history = json.loads(open(os.path.join(trial.path, "history.json")).read())
    assert history[f"val_{metric}"][-1] == trial.metrics[metric] and len(history["val_loss"]) == 2
    expected = {"accuracy", "loss", "log_loss", "macro_f1"} if task == "classification" else {"rmse", "loss", "mae",
                                                                                              "r2"}
    assert set(trial.metrics) == expected


@pytest.mark.slow
def test_trials_keep_weights_and_are_exported_for_serving_when_picked(tmp_path):
    from components import model_export
    from components.examples_io import serialize_features
    from components.trial_model import export_trial

    trial = _train(_trial("served", lr_schedule="constant"), tmp_path, 1)
    assert sorted(os.listdir(trial.path)) == ["history.json", "model.weights.h5", "trial.json"]
    spec = sequence_spec(steps=STEPS)
    export_trial(trial.path, spec, str(tmp_path / "served_model"))
    _, evaluation = _splits("classification")
    features = {"x": np.asarray(evaluation._columns["x"])}
    outputs = model_export.load_predict_fn(str(tmp_path / "served_model"))(serialize_features(features, spec))
    accuracy = float(np.mean(outputs["class_ids"] == evaluation.labels()))
    assert accuracy == pytest.approx(trial.metrics["accuracy"], abs=1e-9)


@pytest.mark.slow
def test_many_short_trials_trace_no_function_again_and_again(tmp_path, caplog):
    """TensorFlow warns when 5 calls in a row of one function's code traced it;
    a trial of one epoch used to call Keras' predict once per model."""
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for index in range(6):
            _train(_trial(f"short{index}", lr_schedule="constant"), tmp_path, 1)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


class _Clock:
    """The study's wall clock, advanced 10 s each time an epoch ends: each
    epoch seems to take 10 s whatever the machine does."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        self.now += 10.0
        return self.now


def test_a_trial_that_would_not_finish_by_the_search_deadline_anneals_over_the_epochs_that_fit(tmp_path,
                                                                                               monkeypatch):
    from components.trainer import training

    clock = _Clock()
    monkeypatch.setattr(training, "_search_clock", clock)
    learning_rates = []
    monkeypatch.setattr(training._FitToDeadline, "on_epoch_begin", lambda self, epoch, logs=None: (
        learning_rates.append(float(np.asarray(self.model.optimizer.learning_rate))),
        setattr(self, "_started", training._search_clock.now)))
    # The first epoch (it traces the functions) decides nothing while one more epoch fits. The second
    # ends at 1020; 43.5 s are left before 1065.5 less 2 s to save: 3 more epochs at 10 s x 1.15, so
    # the end moves to epoch 5. The fourth ends at 1040: 23.5 s left, 2 more - the end moves back to 6.
    fitted = _train(_trial("fitted"), tmp_path, 8, search_deadline=1065.5)
    assert fitted.epochs == 6 and fitted.shortened_for_budget and not fitted.stopped_early
    assert len(fitted.curve) == 6 and fitted.metrics
    # The rates are the ones cosine gives over 8 epochs, then 5, then 6: each epoch's end as estimated then.
    base = 0.01

    def cosine(epoch, over):
        return base * 0.5 * (1 + np.cos(np.pi * epoch / over))

    assert learning_rates == pytest.approx([cosine(0, 8), cosine(1, 8), cosine(2, 5), cosine(3, 5), cosine(4, 6),
                                            cosine(5, 6)], rel=1e-5)

    # With time for every planned epoch, nothing changes.
    monkeypatch.setattr(training, "_search_clock", _Clock())
    whole = _train(_trial("whole"), tmp_path, 3, search_deadline=5000.0)
    assert whole.epochs == 3 and not whole.shortened_for_budget

    # Not even one more epoch fits after the first: the trial completes with it.
    monkeypatch.setattr(training, "_search_clock", _Clock())
    one = _train(_trial("one"), tmp_path, 4, search_deadline=1020.0)
    assert one.epochs == 1 and one.shortened_for_budget


class _Epochs:
    """The study's wall clock with each epoch taking the given seconds in turn."""

    def __init__(self, seconds, start: float = 1000.0):
        self.now, self._seconds = start, list(seconds)

    def __call__(self) -> float:
        self.now += self._seconds.pop(0)
        return self.now


def _clocked(monkeypatch, clock):
    from components.trainer import training

    monkeypatch.setattr(training, "_search_clock", clock)
    monkeypatch.setattr(training._FitToDeadline, "on_epoch_begin",
                        lambda self, epoch, logs=None: setattr(self, "_started", clock.now))


def test_a_slow_first_epoch_does_not_cut_a_trial_that_fits(tmp_path, monkeypatch):
    """The first epoch traces the functions: 30 s here, the others 5 s. Judged
    on it, 6 epochs would not fit in the 60 s left; at 5 s a few they do."""
    _clocked(monkeypatch, _Epochs([30, 5, 5, 5, 5, 5]))
    trial = _train(_trial("slow-first"), tmp_path, 6, search_deadline=1090.0)
    assert trial.epochs == 6 and not trial.shortened_for_budget


def test_an_end_moved_earlier_by_a_slow_epoch_moves_back_when_time_allows(tmp_path, monkeypatch):
    """A 30 s third epoch (another trainer's load) moves the end to the 6th
    of 8 epochs; after two 5 s epochs all 8 fit again, and the trial trains them."""
    _clocked(monkeypatch, _Epochs([5, 5, 30, 5, 5, 5, 5, 5]))
    # After the third epoch (1040): 58 s left at max(30, 17.5) x 1.15 = 34.5 s: 1 more, the end at 4.
    # After the fourth (1045): at 13.3 x 1.15 s 3 more, the end at 7; after the fifth all 8 fit again.
    trial = _train(_trial("transient"), tmp_path, 8, search_deadline=1100.0)
    assert trial.epochs == 8 and not trial.shortened_for_budget
