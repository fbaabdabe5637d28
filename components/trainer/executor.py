"""Trainer executor: trains this trainer's share of the round's proposals."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import posixpath
import time
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import examples_io, executor_inputs, failpoints, files, interruption, trial_files
from components.study_record import StudyRecord
from components.trainer.trial_cache import (
    RETRY_FAILED_ENV, Attempt, TrialCache, describe_death, failed_after_attempts, mark_interrupted, stop_reason,
)
from components.trainer.training import train_trial
from components.trainer.watchdog import TrialWatchdog
from components.keys import (
    BEST_SCORE_PROPERTY, BUDGET_SPENT_PROPERTY, CODE_VERSION_KEY, COMPLETED_PROPERTY, CONSECUTIVE_FAILURES_PROPERTY,
    DATA_FINGERPRINT_PROPERTY, EARLY_STOPPING_KEY, EPOCHS_KEY, HISTORY_PREFIX, FAILED_PROPERTY, MAX_CONSECUTIVE_FAILURES_KEY, MAX_RETRIES_KEY,
    OBJECTIVE_KEY, PROPOSALS_KEY, ROUND_PROPERTY, RUN_ID_PROPERTY, SKIPPED_PROPERTY, STOPPED_PROPERTY, STUDY_PROPERTY,
    STUDY_RECORD_KEY, TENSORBOARD_KEY, TIME_LIMIT_KEY, TRAINER_INDEX_KEY, TRAINER_PROPERTY, TRIALS_KEY,
    TRIAL_CACHE_KEY,
)
from search_algo.early_stopping import PrunersByFidelity
from search_algo.time_budget import (
    BUDGET_SPENT_ERROR, epochs_worth_training, expected_trial_seconds, skipped_for_budget,
)
from search_algo.trial import COMPLETED, FAILED, Trial

log = logging.getLogger(__name__)

TRIALS_FILE = "trials.json"


def trial_cache_key(trial: Trial, exec_properties: Dict[str, Any], examples: types.Artifact,
                    stopping: Any = None) -> str:
    """Identifies a finished trial across executions: a re-run after a crash
    reuses it instead of training it again. The data is identified by what
    the ingest read, not by where its Examples are: a resubmitted run on a
    cluster ingests the same data into a new artifact."""
    identity = {
        "trial": trial.to_dict(),
        "epochs": exec_properties[EPOCHS_KEY],
        "time_limit": exec_properties.get(TIME_LIMIT_KEY) or None,
        "code": exec_properties.get(CODE_VERSION_KEY),
        "examples": examples.get_string_custom_property(DATA_FINGERPRINT_PROPERTY) or examples.uri,
        "stopping": stopping,
    }
    if exec_properties.get(OBJECTIVE_KEY):
        # The curve and early stopping follow the objective.
        identity["objective"] = exec_properties[OBJECTIVE_KEY]
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        executor_inputs.load_user_modules(exec_properties)
        examples, spec = executor_inputs.examples_and_spec(input_dict)
        objective = executor_inputs.objective(exec_properties, spec)
        proposals_artifact = artifact_utils.get_single_instance(input_dict[PROPOSALS_KEY])
        output = artifact_utils.get_single_instance(output_dict[TRIALS_KEY])
        index = int(exec_properties[TRAINER_INDEX_KEY])
        share = [t for t in trial_files.trials_of([proposals_artifact]) if t.trainer == index]
        epochs = int(exec_properties[EPOCHS_KEY])
        time_limit = float(exec_properties.get(TIME_LIMIT_KEY) or 0) or None
        cache_root = exec_properties.get(TRIAL_CACHE_KEY) or ""
        tensorboard_root = exec_properties.get(TENSORBOARD_KEY) or ""
        record = StudyRecord(exec_properties[STUDY_RECORD_KEY]) if exec_properties.get(STUDY_RECORD_KEY) else None
        cache = TrialCache(cache_root) if cache_root else None
        max_retries = int(exec_properties[MAX_RETRIES_KEY])

        # Every trial before this round: where parents and teachers are, and
        # the reference curves of early stopping.
        history = executor_inputs.earlier_trials(input_dict) + executor_inputs.this_runs_trials(input_dict, HISTORY_PREFIX)
        pruners = PrunersByFidelity(exec_properties[EARLY_STOPPING_KEY], history, epochs)
        files_of = {t.trial_id: t.path for t in history if t.path}
        # Read through tf.data by every trial; cached in memory when both fit the budget (examples_io).
        train, evaluation = examples_io.component_splits(examples, ["train", "eval"], spec)
        failures = ConsecutiveFailures(
            int(exec_properties[MAX_CONSECUTIVE_FAILURES_KEY]),
            int(proposals_artifact.get_int_custom_property(CONSECUTIVE_FAILURES_PROPERTY) or 0))
        budget = executor_inputs.time_budget(input_dict, exec_properties)
        # `--retry-failed` (local runner): this command's request id.
        retry_request = os.environ.get(RETRY_FAILED_ENV, "")
        # The attempt in flight: marked interrupted, so not counted, if the run is stopped.
        in_flight: dict[str, Optional[Attempt]] = {"attempt": None}

        def interrupted(signal_name: str) -> None:
            attempt = in_flight["attempt"]
            if attempt is not None:
                mark_interrupted(attempt, signal_name)
                log.warning("trial %s interrupted: the run was stopped (%s); not counted as an attempt",
                            attempt.record.get("trial_id"), signal_name)

        with interruption.stop_on_signals(interrupted):
            results: list[Trial] = []
            for position, proposal in enumerate(share, start=1):
                failpoints.reach_in_node(f"trial-{position}")
                trial_dir = os.path.join(output.uri, proposal.trial_id)
                # The rule as this trial sees it: history plus this trainer's earlier trials of its fidelity.
                stopping = pruners.for_trial(proposal)
                key = trial_cache_key(proposal, exec_properties, examples,
                                      stopping and [stopping.warmup, stopping.reference])
                result = cache.lookup(key) if cache else None
                retried = False
                if retry_request and cache:
                    # A failed result is set aside once per request; the trial trains afresh.
                    if result is not None and result.status != COMPLETED and cache.retry(key, retry_request):
                        log.info("trial %s: training it again (--retry-failed); it had failed: %s",
                                 proposal.trial_id, result.error)
                        result = None
                    retried = cache.retried(key, retry_request)
                # A finished result costs nothing to reuse, even past the search time.
                trial_time_limit = time_limit
                if result is None and budget is not None:
                    now = time.time()
                    # Started if the epochs worth training fit: it is then fitted to the deadline.
                    expected = expected_trial_seconds(history + results,
                                                      epochs_worth_training(proposal.planned_epochs or epochs))
                    # A trial whose last attempt ended for good (e.g. killed at its time limit) is
                    # recorded failed with that reason below, without training: it was started.
                    attempts = cache.counted_attempts(key) if cache else []
                    if not budget.can_train(now, expected) and not (attempts and attempts[-1].final):
                        # Not started, so not failed: not counted as a failure, not in the study record.
                        log.info("trial %s not started: %.0f s of search time left, a trial takes about %.0f s",
                                 proposal.trial_id, budget.search_seconds_left(now), expected)
                        results.append(dataclasses.replace(proposal, status=FAILED, error=BUDGET_SPENT_ERROR))
                        continue
                    trial_time_limit = budget.trial_time_limit(now, time_limit)
                if result is not None:
                    log.info("trial %s: reusing the finished result of an earlier execution", proposal.trial_id)
                    if result.status == COMPLETED:
                        files.copy_tree(cache.files_dir(key), trial_dir)
                else:
                    result = self._attempt(proposal, cache, key, max_retries, trial_time_limit, position, len(share),
                                           index, spec, objective, train, evaluation, proposal.planned_epochs or epochs,
                                           trial_dir, stopping, files_of,
                                           tensorboard_root and os.path.join(tensorboard_root, proposal.trial_id),
                                           in_flight, schedule_epochs=epochs,
                                           search_deadline=budget.search_deadline if budget is not None else None)
                pruners.add(result)
                result.path = proposal.trial_id if result.status == COMPLETED else None
                if record is not None:
                    # Where later runs find it, the moment it is finished.
                    # A retried trial's new outcome goes beside its first record; readers take the newest.
                    record.add_trial(dataclasses.replace(result, path=result.path and posixpath.join(output.uri, result.path)),
                                     retry=retry_request if retried else None)
                _log_result(result)
                results.append(result)
                failures.add(result)
                if failures.tripped:
                    # The rest is not trained; the next node stops the run with the reasons.
                    results += [dataclasses.replace(p, status=FAILED, error=f"not trained: {failures.message}")
                                for p in share[position:]]
                    output.set_string_custom_property(STOPPED_PROPERTY, failures.message)
                    log.error("%s", failures.message)
                    break

        trial_files.record_trials(output, results, TRIALS_FILE)
        completed = [t for t in results if t.status == COMPLETED]
        output.set_int_custom_property(ROUND_PROPERTY, int(proposals_artifact.get_int_custom_property(ROUND_PROPERTY)))
        output.set_int_custom_property(TRAINER_PROPERTY, index)
        output.set_string_custom_property(RUN_ID_PROPERTY, proposals_artifact.get_string_custom_property(RUN_ID_PROPERTY))
        output.set_string_custom_property(STUDY_PROPERTY, proposals_artifact.get_string_custom_property(STUDY_PROPERTY))
        output.set_int_custom_property(COMPLETED_PROPERTY, len(completed))
        skipped = sum(skipped_for_budget(t) for t in results)
        output.set_int_custom_property(FAILED_PROPERTY, len(results) - len(completed) - skipped)
        output.set_int_custom_property(SKIPPED_PROPERTY, skipped)
        output.set_int_custom_property(BUDGET_SPENT_PROPERTY,
                                       int(proposals_artifact.get_int_custom_property(BUDGET_SPENT_PROPERTY) or 0))
        if completed:
            output.set_float_custom_property(BEST_SCORE_PROPERTY, max(t.score(objective) for t in completed))


    @staticmethod
    def _attempt(proposal: Trial, cache: Optional[TrialCache], key: str, max_retries: int,
                 time_limit: Optional[float], position: int, count: int, index: int, spec, objective, train, evaluation,
                 epochs: int, trial_dir: str, stopping, files_of: Dict[str, str], tensorboard_dir: str,
                 in_flight: Dict[str, Optional[Attempt]], schedule_epochs: Optional[int] = None,
                 search_deadline: Optional[float] = None) -> Trial:
        """Trains the trial, unless earlier attempts died often enough (or for a
        reason retrying cannot help) that it is recorded failed instead."""
        earlier = cache.counted_attempts(key) if cache else []
        if earlier and (earlier[-1].final or len(earlier) > max_retries):
            result = failed_after_attempts(proposal, earlier)
            cache.store(key, result, trial_dir)
            return result
        if earlier:
            log.warning("trial %s: attempt %d of %d; the last one ended: %s", proposal.trial_id, len(earlier) + 1,
                        max_retries + 1, describe_death(earlier[-1]))
        log.info("trial %s (%d/%d of trainer %d): %s", proposal.trial_id, position, count, index,
                 proposal.architecture.describe())
        attempt = cache.begin_attempt(key, proposal, time_limit) if cache else None
        in_flight["attempt"] = attempt

        def expire(reason: str) -> None:
            if attempt is not None:
                stop_reason(attempt, reason, final=True)
            log.error("trial %s %s", proposal.trial_id, reason)

        with TrialWatchdog(time_limit, expire) as watchdog:
            result = train_trial(proposal, spec, train, evaluation, epochs, time_limit, trial_dir, stopping,
                                 tensorboard_dir, progress=watchdog, objective=objective,
                                 parent_dir=files_of.get(proposal.parent or ""),
                                 teacher_dir=files_of.get(proposal.teacher or ""),
                                 # A budget schedule's rungs are prefixes of one run of the study's epochs.
                                 schedule_epochs=schedule_epochs, search_deadline=search_deadline)
        in_flight["attempt"] = None
        if cache:
            cache.store(key, result, trial_dir)
        return result


class ConsecutiveFailures:
    """KerasTuner's `max_consecutive_failed_trials`: a run whose trials keep
    failing stops with the reasons instead of spending its budget. The count
    goes on from the Proposer's (this run's earlier trials)."""

    def __init__(self, limit: int, so_far: int = 0):
        self._limit = limit
        self._count = so_far
        self._reasons: list[str] = []
        self.message = ""

    @property
    def tripped(self) -> bool:
        return bool(self.message)

    def add(self, trial: Trial) -> None:
        if trial.status == COMPLETED:
            self._count, self._reasons = 0, []
            return
        self._count += 1
        self._reasons.append(f"{trial.trial_id}: {trial.error}")
        if self._limit and self._count >= self._limit:
            self.message = (f"the last {self._count} trials of run {trial.run_id} failed "
                            f"({'; '.join(self._reasons[-3:])}); fix the cause (`model-search trials` lists every "
                            "trial and its reason), then run again with --retry-failed, or with --new-run to leave "
                            "this run (--max-consecutive-failures sets the limit, 0 none)")


def _log_result(trial: Trial) -> None:
    if trial.status == COMPLETED:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(trial.metrics.items()))
        stopped = (f", stopped early after {trial.epochs} epochs" if trial.stopped_early else
                   f", fitted to the search deadline after {trial.epochs} epochs"
                   if trial.shortened_for_budget else "")
        log.info("trial %s completed: %s, %s params, %.1f s%s", trial.trial_id, shown, trial.num_params,
                 trial.train_seconds or 0, stopped)
    else:
        log.warning("trial %s failed: %s", trial.trial_id, trial.error)
