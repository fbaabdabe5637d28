"""SearchEvaluator executor: the leaderboard of the three candidates.

Candidates are chosen on the eval split and reported on the test split, never
chosen on test. Each is compared on an estimate of its eval metrics that was
not fitted on the examples that score it: out-of-fold for the ensemble and
the best single model, which the Ensembler cross-fits (both are chosen on
eval), the plain eval metrics for the student (trained on train). The
selection policy (`best`, `lowest-loss` or `smallest-within=X`,
search_algo/selection.py) picks the chosen model on those estimates. It is
copied to the `chosen_model` output with the study's model in production (the
latest pushed, from the study record) as its baseline; TFX's Evaluator then
validates it against that baseline and the Pusher pushes it only if blessed.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import examples_io, executor_inputs, files, model_export, scoring, skipped_model, trial_model
from components.study_record import StudyRecord
from components.keys import (
    BASELINE_MODEL_PROPERTY, CANDIDATE_PROPERTY, CHOSEN_MODEL_KEY, CHOSEN_PROPERTY, CONSTRAINTS_KEY, DISTILLED_KEY,
    ENSEMBLE_KEY, ESTIMATES_PROPERTY, LABEL_KEY_PROPERTY, LEADERBOARD_JSON_PROPERTY, LEADERBOARD_KEY, MEMBERS_PROPERTY,
    NUM_PARAMS_PROPERTY, RUN_ID_PROPERTY, SELECT_KEY, STUDENT_EPOCH_CHOSEN_ON_EVAL_PROPERTY,
    STUDENT_SOURCE_PROPERTY, STUDENT_TRIAL_PROPERTY,
    STUDY_KEY, STUDY_PROPERTY, STUDY_RECORD_KEY, TASK_PROPERTY, TRIALS_PREFIX,
)
from search_algo.constraints import Constraints
from search_algo.errors import UserError
from search_algo.objective import Objective
from search_algo.selection import choose, parse_policy
from search_algo.trial import rank_trials

log = logging.getLogger(__name__)

LEADERBOARD_FILE = "leaderboard.json"
# Inside the leaderboard artifact: the best single trial, exported for serving.
BEST_SINGLE_DIR = "best_single"
# What a leaderboard shows of the model in production (a study record validation).
PRODUCTION_FIELDS = ("run_id", "candidate", "model_uri", "pushed_to", "eval", "num_params", "written_at")


def _candidate_metrics(candidate: dict, splits: dict, spec) -> None:
    for split, (examples, labels) in splits.items():
        values = scoring.predictions(candidate["uri"], examples, spec)
        candidate[split] = scoring.metrics(values, labels, spec)
        if spec.task == "classification":
            candidate[f"{split}_details"] = scoring.classification_details(values, labels, spec)
    latency = scoring.latency_ms(candidate["uri"], splits["eval"][0].serialized_head(max(scoring.LATENCY_BATCH_SIZES)))
    candidate["latency_ms"] = round(latency[1], 3)
    candidate["latency_ms_batch_256"] = round(latency[256], 3)


def add_estimate(candidate: dict, estimates: dict, trials_ranked: int, eval_examples: int) -> None:
    """The candidate's `estimate` (metrics the policy chooses on) and
    `estimated_by` (how): the Ensembler's out-of-fold estimate for the
    ensemble and the best single model; the eval metrics for the student,
    which is trained on train. An estimate that is missing or of another
    trial falls back to the eval metrics, marked optimistic."""
    name = candidate["name"]
    found = estimates.get(name)
    if name == "best_single" and found and found.get("trial_id") not in candidate["trial_ids"]:
        found = None
    if found:
        candidate["estimate"] = found["metrics"]
        candidate["estimated_by"] = {k: v for k, v in found.items() if k not in ("metrics", "trial_id")}
        return
    if name == "distilled":
        if candidate.get("epoch_chosen_on_eval"):
            how = ("eval, slightly optimistic: the student is trained on train, its epoch (of a few) chosen on "
                   "the eval loss under the time budget")
        else:
            how = "eval: the student is trained on train and fits nothing on eval"
        if candidate.get("student_source") == "search":
            how += " (its starting trial was ranked on eval)"
    elif name == "best_single":
        how = f"eval, in-sample: the best of {trials_ranked} trials on these same examples (optimistic)"
    else:
        how = "eval, in-sample: members and weights fitted on these same examples (optimistic)"
    candidate["estimate"] = candidate["eval"]
    candidate["estimated_by"] = {"how": how, "examples": eval_examples, "folds": 0, "per_fold": []}


def distillation_summary(by_name: dict, objective: Objective) -> dict:
    """What the student kept of the ensemble's test score, at what size."""
    student, ensemble, best = by_name["distilled"], by_name["ensemble"], by_name["best_single"]
    key = objective.name

    def ratio(a, b):
        return round(a / b, 4) if a is not None and b else None

    return {
        "metric": key,
        "student_test": student["test"].get(key),
        "ensemble_test": ensemble["test"].get(key),
        "kept_of_ensemble": ratio(student["test"].get(key), ensemble["test"].get(key)),
        "student_params": student["num_params"],
        "params_vs_best_single": ratio(student["num_params"] or 0, best["num_params"] or 0),
        "params_vs_ensemble": ratio(student["num_params"] or 0, ensemble["num_params"] or 0),
    }


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        examples, spec = executor_inputs.examples_and_spec(input_dict)
        objective = executor_inputs.objective(exec_properties, spec)
        run_id = executor_inputs.run_id(input_dict)
        ensemble = artifact_utils.get_single_instance(input_dict[ENSEMBLE_KEY])
        distilled = artifact_utils.get_single_instance(input_dict[DISTILLED_KEY])
        trials = executor_inputs.study_trials(input_dict, TRIALS_PREFIX)
        # A trial whose files were removed (`path` None) cannot be served.
        ranked = rank_trials([t for t in trials if t.path], objective)
        best = ranked[0]
        members = json.loads(ensemble.get_string_custom_property(MEMBERS_PROPERTY))
        output = artifact_utils.get_single_instance(output_dict[LEADERBOARD_KEY])
        # Trials keep their weights only; the best one is exported here, once,
        # to be scored like the other candidates and served if chosen.
        best_single_uri = os.path.join(output.uri, BEST_SINGLE_DIR)
        trial_model.export_trial(best.path, spec, best_single_uri)

        candidates = [
            {"name": "best_single", "uri": best_single_uri, "trial_ids": [best.trial_id],
             "num_params": best.num_params},
            {"name": "ensemble", "uri": ensemble.uri, "trial_ids": members,
             "num_params": ensemble.get_int_custom_property(NUM_PARAMS_PROPERTY)},
            {"name": "distilled", "uri": distilled.uri,
             "trial_ids": [t for t in [distilled.get_string_custom_property(STUDENT_TRIAL_PROPERTY)] if t],
             "student_source": distilled.get_string_custom_property(STUDENT_SOURCE_PROPERTY) or "search",
             "epoch_chosen_on_eval": bool(distilled.get_int_custom_property(STUDENT_EPOCH_CHOSEN_ON_EVAL_PROPERTY)),
             "num_params": distilled.get_int_custom_property(NUM_PARAMS_PROPERTY)},
        ]
        # A candidate the time budget left no time for (components/skipped_model.py) is no candidate.
        skipped = {name: skipped_model.skipped_reason(item)
                   for name, item in (("ensemble", ensemble), ("distilled", distilled))
                   if skipped_model.skipped_reason(item)}
        candidates = [c for c in candidates if c["name"] not in skipped]
        policy = parse_policy(exec_properties[SELECT_KEY])
        # Scored a batch at a time; the labels (a number per example) are kept.
        splits = {}
        for split in ("eval", "test"):
            streamed = examples_io.ExamplesSplit(examples, split, spec)
            splits[split] = (streamed, streamed.labels())
        estimates = json.loads(ensemble.get_string_custom_property(ESTIMATES_PROPERTY) or "{}")
        for candidate in candidates:
            _candidate_metrics(candidate, splits, spec)
            add_estimate(candidate, estimates, len(ranked), len(splits["eval"][1]))
        constraints = Constraints.from_json(exec_properties[CONSTRAINTS_KEY])
        for candidate in candidates:
            candidate["over_limits"] = constraints.violations(candidate["num_params"], candidate["latency_ms"])
        eligible = [c for c in candidates if not c["over_limits"]]
        if not eligible:
            raise UserError("no candidate satisfies the constraints (" + constraints.describe() + "): " + "; ".join(
                f"{c['name']}: {', '.join(c['over_limits'])}" for c in candidates))
        # Chosen on estimates of eval metrics not fitted on the examples that
        # score them, never on test.
        chosen = choose(eligible, policy, objective)
        record = StudyRecord(exec_properties[STUDY_RECORD_KEY]) if exec_properties.get(STUDY_RECORD_KEY) else None
        # The model in production, which the chosen one must match or beat to be pushed.
        production = record.production_model() if record is not None else None
        leaderboard = {
            "chosen": chosen["name"],
            "select": str(policy),
            # Each candidate's `estimate`; `estimated_by` says how it was made.
            "chosen_on": "estimate",
            "test_use": "reported only, never chosen on",
            "study": exec_properties[STUDY_KEY],
            "run_id": run_id,
            "task": spec.task,
            "objective": {"metric": objective.name, "direction": objective.direction},
            "constraints": constraints.to_dict(),
            "candidates": [{k: v for k, v in c.items() if k != "uri"} for c in candidates],
            "distillation": (distillation_summary({c["name"]: c for c in candidates}, objective)
                             if not skipped else None),
            # Candidates not made, and why (the run's time budget).
            "skipped": skipped,
            "production": production and {k: production.get(k) for k in PRODUCTION_FIELDS},
        }
        files.write_text(os.path.join(output.uri, LEADERBOARD_FILE), json.dumps(leaderboard, indent=2))
        output.set_string_custom_property(CHOSEN_PROPERTY, chosen["name"])
        output.set_string_custom_property(RUN_ID_PROPERTY, run_id)
        output.set_string_custom_property(STUDY_PROPERTY, exec_properties[STUDY_KEY])
        output.set_string_custom_property(LEADERBOARD_JSON_PROPERTY, json.dumps(leaderboard))

        model = artifact_utils.get_single_instance(output_dict[CHOSEN_MODEL_KEY])
        files.copy_tree(model_export.serving_dir(chosen["uri"]), model_export.serving_dir(model.uri))
        model.set_string_custom_property(CANDIDATE_PROPERTY, chosen["name"])
        model.set_string_custom_property(RUN_ID_PROPERTY, run_id)
        model.set_string_custom_property(STUDY_PROPERTY, exec_properties[STUDY_KEY])
        # What TFX's Evaluator needs to know (see components/validator).
        model.set_string_custom_property(LABEL_KEY_PROPERTY, spec.label)
        model.set_string_custom_property(TASK_PROPERTY, spec.task)
        if production:
            model.set_string_custom_property(BASELINE_MODEL_PROPERTY, production["model_uri"])
        if record is not None:
            record.add_leaderboard(run_id, leaderboard, writer=output.uri, dataset_spec=spec.to_dict())
        model.set_int_custom_property(NUM_PARAMS_PROPERTY, int(chosen["num_params"] or 0))
        for split in ("eval", "test"):
            for key, value in chosen[split].items():
                model.set_float_custom_property(f"{split}_{key}", value)
        estimated = {c["name"]: round(objective.value(c["estimate"]) or float("nan"), 4) for c in candidates}
        shown = {c["name"]: round(objective.value(c["test"]) or float("nan"), 4) for c in candidates}
        log.info("chose %s on the eval estimates %s %s; test (reported only) %s", chosen["name"], objective.name,
                 estimated, shown)
