"""Distiller executor: picks a student architecture from the search and trains
it on the ensemble's soft predictions mixed with the true labels."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from typing import Any, Dict, List, Optional

import keras
import numpy as np
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import examples_io, executor_inputs, files, model_export, scoring, skipped_model
from components.trial_model import load_trial_model
from components.keys import (
    ALPHA_KEY, ARCHITECTURE_PROPERTY, AUGMENT_KEY, CANDIDATE_PROPERTY, EPOCHS_KEY, MAX_PARAMS_KEY, MODEL_KEY,
    NUM_PARAMS_PROPERTY, SEED_KEY, STUDENT_KEY, STUDENT_EPOCH_CHOSEN_ON_EVAL_PROPERTY,
    STUDENT_SOURCE_PROPERTY, STUDENT_TRIAL_PROPERTY, TEACHER_KEY,
    TEMPERATURE_KEY, TRIALS_PREFIX,
)
from search_algo.architecture import Architecture
from search_algo.constraints import Constraints, ModelCost
from search_algo.dataset_spec import DatasetSpec
from search_algo.distillation import (
    AUGMENTATIONS, USABLE_SIZE_SHARE, compile_for_distillation, distillation_targets, mixup_features, one_hot_labels,
    shrink_to_budget, usable_threshold,
)
from search_algo.errors import SearchSpaceError, UserError
from search_algo.model_builder import build_model, learning_rate_callbacks, parameter_count
from search_algo.stack import normalize
from search_algo.time_budget import DISTILL_PATIENCE, TimeBudget
from search_algo.objective import ObjectiveLike, as_objective
from search_algo.trial import Trial, rank_trials

log = logging.getLogger(__name__)

STUDENT_FILE = "student.json"


@dataclasses.dataclass
class StudentChoice:
    architecture: Architecture
    source: str  # "search": a trial's model, trained weights included; "shrunk" or "given": new weights
    budget: int
    num_params: int
    reason: str
    trial: Optional[Trial] = None


def choose_student(trials: List[Trial], spec: DatasetSpec, max_params: int, given: str = "",
                   objective: ObjectiveLike = "") -> StudentChoice:
    """The student: `given` (a trial id of the study, or an architecture as
    JSON) if set; else the best completed trial within the parameter budget
    (default: half the best single model's) that trained its full epochs,
    whose eval score kept at least half the best trial's gain over chance and
    that has at least half the parameters of the best trial's architecture
    narrowed into the budget; else that narrowed architecture, the largest
    `shrink_to_budget` finds within the budget."""
    objective = as_objective(objective or spec.task)
    # A trial whose files were removed (`path` None) can be no student.
    ranked = rank_trials([t for t in trials if t.path], objective)
    if not ranked:
        raise RuntimeError("no completed trial to distil into")
    best = ranked[0]
    budget = max_params or max(1, (best.num_params or 0) // 2)

    # Narrowing counts dozens of candidates: ModelCost memoises them and clears
    # Keras's state after each, so the models built do not pile up in this worker.
    cost = ModelCost(spec, Constraints())

    def count(architecture: Architecture) -> int:
        return cost(architecture).num_params

    if given:
        by_id = {t.trial_id: t for t in ranked}
        if given.strip() in by_id:
            trial = by_id[given.strip()]
            return StudentChoice(trial.architecture, "search", budget, trial.num_params or 0, "given trial", trial)
        try:
            architecture = normalize(Architecture.from_json(given), spec.input_kind)
        except (ValueError, SearchSpaceError) as error:
            raise UserError(f"student: not a completed trial id of the study nor an architecture as JSON ({error})") from None
        return StudentChoice(architecture, "given", budget, count(architecture), "given architecture")

    chance = objective.chance_score(spec.num_classes, float(spec.label_std or 0.0))
    threshold = usable_threshold(best.score(objective), chance)
    narrowed, narrowed_size = shrink_to_budget(best.architecture, count, budget)
    min_size = int(USABLE_SIZE_SHARE * min(narrowed_size, budget))
    within = [t for t in ranked if (t.num_params or 0) <= budget]
    # A trial the early-stopping rule cut short was judged unpromising by the
    # search itself, and its score says little about the architecture.
    usable = [t for t in within
              if not t.stopped_early and t.score(objective) >= threshold and (t.num_params or 0) >= min_size]
    if usable:
        trial = usable[0]
        return StudentChoice(trial.architecture, "search", budget, trial.num_params or 0,
                             f"best trial within the budget ({len(within)} within)", trial)
    why = ("no trial within the budget" if not within
           else f"trials within the budget were stopped early, score under {threshold:.4g}"
                f" or have under {min_size} parameters")
    if narrowed_size > budget:
        log.warning("student: %s could not shrink under %d parameters (%d)", best.trial_id, budget, narrowed_size)
    return StudentChoice(narrowed, "shrunk", budget, narrowed_size, f"{why}: {best.trial_id} narrowed")


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        executor_inputs.load_user_modules(exec_properties)
        examples, spec = executor_inputs.examples_and_spec(input_dict)
        teacher = artifact_utils.get_single_instance(input_dict[TEACHER_KEY])
        model = artifact_utils.get_single_instance(output_dict[MODEL_KEY])
        budget = executor_inputs.time_budget(input_dict, exec_properties)
        if skipped_model.skipped_reason(teacher):
            skipped_model.skip(model, "distilled", "no ensemble was made to learn from")
            return
        if budget is not None and not budget.should_distill(time.time()):
            skipped_model.skip(model, "distilled", f"the time budget ({budget.describe()}) left "
                               f"{budget.distill_seconds(time.time()):.0f} s for the student, too little")
            return
        trials = executor_inputs.study_trials(input_dict, TRIALS_PREFIX)
        choice = choose_student(trials, spec, int(exec_properties[MAX_PARAMS_KEY]),
                                exec_properties.get(STUDENT_KEY) or "",
                                executor_inputs.objective(exec_properties, spec))

        # Both read through tf.data, cached in memory when both fit the budget (examples_io).
        train, evaluation = examples_io.component_splits(examples, ["train", "eval"], spec)
        teacher_predict = model_export.load_predict_fn(teacher.uri)
        soft_eval = evaluation.outputs(teacher_predict, scoring.output_key(spec))

        seed = int(exec_properties[SEED_KEY])
        # A student from the search starts from its trial's trained weights; both learn the teacher's soft labels.
        if choice.trial is not None:
            keras.utils.set_random_seed(seed)
            student, _ = load_trial_model(choice.trial.path, spec)
        else:
            student = build_model(choice.architecture, spec, seed=seed, compile=False)
        hyperparameters = choice.architecture.hyperparameters
        compile_for_distillation(student, hyperparameters, spec, float(exec_properties[TEMPERATURE_KEY]),
                                 float(exec_properties[ALPHA_KEY]))
        epochs = int(exec_properties[EPOCHS_KEY])
        augment = exec_properties[AUGMENT_KEY]
        transfer_sets = _transfer_sets(train, spec, teacher_predict, augment, seed, hyperparameters.batch_size)
        validation = evaluation.batches(hyperparameters.batch_size, teacher_outputs=soft_eval, task=spec.task)
        callbacks = learning_rate_callbacks(hyperparameters, epochs)
        history: Dict[str, List[float]] = {}
        sizing = _BudgetedEpochs(budget) if budget is not None else None
        # One epoch per transfer set: with an augmentation, every epoch sees new inputs
        # labelled by the teacher (function matching), which a fixed transfer set cannot.
        for epoch in range(epochs):
            if sizing is not None and not sizing.next_epoch_fits():
                break
            result = student.fit(next(transfer_sets), initial_epoch=epoch, epochs=epoch + 1,
                                 validation_data=validation, callbacks=callbacks + sizing_callbacks(sizing),
                                 verbose=0)
            for key, values in result.history.items():
                history.setdefault(key, []).extend(float(v) for v in values)
            if sizing is not None and sizing.epoch_done(student, history.get("val_loss", [math.inf])[-1]):
                break
        if sizing is not None:
            sizing.keep_best(student)
        model_export.export_keras_model(student, spec, model.uri)
        description = {
            "student_trial": choice.trial.trial_id if choice.trial else None,
            "source": choice.source,
            "reason": choice.reason,
            "architecture": choice.architecture.to_dict(),
            "num_params": parameter_count(student),
            "param_budget": choice.budget,
            "augment": augment,
            "history": history,
            # Under a time budget: why training ended before `epochs` (time, early stopping), if it did.
            "stopped": sizing.stopped if sizing is not None else "",
        }
        files.write_text(os.path.join(model.uri, STUDENT_FILE), json.dumps(description, indent=1))
        model.set_string_custom_property(STUDENT_TRIAL_PROPERTY, choice.trial.trial_id if choice.trial else "")
        model.set_string_custom_property(STUDENT_SOURCE_PROPERTY, choice.source)
        model.set_int_custom_property(STUDENT_EPOCH_CHOSEN_ON_EVAL_PROPERTY, int(sizing is not None))
        model.set_string_custom_property(ARCHITECTURE_PROPERTY, choice.architecture.to_json())
        model.set_int_custom_property(NUM_PARAMS_PROPERTY, description["num_params"])
        model.set_string_custom_property(CANDIDATE_PROPERTY, "distilled")
        log.info("distilled into %s student %s (%d params, budget %d): %s", choice.source,
                 choice.architecture.describe(), description["num_params"], choice.budget, choice.reason)
        keras.backend.clear_session()


class _BudgetedEpochs:
    """The student's epochs under a time budget: `epochs` is a maximum, no
    epoch starts that would end after the post-search deadline (judged by
    the longest epoch so far after the first, which traces the training
    function; by the first while it is the only one), training stops
    mid-epoch at the deadline, and when the eval loss has not improved for
    DISTILL_PATIENCE epochs; the best epoch's weights are kept."""

    def __init__(self, budget: TimeBudget, clock=time.time):
        self.deadline = budget.post_search_deadline
        self._clock = clock
        self._durations: list[float] = []
        self._epoch_started = 0.0
        self._best_loss = math.inf
        self._best_weights = None
        self._since_best = 0
        self.stopped = ""

    def next_epoch_fits(self) -> bool:
        self._epoch_started = self._clock()
        if self._epoch_started + self._expected_epoch > self.deadline:
            self.stopped = "time: the next epoch would end after the time budget's post-search deadline"
            return False
        return True

    def epoch_done(self, student: keras.Model, eval_loss: float) -> bool:
        """Records the epoch; True when training should stop."""
        self._durations.append(self._clock() - self._epoch_started)
        if eval_loss < self._best_loss:
            self._best_loss, self._best_weights, self._since_best = eval_loss, student.get_weights(), 0
        else:
            self._since_best += 1
        if self._clock() >= self.deadline:
            self.stopped = "time: the time budget's post-search deadline was reached"
        elif self._since_best >= DISTILL_PATIENCE:
            self.stopped = f"early stopping: the eval loss did not improve for {DISTILL_PATIENCE} epochs"
        return bool(self.stopped)

    @property
    def _expected_epoch(self) -> float:
        return max(self._durations[1:] or self._durations or [0.0])

    def keep_best(self, student: keras.Model) -> None:
        if self._best_weights is not None:
            student.set_weights(self._best_weights)


class _StopAtDeadline(keras.callbacks.Callback):
    """Ends an epoch between batches once the deadline has passed (async-safe,
    like the Trainer's guard: Keras keeps dispatching steps)."""

    async_safe = True

    def __init__(self, deadline: float):
        super().__init__()
        self._deadline = deadline

    def on_train_batch_end(self, batch, logs=None):
        if time.time() > self._deadline:
            self.model.stop_training = True


def sizing_callbacks(sizing: Optional[_BudgetedEpochs]) -> list:
    return [_StopAtDeadline(sizing.deadline)] if sizing is not None else []


# Examples mixed at a time: mixup partners come from the same chunk of the shuffled split.
MIXUP_CHUNK_SIZE = 1024


def _transfer_sets(train: examples_io.ExamplesSplit, spec: DatasetSpec, teacher_predict, augment: str, seed: int,
                   batch_size: int):
    """Endless transfer sets, one an epoch, each (features, distillation
    targets) batches: the training split as is, or (`mixup`) freshly mixed
    examples labelled by the teacher, mixed and labelled a chunk at a time."""
    key = scoring.output_key(spec)
    if augment == "none":
        # Only the teacher's rows are held (not also the labels and a targets matrix), and by the dataset alone.
        batches = train.batches(batch_size, seed=seed, teacher_outputs=train.outputs(teacher_predict, key),
                                task=spec.task)
        while True:
            yield batches
    if augment != "mixup":
        raise UserError(f"distill_augment: unknown augmentation {augment!r}; choose from {', '.join(AUGMENTATIONS)}")
    rng = np.random.default_rng(seed)
    chunks = train.batches(MIXUP_CHUNK_SIZE, seed=seed)
    width = 2 * max(spec.num_classes, 1) if spec.task == "classification" else 2
    # Through tf.data, which knows string features (Keras's own generator adapter does not).
    mixed = tf.data.Dataset.from_generator(
        lambda: _mixed_batches(chunks, spec, teacher_predict, rng, batch_size),
        output_signature=(chunks.element_spec[0], tf.TensorSpec([None, width], tf.float32)))
    # Keras then knows an epoch's steps: every chunk is cut into batches.
    full, rest = divmod(len(train), MIXUP_CHUNK_SIZE)
    mixed = mixed.apply(tf.data.experimental.assert_cardinality(
        full * -(-MIXUP_CHUNK_SIZE // batch_size) + -(-rest // batch_size)))
    while True:
        yield mixed


def _mixed_batches(chunks, spec: DatasetSpec, teacher_predict, rng: np.random.Generator, batch_size: int):
    """One pass over the shuffled split: each chunk mixed (mixup), labelled
    by the teacher and cut into training batches."""
    key = scoring.output_key(spec)
    for features, labels in chunks.as_numpy_iterator():
        hard = (one_hot_labels(labels, max(spec.num_classes, 1)) if spec.task == "classification"
                else labels.astype(np.float32))
        mixed, mixed_labels = mixup_features(features, hard, rng)
        soft = teacher_predict(examples_io.serialize_features(mixed, spec))[key]
        targets = distillation_targets(mixed_labels, soft, spec.task)
        for start in range(0, len(targets), batch_size):
            end = start + batch_size
            yield {name: values[start:end] for name, values in mixed.items()}, targets[start:end]
