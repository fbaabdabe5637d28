"""Ensembler executor: chooses members on the eval split and exports the
ensemble as one servable model."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import examples_io, executor_inputs, files, model_export, scoring
from search_algo.ensemble import choose_ensemble
from search_algo.trial import rank_trials

log = logging.getLogger(__name__)

EXAMPLES_KEY = executor_inputs.EXAMPLES_KEY
DATASET_SPEC_KEY = executor_inputs.DATASET_SPEC_KEY
TRIALS_PREFIX = "trials"
PRIOR_KEY = executor_inputs.PRIOR_KEY
MODEL_KEY = "model"
MAX_MEMBERS_KEY = "max_members"
POOL_SIZE_KEY = "pool_size"
WEIGHTS_KEY = "weights_method"  # auto | bagged | greedy | learned | average
CODE_VERSION_KEY = "code_version"
ENSEMBLE_FILE = "ensemble.json"


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        examples, spec = executor_inputs.examples_and_spec(input_dict)
        trials = executor_inputs.study_trials(input_dict, TRIALS_PREFIX)
        pool = rank_trials(trials, spec.task)[: int(exec_properties[POOL_SIZE_KEY])]
        if not pool:
            raise RuntimeError(f"no completed trial among {len(trials)} to ensemble; see `model-search trials`")
        serialized = examples_io.serialized_split(examples, "eval")
        _, labels = examples_io.load_split(examples, "eval", spec)
        predictions = [scoring.predictions(t.path, serialized, spec) for t in pool]
        choice, comparison = choose_ensemble(
            predictions, labels, spec.task, max_members=int(exec_properties[MAX_MEMBERS_KEY]),
            method=exec_properties.get(WEIGHTS_KEY) or "auto")
        members = [pool[i] for i in choice.members]
        combined = sum(w * predictions[i] for i, w in zip(choice.members, choice.weights))

        model = artifact_utils.get_single_instance(output_dict[MODEL_KEY])
        model_export.export_ensemble([m.path for m in members], choice.weights, spec, model.uri)
        description = {
            "members": [m.trial_id for m in members],
            "weights": choice.weights,
            "method": comparison["method"],
            "method_comparison": comparison,
            "eval_score": choice.score,
            "eval": scoring.metrics(combined, labels, spec),
            "selection_steps": choice.steps,
            "num_params": int(sum(m.num_params or 0 for m in members)),
            "pool": [t.trial_id for t in pool],
        }
        files.write_text(os.path.join(model.uri, ENSEMBLE_FILE), json.dumps(description, indent=1))
        model.set_string_custom_property("members", json.dumps(description["members"]))
        model.set_string_custom_property("weights", json.dumps(choice.weights))
        model.set_int_custom_property("num_params", description["num_params"])
        model.set_string_custom_property("candidate", "ensemble")
        model.set_string_custom_property("weights_method", comparison["method"])
        log.info("ensemble (%s weights) of %d member(s) %s, weights %s", comparison["method"], len(members),
                 description["members"], [round(w, 3) for w in choice.weights])
