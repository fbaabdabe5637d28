"""Proposer executor: the search algorithm's next batch for one round."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import executor_inputs, trial_files
from components.keys import (
    ALGORITHM_KEY, ALGORITHM_PROPERTY, BUDGET_SCHEDULE_KEY, BUDGET_SPENT_PROPERTY, CONSTRAINTS_KEY, EPOCHS_KEY,
    MIN_EPOCHS_KEY,
    REDUCTION_FACTOR_KEY, REJECTED_PROPERTY, CONSECUTIVE_FAILURES_PROPERTY, COUNT_PROPERTY, HISTORY_PREFIX, HISTORY_SIZE_PROPERTY, NUM_TRAINERS_KEY, PROPOSALS_KEY, ROUND_KEY,
    ROUND_PROPERTY, RUN_ID_PROPERTY, SEARCH_SPACE_KEY, SEED_KEY, STUDY_KEY, STUDY_PROPERTY,
    TEACHER_DISTILLATION_KEY, TEACHER_PROPERTY, TRIALS_PER_TRAINER_KEY, WEIGHT_SHARING_KEY,
)
from search_algo.algorithms import get_algorithm
from search_algo.budget_schedule import BudgetSchedule
from search_algo.constraints import ConstrainedAlgorithm, Constraints, ModelCost, training_cost
from search_algo.loop import propose_round
from search_algo.search_space import SearchSpace
from search_algo.time_budget import epochs_worth_training, expected_trial_seconds, skipped_for_budget
from search_algo.trial import TRANSFER_CONTINUE

log = logging.getLogger(__name__)

PROPOSALS_FILE = "proposals.json"


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        executor_inputs.load_user_modules(exec_properties)
        executor_inputs.stop_if_a_trainer_stopped(input_dict, HISTORY_PREFIX)
        spec = executor_inputs.dataset_spec(input_dict)
        this_run = executor_inputs.this_runs_trials(input_dict, HISTORY_PREFIX)
        history = executor_inputs.earlier_trials(input_dict) + this_run
        round_index = int(exec_properties[ROUND_KEY])
        run_id = executor_inputs.run_id(input_dict)
        study = exec_properties[STUDY_KEY]
        seed = int(exec_properties[SEED_KEY])
        trainers = int(exec_properties[NUM_TRAINERS_KEY])
        per_trainer = int(exec_properties[TRIALS_PER_TRAINER_KEY])
        space = SearchSpace.for_dataset(json.loads(exec_properties.get(SEARCH_SPACE_KEY) or "{}"), spec)
        constraints = Constraints.from_json(exec_properties[CONSTRAINTS_KEY])
        model_cost = ModelCost(spec, constraints)
        algorithm = ConstrainedAlgorithm(get_algorithm(exec_properties[ALGORITHM_KEY]), constraints, model_cost)
        schedule = BudgetSchedule(exec_properties[BUDGET_SCHEDULE_KEY], int(exec_properties[EPOCHS_KEY]),
                                  int(exec_properties[REDUCTION_FACTOR_KEY]),
                                  int(exec_properties[MIN_EPOCHS_KEY]) or None)

        budget = executor_inputs.time_budget(input_dict, exec_properties)
        # Not even the cheapest new trial (the share of the bottom rung's epochs
        # worth fitting to the deadline) would fit: the round proposes nothing
        # and its trainers pass through. Once a round proposed nothing, the
        # rounds after it propose nothing either.
        now, expected = time.time(), expected_trial_seconds(history, epochs_worth_training(schedule.first_epochs))
        ended_earlier = budget is not None and executor_inputs.search_time_spent_earlier(input_dict, HISTORY_PREFIX)
        budget_spent = budget is not None and (ended_earlier or not budget.can_train(now, expected))
        proposals = [] if budget_spent else propose_round(
            algorithm, history, space, trainers * per_trainer, round_index,
            objective=executor_inputs.objective(exec_properties, spec), seed=seed, study=study, run_id=run_id,
            per_trainer=per_trainer,
            weight_sharing=bool(int(exec_properties[WEIGHT_SHARING_KEY])),
            teacher_distillation=bool(int(exec_properties[TEACHER_DISTILLATION_KEY])),
            schedule=schedule,
            # Costliest first to the least loaded trainer: the round's trainers finish together.
            trial_cost=training_cost(model_cost, int(exec_properties[EPOCHS_KEY])),
        )
        teacher = proposals[0].teacher if proposals else None
        output = artifact_utils.get_single_instance(output_dict[PROPOSALS_KEY])
        trial_files.record_trials(output, proposals, PROPOSALS_FILE)
        output.set_string_custom_property(TEACHER_PROPERTY, teacher or "")
        output.set_int_custom_property(ROUND_PROPERTY, round_index)
        output.set_string_custom_property(RUN_ID_PROPERTY, run_id)
        output.set_string_custom_property(STUDY_PROPERTY, study)
        output.set_string_custom_property(ALGORITHM_PROPERTY, algorithm.name)
        output.set_int_custom_property(COUNT_PROPERTY, len(proposals))
        output.set_int_custom_property(HISTORY_SIZE_PROPERTY, len(history))
        output.set_int_custom_property(REJECTED_PROPERTY, len(algorithm.rejected))
        output.set_int_custom_property(BUDGET_SPENT_PROPERTY, int(budget_spent))
        # A proposal skipped because the search time was spent did not fail.
        output.set_int_custom_property(CONSECUTIVE_FAILURES_PROPERTY, trial_files.consecutive_failures(
            [t for t in this_run if not skipped_for_budget(t)]))
        if ended_earlier:
            log.info("round %d proposes nothing: the search ended in an earlier round (time budget %s)",
                     round_index, budget.describe())
            return
        if budget_spent:
            log.info("round %d proposes nothing: %.0f s of search time left, a trial takes about %.0f s "
                     "(time budget %s)", round_index, budget.search_seconds_left(now), expected, budget.describe())
            return
        promoted = sum(1 for t in proposals if t.transfer == TRANSFER_CONTINUE)
        log.info("round %d: %s proposed %d trials (%d promotions; budget schedule %s) from a history of %d",
                 round_index, algorithm.name, len(proposals), promoted, schedule.describe(), len(history))
        if algorithm.rejected:
            log.info("round %d: %d candidates turned away by the constraints (%s)", round_index,
                     len(algorithm.rejected), constraints.describe())
