"""SearchEvaluator executor: the leaderboard of the three candidates.

Candidates are chosen on the eval split and reported on the test split, never
chosen on test. The chosen model is copied to the `chosen_model` output and
blessed, so TFX's standard Pusher pushes it.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import examples_io, executor_inputs, files, model_export, scoring
from search_algo.trial import rank_trials

log = logging.getLogger(__name__)

EXAMPLES_KEY = executor_inputs.EXAMPLES_KEY
DATASET_SPEC_KEY = executor_inputs.DATASET_SPEC_KEY
ENSEMBLE_KEY = "ensemble"
DISTILLED_KEY = "distilled"
TRIALS_PREFIX = "trials"
PRIOR_KEY = executor_inputs.PRIOR_KEY
LEADERBOARD_KEY = "leaderboard"
CHOSEN_MODEL_KEY = "chosen_model"
BLESSING_KEY = "blessing"
RUN_ID_KEY = "run_id"
STUDY_KEY = "study"
CODE_VERSION_KEY = "code_version"
LEADERBOARD_FILE = "leaderboard.json"


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        examples, spec = executor_inputs.examples_and_spec(input_dict)
        ensemble = artifact_utils.get_single_instance(input_dict[ENSEMBLE_KEY])
        distilled = artifact_utils.get_single_instance(input_dict[DISTILLED_KEY])
        trials = executor_inputs.study_trials(input_dict, TRIALS_PREFIX)
        best = rank_trials(trials, spec.task)[0]
        members = json.loads(ensemble.get_string_custom_property("members"))

        candidates = [
            {"name": "best_single", "uri": best.path, "trial_ids": [best.trial_id], "num_params": best.num_params},
            {"name": "ensemble", "uri": ensemble.uri, "trial_ids": members,
             "num_params": ensemble.get_int_custom_property("num_params")},
            {"name": "distilled", "uri": distilled.uri,
             "trial_ids": [distilled.get_string_custom_property("student_trial")],
             "num_params": distilled.get_int_custom_property("num_params")},
        ]
        splits = {}
        for split in ("eval", "test"):
            _, labels = examples_io.load_split(examples, split, spec)
            splits[split] = (examples_io.serialized_split(examples, split), labels)
        for candidate in candidates:
            for split, (serialized, labels) in splits.items():
                values = scoring.predictions(candidate["uri"], serialized, spec)
                candidate[split] = scoring.metrics(values, labels, spec)
            candidate["latency_ms"] = round(scoring.latency_ms(candidate["uri"], splits["eval"][0]), 3)
        # Chosen on eval; ties go to the smaller model.
        chosen = max(candidates, key=lambda c: (scoring.score(c["eval"], spec), -(c["num_params"] or 0)))
        leaderboard = {
            "chosen": chosen["name"],
            "study": exec_properties[STUDY_KEY],
            "run_id": exec_properties[RUN_ID_KEY],
            "task": spec.task,
            "candidates": [{k: v for k, v in c.items() if k != "uri"} for c in candidates],
        }
        output = artifact_utils.get_single_instance(output_dict[LEADERBOARD_KEY])
        files.write_text(os.path.join(output.uri, LEADERBOARD_FILE), json.dumps(leaderboard, indent=2))
        output.set_string_custom_property("chosen", chosen["name"])
        output.set_string_custom_property("run_id", exec_properties[RUN_ID_KEY])
        output.set_string_custom_property("study", exec_properties[STUDY_KEY])
        output.set_string_custom_property("leaderboard_json", json.dumps(leaderboard))

        model = artifact_utils.get_single_instance(output_dict[CHOSEN_MODEL_KEY])
        files.copy_tree(model_export.serving_dir(chosen["uri"]), model_export.serving_dir(model.uri))
        model.set_string_custom_property("candidate", chosen["name"])
        for key, value in chosen["test"].items():
            model.set_float_custom_property(f"test_{key}", value)
        blessing = artifact_utils.get_single_instance(output_dict[BLESSING_KEY])
        blessing.set_int_custom_property("blessed", 1)
        blessing.set_string_custom_property("current_model", model.uri)
        blessing.set_string_custom_property("candidate", chosen["name"])
        shown = {c["name"]: round(scoring.score(c["test"], spec), 4) for c in candidates}
        log.info("chose %s on the eval split; test scores %s", chosen["name"], shown)
