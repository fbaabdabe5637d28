"""Ensembler executor: chooses members on the eval split and exports the
ensemble as one servable model, with out-of-fold estimates of the ensemble
and of the best single model, which the SearchEvaluator compares (both are
chosen on eval, so their plain eval scores are biased upwards)."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import examples_io, executor_inputs, files, model_export, scoring, skipped_model, trial_model
from components.keys import (
    CANDIDATE_PROPERTY, ESTIMATES_PROPERTY, MAX_MEMBERS_KEY, MEMBERS_PROPERTY, MODEL_KEY, NUM_PARAMS_PROPERTY, POOL_SIZE_KEY,
    TRIALS_PREFIX, WEIGHTS_KEY, WEIGHTS_METHOD_PROPERTY, WEIGHTS_PROPERTY,
)
from search_algo.cross_fitting import Estimate, best_single_procedure, cross_fitted_estimate, ensemble_procedure
from search_algo.ensemble import choose_ensemble
from search_algo.errors import RunFailing
from search_algo.time_budget import TimeBudget, skipped_for_budget
from search_algo.trial import rank_trials

log = logging.getLogger(__name__)

ENSEMBLE_FILE = "ensemble.json"


def no_completed_trial_message(trials, budget: Optional[TimeBudget] = None) -> str:
    if not trials and budget is not None:
        return (f"the run's time budget, {budget.describe()}, was spent before its first round could train a "
                "trial (start-up and ingest count against it): nothing to ensemble, nothing is pushed; give it "
                "more with --time-budget")
    if not trials:
        return "this run trained no trial: nothing to ensemble, nothing is pushed"
    if all(skipped_for_budget(t) for t in trials):
        return ("the run's time budget left no time to train a single trial: nothing to ensemble, nothing is "
                "pushed; give it more with --time-budget")
    reasons = sorted({t.error or "unknown" for t in trials})
    which = f"all {len(trials)} trials" if len(trials) > 1 else "the only trial"
    return (f"{which} of run {trials[0].run_id} failed, so nothing is ensembled or pushed; "
            f"first reason: {reasons[0]}" + (f" (and {len(reasons) - 1} other reasons)" if len(reasons) > 1 else "")
            + "; see `model-search trials`; once the cause is fixed, run again with --retry-failed "
            "(or --new-run to leave this run)")


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        executor_inputs.stop_if_a_trainer_stopped(input_dict, TRIALS_PREFIX)
        examples, spec = executor_inputs.examples_and_spec(input_dict)
        this_run = executor_inputs.this_runs_trials(input_dict, TRIALS_PREFIX)
        if not any(t.completed for t in this_run):
            # Earlier runs' models could still be ensembled, but a run that
            # trained nothing must not push anything: it fails here, visibly.
            budget = executor_inputs.time_budget(input_dict, exec_properties)
            raise RunFailing(no_completed_trial_message(this_run, budget))
        trials = executor_inputs.earlier_trials(input_dict) + this_run
        model = artifact_utils.get_single_instance(output_dict[MODEL_KEY])
        budget = executor_inputs.time_budget(input_dict, exec_properties)
        if budget is not None and not budget.should_ensemble(time.time()):
            skipped_model.skip(model, "ensemble",
                               f"the time budget ({budget.describe()}) left too little time to ensemble")
            return
        # The pool is the best by the study's objective; the members' weights
        # are then fitted on log loss / squared error (search_algo/ensemble.py).
        objective = executor_inputs.objective(exec_properties, spec)
        pool = rank_trials([t for t in trials if t.path], objective)[: int(exec_properties[POOL_SIZE_KEY])]
        # Each member's predictions and the labels of eval, in memory (a few
        # numbers per example); the features are streamed, a batch at a time.
        evaluation = examples_io.ExamplesSplit(examples, "eval", spec)
        labels = evaluation.labels()
        # Trials keep their weights, not a SavedModel: each is rebuilt once, and
        # the chosen members are exported together as the ensemble.
        models = [trial_model.load_trial_model(t.path, spec)[0] for t in pool]
        predictions = [trial_model.model_outputs(m, evaluation, spec) for m in models]
        max_members, method = int(exec_properties[MAX_MEMBERS_KEY]), exec_properties[WEIGHTS_KEY]
        choice, comparison = choose_ensemble(predictions, labels, spec.task, max_members=max_members, method=method)
        members = [pool[i] for i in choice.members]
        combined = sum(w * predictions[i] for i, w in zip(choice.members, choice.weights))
        # The ensemble shipped is fitted on all of eval; what it is worth is
        # estimated by the same choice made on K-1 folds and scored on the
        # held-out one. The best single model is the best of the pool on eval,
        # so its estimate is made the same way (like with like).
        estimates = {
            "ensemble": _by_trial_id(cross_fitted_estimate(
                ensemble_procedure(spec.task, max_members, method), predictions, labels, spec.task,
                "an ensemble (method, members and weights)"), pool),
            "best_single": {"trial_id": pool[0].trial_id, **_by_trial_id(cross_fitted_estimate(
                best_single_procedure(objective, spec.task), predictions, labels, spec.task,
                f"the best of the {len(pool)} best trials by {objective.name}"), pool)},
        }

        model_export.export_ensemble([models[i] for i in choice.members], choice.weights, spec, model.uri)
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
            "estimates": estimates,
        }
        files.write_text(os.path.join(model.uri, ENSEMBLE_FILE), json.dumps(description, indent=1))
        model.set_string_custom_property(MEMBERS_PROPERTY, json.dumps(description["members"]))
        model.set_string_custom_property(WEIGHTS_PROPERTY, json.dumps(choice.weights))
        model.set_int_custom_property(NUM_PARAMS_PROPERTY, description["num_params"])
        model.set_string_custom_property(CANDIDATE_PROPERTY, "ensemble")
        model.set_string_custom_property(WEIGHTS_METHOD_PROPERTY, comparison["method"])
        model.set_string_custom_property(ESTIMATES_PROPERTY, json.dumps(estimates))
        log.info("ensemble (%s weights) of %d member(s) %s, weights %s; out-of-fold eval %s: ensemble %.4g, "
                 "best single %.4g", comparison["method"], len(members), description["members"],
                 [round(w, 3) for w in choice.weights], objective.name,
                 objective.value(estimates["ensemble"]["metrics"]) or float("nan"),
                 objective.value(estimates["best_single"]["metrics"]) or float("nan"))


def _by_trial_id(estimate: Estimate, pool) -> dict:
    """The estimate as JSON, each fold's members named by trial id rather than pool index."""
    described = estimate.to_dict()
    for fold in described["per_fold"]:
        fold["members"] = [pool[i].trial_id for i in fold["members"]]
    return described
