"""Distiller executor: picks a student architecture from the search and trains
it on the ensemble's soft predictions mixed with the true labels."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List

import keras
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import examples_io, executor_inputs, files, model_export, scoring
from components.trainer.training import load_trial_model
from search_algo.distillation import DistillationLoss, DistilledAccuracy, distillation_targets
from search_algo.model_builder import make_optimizer, parameter_count
from search_algo.trial import Trial, rank_trials

log = logging.getLogger(__name__)

EXAMPLES_KEY = executor_inputs.EXAMPLES_KEY
DATASET_SPEC_KEY = executor_inputs.DATASET_SPEC_KEY
TEACHER_KEY = "teacher"
TRIALS_PREFIX = "trials"
PRIOR_KEY = executor_inputs.PRIOR_KEY
MODEL_KEY = "model"
MAX_PARAMS_KEY = "max_params"
EPOCHS_KEY = "epochs"
TEMPERATURE_KEY = "temperature"
ALPHA_KEY = "alpha"
SEED_KEY = "seed"
CODE_VERSION_KEY = "code_version"
MODULE_FILE_KEY = executor_inputs.MODULE_FILE_KEY
STUDENT_FILE = "student.json"


def choose_student(trials: List[Trial], task: str, max_params: int) -> tuple[Trial, int]:
    """The best completed trial within the parameter budget (default: half the
    best single model's parameters); the smallest trial if none fits."""
    ranked = rank_trials(trials, task)
    if not ranked:
        raise RuntimeError("no completed trial to distil into")
    budget = max_params or max(1, (ranked[0].num_params or 0) // 2)
    within = [t for t in ranked if (t.num_params or 0) <= budget]
    if within:
        return within[0], budget
    return min(ranked, key=lambda t: (t.num_params or 0, -t.score(task))), budget


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
        trials = executor_inputs.study_trials(input_dict, TRIALS_PREFIX)
        student_trial, budget = choose_student(trials, spec.task, int(exec_properties.get(MAX_PARAMS_KEY) or 0))

        train_features, train_labels = examples_io.load_split(examples, "train", spec)
        eval_features, eval_labels = examples_io.load_split(examples, "eval", spec)
        soft_train = scoring.predictions(teacher.uri, examples_io.serialized_split(examples, "train"), spec)
        soft_eval = scoring.predictions(teacher.uri, examples_io.serialized_split(examples, "eval"), spec)

        keras.utils.set_random_seed(int(exec_properties[SEED_KEY]))
        # The student starts from its trial's trained weights and learns the teacher's soft labels.
        student, _ = load_trial_model(student_trial.path, spec)
        num_classes = max(spec.num_classes, 1)
        loss = DistillationLoss(
            num_classes=num_classes,
            temperature=float(exec_properties[TEMPERATURE_KEY]),
            alpha=float(exec_properties[ALPHA_KEY]),
            task=spec.task,
            label_scale=float(spec.label_std or 1.0),
        )
        metrics = [DistilledAccuracy(num_classes)] if spec.task == "classification" else []
        hyperparameters = student_trial.architecture.hyperparameters
        student.compile(optimizer=make_optimizer(hyperparameters), loss=loss, metrics=metrics)
        history = student.fit(
            train_features,
            distillation_targets(train_labels, soft_train, spec.task),
            batch_size=hyperparameters.batch_size,
            epochs=int(exec_properties[EPOCHS_KEY]),
            validation_data=(eval_features, distillation_targets(eval_labels, soft_eval, spec.task)),
            shuffle=True,
            verbose=0,
        )
        model = artifact_utils.get_single_instance(output_dict[MODEL_KEY])
        model_export.export_keras_model(student, spec, model.uri)
        description = {
            "student_trial": student_trial.trial_id,
            "architecture": student_trial.architecture.to_dict(),
            "num_params": parameter_count(student),
            "param_budget": budget,
            "history": {k: [float(v) for v in values] for k, values in history.history.items()},
        }
        files.write_text(os.path.join(model.uri, STUDENT_FILE), json.dumps(description, indent=1))
        model.set_string_custom_property("student_trial", student_trial.trial_id)
        model.set_int_custom_property("num_params", description["num_params"])
        model.set_string_custom_property("candidate", "distilled")
        log.info("distilled into %s (%d params, budget %d)", student_trial.trial_id, description["num_params"], budget)
        keras.backend.clear_session()
