"""Training one trial: build, transfer, fit, evaluate, save - isolated.

Whatever goes wrong inside a trial (an exception, a NaN loss, the time limit)
marks that trial failed with its reason; the trainer and the search go on.
"""

from __future__ import annotations

import dataclasses
import datetime
import gc
import json
import logging
import math
import os
import tempfile
import time
import types
from typing import Any, Optional

import keras
import numpy as np

from components import files, trial_files
from components.examples_io import Split
from components.trial_model import (
    inference_function, load_trial_model, predict_split, read_trial_record, restore_training_state,
)
from search_algo.dataset_spec import DatasetSpec
from search_algo.distillation import compile_for_distillation
from search_algo.early_stopping import MedianStoppingRule
from search_algo.model_builder import CosineDecay, block_layers, build_model, learning_rate_callbacks, parameter_count
from search_algo.objective import Objective, ObjectiveLike, as_objective, prediction_metrics
from search_algo.trial import COMPLETED, FAILED, TRANSFER_CONTINUE, TRANSFER_WEIGHTS, Trial
from search_algo.weight_transfer import transfer_weights

log = logging.getLogger(__name__)


class TrialFailure(Exception):
    """A trial-level failure with a user-readable reason."""


class _Guard(keras.callbacks.Callback):
    """Stops training on a NaN loss or when the per-trial time limit is spent.

    Async-safe: Keras then runs the batch hook on its callback thread with the
    logs already converted, and keeps dispatching steps. A callback with a batch
    hook that is not async-safe makes every step wait for its logs."""

    async_safe = True

    def __init__(self, time_limit_seconds: Optional[float]):
        super().__init__()
        self._deadline = time.monotonic() + time_limit_seconds if time_limit_seconds else None
        self._limit = time_limit_seconds
        self.epoch = 0
        self.reason: Optional[str] = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.reason = f"the loss became {float(loss)} in epoch {self.epoch}"
        elif self._deadline is not None and time.monotonic() > self._deadline:
            self.reason = f"exceeded the per-trial time limit of {self._limit:g} s in epoch {self.epoch}"
        if self.reason:
            self.model.stop_training = True


class _EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard writing per epoch only, without batch hooks: with
    `update_freq="epoch"` they write nothing, yet their presence makes Keras
    wait for every step's logs."""

    on_train_batch_begin = keras.callbacks.Callback.on_train_batch_begin
    on_train_batch_end = keras.callbacks.Callback.on_train_batch_end


class _EpochTimer(keras.callbacks.Callback):
    """Each epoch's seconds in the training steps, up to its validation pass:
    what compares with a Keras `fit` epoch without validation data. Keras
    calls `on_test_begin` (a validation pass inside `fit`) or `on_epoch_end`
    once the epoch's steps are done (it waits for their logs first), so no
    batch hook is needed; the trainer's eval pass (`_EvalPass`) runs in
    `on_epoch_end` after this callback's, so it is left out too."""

    async_safe = True

    def __init__(self):
        super().__init__()
        self.epoch_seconds: list[float] = []
        self._started: Optional[float] = None
        self._steps_done: Optional[float] = None

    def on_epoch_begin(self, epoch, logs=None):
        self._started, self._steps_done = time.monotonic(), None

    def on_test_begin(self, logs=None):
        if self._started is not None and self._steps_done is None:
            self._steps_done = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if self._started is not None:
            self.epoch_seconds.append(round((self._steps_done or time.monotonic()) - self._started, 3))
            self._started = None


class _EvalPass(keras.callbacks.Callback):
    """After each epoch, the one pass of the model over the eval split: its
    predictions give every metric (Keras' loss and accuracy or RMSE as Keras
    computes them, and log loss, macro-F1, ROC AUC, MAE), put in the epoch's
    logs as `val_*` like Keras' own validation would. The curve (the
    objective, higher is better) and the early-stopping rule follow it, and
    the last epoch's metrics are the trial's: no validation pass inside `fit`,
    no `evaluate` nor `predict` after it."""

    def __init__(self, objective: Objective, rule: Optional[MedianStoppingRule], evaluation: Split,
                 spec: DatasetSpec):
        super().__init__()
        self._objective = objective
        self._rule = rule
        self._evaluation = evaluation
        self._spec = spec
        self._labels = evaluation.labels()
        self._function = None
        self.curve: list[float] = []
        self.metrics: dict[str, float] = {}
        self.stopped = False

    def on_epoch_end(self, epoch, logs=None):
        if self._function is None:
            # Traced after the first epoch's steps, not before them: the time
            # limit then stops the training steps as before.
            self._function = inference_function(self.model, self._evaluation)
        values = predict_split(self.model, self._evaluation, self._function)
        if not np.all(np.isfinite(values)):
            # A diverged model (the guard names the epoch); sklearn's metrics would raise on it.
            self.metrics = {"loss": math.nan}
            return
        self.metrics = eval_metrics(values, self._labels, self._spec)
        if logs is not None:
            logs.update({f"val_{key}": value for key, value in self.metrics.items() if key in KERAS_METRICS})
        value = self._objective.score(self.metrics)
        if not math.isfinite(value):
            return
        self.curve.append(round(value, 6))
        last_epoch = epoch + 1 >= int(self.params.get("epochs") or 0)
        if self._rule is not None and not last_epoch and self._rule.should_stop(self.curve):
            self.stopped = True
            self.model.stop_training = True


def _search_clock() -> float:
    """The wall clock a study's time budget is kept on (tests replace it)."""
    return time.time()


class _FitToDeadline(keras.callbacks.Callback):
    """Under a study time budget, fits the trial to the search's deadline
    instead of letting the time limit fail it there: after each epoch (its
    eval pass included; this callback comes after `_EvalPass`) it estimates
    how many more epochs fit before the deadline. When fewer than planned,
    the learning-rate schedule is moved to end at the last epoch that fits and
    training stops after it, so the trial completes with an annealed model
    and the epochs it trained are not lost.

    The first epoch is no guide to the others: it traces the training and
    evaluation functions (on mnist1d 4-10 s against 1-5 s for the epochs
    after it). Judged on it, every trial of a round that started with a few
    minutes left was cut to 21-27 of 32 epochs and ended 95 s before the
    deadline. So after the first epoch a trial stops only if not one more
    epoch of its length fits, and otherwise decides after the second; the
    estimate is the larger of the last epoch and the mean of the epochs after
    the first. Each estimate replaces the one before, so an end moved earlier
    by a slow epoch (another trainer's load) moves back when time allows."""

    # An epoch may take longer than the ones before it (another trainer's load);
    # and the trial's weights are still to be saved after its last epoch.
    SAFETY = 1.15
    SAVE_SECONDS = 2.0

    def __init__(self, deadline: float, schedule: Optional[CosineDecay]):
        super().__init__()
        self._deadline = deadline
        self._schedule = schedule
        self._started: Optional[float] = None
        self._durations: list[float] = []
        self.last_epoch: Optional[int] = None

    @property
    def shortened(self) -> bool:
        """Whether the trial ends before its planned epochs to meet the deadline."""
        return self.last_epoch is not None

    def on_epoch_begin(self, epoch, logs=None):
        self._started = _search_clock()

    def on_epoch_end(self, epoch, logs=None):
        now = _search_clock()
        if self._started is not None:
            self._durations.append(now - self._started)
        if self.model.stop_training or not self._durations:
            return
        planned_last = int(self.params.get("epochs") or 0) - 1
        if epoch >= planned_last:
            return
        steady = self._durations[1:] or self._durations
        per_epoch = max(self._durations[-1], sum(steady) / len(steady)) * self.SAFETY
        if per_epoch <= 0:
            return
        fit = int(max(0.0, self._deadline - now - self.SAVE_SECONDS) // per_epoch)
        if len(self._durations) == 1 and fit >= 1:
            return  # the first epoch overstates the rest: decide after the second
        last = min(epoch + fit, planned_last)
        moved = None if last == planned_last else last
        if moved != self.last_epoch:
            self.last_epoch = moved
            if self._schedule is not None and fit > 0:
                self._schedule.end_at(last + 1)
                log.info("fitted to the search deadline: %d more epoch(s), the schedule now ends at epoch %d",
                         fit if moved is not None else planned_last - epoch, last + 1)
        if self.last_epoch is not None and epoch >= self.last_epoch:
            self.model.stop_training = True


# What Keras' validation would log (compile_model's loss and metric).
KERAS_METRICS = ("loss", "accuracy", "rmse")
# The smallest normal float32: a probability the model's softmax rounded to 0
# gives a large finite loss instead of infinity.
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def eval_metrics(values: np.ndarray, labels: np.ndarray, spec: DatasetSpec) -> dict[str, float]:
    """A trial's eval metrics from its predictions. `loss` is compile_model's
    loss as Keras computes it (cross-entropy from the softmax's logits, or the
    squared error in label standard deviations); the others as
    `prediction_metrics` computes them for every candidate."""
    metrics = prediction_metrics(values, labels, spec.task)
    if spec.task == "classification":
        rows = np.asarray(values, dtype=np.float64)
        picked = rows[np.arange(len(rows)), np.asarray(labels).reshape(-1).astype(np.int64)]
        metrics["loss"] = float(-np.mean(np.log(np.maximum(picked, _FLOAT32_TINY))))
    else:
        errors = np.asarray(values, dtype=np.float64).reshape(-1) - np.asarray(labels, dtype=np.float64).reshape(-1)
        metrics["loss"] = float(np.mean((errors / float(spec.label_std or 1.0)) ** 2))
    return metrics


# Distillation during the search: an equal mix of the labels and the teacher's
# soft predictions at temperature 2 (Hinton et al.'s usual setting).
SEARCH_DISTILLATION_TEMPERATURE = 2.0
SEARCH_DISTILLATION_ALPHA = 0.5


def _teacher_predictions(teacher_dir: str, spec: DatasetSpec, *splits: Split) -> list[np.ndarray]:
    """The teacher's outputs on each split, one row per example in the split's canonical order."""
    teacher, _ = load_trial_model(teacher_dir, spec)
    outputs = [predict_split(teacher, split) for split in splits]
    del teacher
    return outputs


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".strip()


def train_trial(
    trial: Trial,
    spec: DatasetSpec,
    train: Split,
    evaluation: Split,
    epochs: int,
    time_limit_seconds: Optional[float],
    trial_dir: str,
    stopping: Optional[MedianStoppingRule] = None,
    tensorboard_dir: Optional[str] = None,
    progress: Optional[Any] = None,
    objective: ObjectiveLike = "",
    parent_dir: Optional[str] = None,
    teacher_dir: Optional[str] = None,
    schedule_epochs: Optional[int] = None,
    search_deadline: Optional[float] = None,
) -> Trial:
    """Trains one proposal and returns its completed or failed record. Writes
    the trial's files into `trial_dir` only if it completed; a trial whose
    files could not all be written is failed, its partial files removed.

    Weight sharing starts the model from its parent's trained blocks (from
    `parent_dir`, its files); a promotion (`transfer` continue) goes on
    training its parent's model where it stopped - weights, optimizer state
    and epoch - for `epochs` more. A teacher (`teacher_dir`) adds its soft
    predictions to the labels (classification); `stopping` ends a clearly bad
    trial early, which still completes with what it reached. The
    learning-rate schedule spans `schedule_epochs` (a budget schedule's top
    rung, so that every rung trains a prefix of one run; unset: up to where
    this trial ends). Under a study time budget, `search_deadline` (epoch
    seconds) is when the search ends: a trial that would not finish by then
    trains the epochs that fit, its schedule shortened to anneal over them
    (`_FitToDeadline`), and completes. `progress.phase` (the watchdog's) is
    told what the trial is doing."""
    progress = progress if progress is not None else types.SimpleNamespace(phase="")
    objective = as_objective(objective or spec.task)
    result = dataclasses.replace(trial, started_at=_now(), status=FAILED)
    started = time.monotonic()
    try:
        keras.utils.set_random_seed(trial.seed)
        progress.phase = "building the model"
        model = build_model(trial.architecture, spec, seed=trial.seed)
        result.num_params = parameter_count(model)
        continuing = bool(trial.parent) and trial.transfer == TRANSFER_CONTINUE
        if trial.parent and trial.transfer in (TRANSFER_WEIGHTS, TRANSFER_CONTINUE) and not parent_dir:
            raise TrialFailure(f"the files of parent {trial.parent} are gone; it cannot share its weights")
        if trial.parent and trial.transfer == TRANSFER_WEIGHTS:
            progress.phase = "transferring the parent's weights"
            parent_model, parent_arch = load_trial_model(parent_dir, spec)
            report = transfer_weights(parent_model, parent_arch, model, trial.architecture)
            result.transferred_blocks = [t.layer for t in report.transferred]
            del parent_model
        # None: y is the label; else the teacher's output row per example (y: their distillation target).
        teacher_outputs = None
        distilling = bool(trial.teacher) and spec.task == "classification"
        if distilling:
            progress.phase = "computing the teacher's predictions"
            if not teacher_dir:
                raise TrialFailure(f"the files of teacher {trial.teacher} are gone")
            (teacher_outputs,) = _teacher_predictions(teacher_dir, spec, train)
            compile_for_distillation(model, trial.architecture.hyperparameters, spec,
                                     SEARCH_DISTILLATION_TEMPERATURE, SEARCH_DISTILLATION_ALPHA)
        if continuing:
            progress.phase = "restoring the parent's training state"
            result.initial_epoch = _continue_from(model, trial, parent_dir)
            result.transferred_blocks = sorted(block_layers(model))
        guard = _Guard(time_limit_seconds)
        evaluation_pass = _EvalPass(objective, stopping, evaluation, spec)
        timer = _EpochTimer()
        last_epoch = result.initial_epoch + epochs
        schedule = learning_rate_callbacks(trial.architecture.hyperparameters, schedule_epochs or last_epoch)
        callbacks = [timer, guard, evaluation_pass, *schedule]
        fitting = None
        if search_deadline is not None:
            fitting = _FitToDeadline(search_deadline, next((c for c in schedule if isinstance(c, CosineDecay)), None))
            callbacks.append(fitting)
        if tensorboard_dir:
            callbacks.append(_EpochTensorBoard(
                log_dir=tensorboard_dir, write_graph=False, profile_batch=0, update_freq="epoch"))
        progress.phase = "training"
        batch_size = trial.architecture.hyperparameters.batch_size
        batches = train.batches(batch_size, seed=trial.seed, teacher_outputs=teacher_outputs, task=spec.task)
        del teacher_outputs  # the dataset holds the teacher's rows
        # Each pass over `batches` draws the next order; a continued run
        # passes over the orders its parent used (an iterator each, unread).
        for _ in range(result.initial_epoch):
            iter(batches)
        history = model.fit(batches, epochs=last_epoch, initial_epoch=result.initial_epoch, callbacks=callbacks,
                            verbose=0)
        result.epochs = len(history.history.get("loss", []))
        result.epoch_seconds = timer.epoch_seconds
        result.fit_seconds = round(sum(timer.epoch_seconds), 3)
        result.curve = evaluation_pass.curve
        result.stopped_early = evaluation_pass.stopped
        result.shortened_for_budget = bool(fitting and fitting.shortened and not evaluation_pass.stopped)
        if guard.reason:
            raise TrialFailure(guard.reason)
        metrics = evaluation_pass.metrics
        if not metrics or not all(math.isfinite(v) for v in metrics.values()):
            raise TrialFailure(f"eval metrics are not finite: {metrics}")
        result.metrics = metrics
        result.train_seconds = round(time.monotonic() - started, 3)
        progress.phase = "saving the model"
        completed = dataclasses.replace(result, status=COMPLETED, error=None)
        try:
            _save_trial(model, completed, history.history, trial_dir)
        except Exception as error:  # noqa: BLE001 - disk full, permissions, a bucket gone
            _remove_partial(trial_dir)
            raise TrialFailure(f"could not save the trained model: {_one_line(error)}") from error
        # Completed only now that every file is written.
        result = completed
        if tensorboard_dir:
            try:
                write_hparams(tensorboard_dir, result)
            except Exception as error:  # noqa: BLE001 - a missing summary does not make the trial fail
                log.warning("trial %s: its TensorBoard summary was not written: %s", trial.trial_id, _one_line(error))
    except TrialFailure as failure:
        result.error = str(failure)
    except Exception as error:  # noqa: BLE001 - one trial must never stop the search
        log.debug("trial %s failed", trial.trial_id, exc_info=True)
        result.error = _one_line(error)
    finally:
        if result.train_seconds is None:
            result.train_seconds = round(time.monotonic() - started, 3)
        result.finished_at = _now()
        # A long search must not grow in memory trial after trial.
        keras.backend.clear_session()
        gc.collect()
    return result


def _remove_partial(trial_dir: str) -> None:
    from tfx.dsl.io import fileio

    try:
        if fileio.exists(trial_dir):
            fileio.rmtree(trial_dir)
    except Exception:  # noqa: BLE001 - what cannot be removed has no trial.json, so it is never used
        log.debug("could not remove %s", trial_dir, exc_info=True)


def trial_hparams(trial: Trial) -> dict:
    """What the TensorBoard HParams dashboard compares trials by (scalars only)."""
    values = {key: value for key, value in trial.hparams.items()}
    values.update({
        "blocks": "+".join(trial.block_names),
        "depth": trial.architecture.depth,
        "head_hidden_units": trial.architecture.head.hidden_units,
        "algorithm": trial.algorithm,
        "round": trial.round,
        "weight_sharing": trial.transfer != "none",
        "teacher": bool(trial.teacher),
    })
    return values


def write_hparams(log_dir: str, trial: Trial) -> None:
    """The trial's hyperparameters and final metrics, as the HParams dashboard reads them."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hparams_api

    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        hparams_api.hparams(trial_hparams(trial), trial_id=trial.trial_id)
        for name, value in trial.metrics.items():
            tf.summary.scalar(f"trial/eval_{name}", value, step=trial.epochs or 0)
        tf.summary.scalar("trial/num_params", float(trial.num_params or 0), step=trial.epochs or 0)
        tf.summary.scalar("trial/train_seconds", float(trial.train_seconds or 0), step=trial.epochs or 0)
    writer.close()


def _continue_from(model: keras.Model, trial: Trial, parent_dir: str) -> int:
    """Restores the parent's weights and optimizer state into `model` (the
    same architecture) and returns the epoch the parent stopped after."""
    parent = read_trial_record(parent_dir)
    if parent.architecture.to_dict() != trial.architecture.to_dict():
        # A promotion that did not get all of its parent's weights would be scored as if it had.
        raise TrialFailure(f"cannot continue {trial.parent}: its model differs from this trial's")
    restore_training_state(model, parent_dir)
    return parent.initial_epoch + (parent.epochs or 0)


def _save_trial(model: keras.Model, trial: Trial, history: dict, trial_dir: str) -> None:
    """The weights with the optimizer's state (what a promotion continues
    from), the history, then the record. No SavedModel: the post-search node
    that picks a trial exports it (components/trial_model.py)."""
    from tfx.dsl.io import fileio

    fileio.makedirs(trial_dir)
    with tempfile.TemporaryDirectory() as scratch:
        local = os.path.join(scratch, trial_files.WEIGHTS_FILE)
        model.save_weights(local)
        fileio.copy(local, os.path.join(trial_dir, trial_files.WEIGHTS_FILE), overwrite=True)
    curves = {key: [float(v) for v in values] for key, values in history.items()}
    files.write_text(os.path.join(trial_dir, trial_files.HISTORY_FILE), json.dumps(curves))
    # Written last: its presence marks the trial's files complete.
    files.write_text(os.path.join(trial_dir, trial_files.TRIAL_FILE), trial.to_json())
