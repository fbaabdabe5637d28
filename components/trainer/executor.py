"""Trainer executor: trains this trainer's share of the round's proposals."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import posixpath
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components import examples_io, executor_inputs, files, trial_files
from components.study_record import StudyRecord
from components.trainer.training import SplitData, train_trial
from search_algo.early_stopping import MedianStoppingRule, warmup_epochs
from search_algo.trial import COMPLETED, Trial

log = logging.getLogger(__name__)

EXAMPLES_KEY = executor_inputs.EXAMPLES_KEY
DATASET_SPEC_KEY = executor_inputs.DATASET_SPEC_KEY
PROPOSALS_KEY = "proposals"
TRIALS_KEY = "trials"
TRAINER_INDEX_KEY = "trainer_index"
EPOCHS_KEY = "epochs"
TIME_LIMIT_KEY = "time_limit_seconds"
TRIAL_CACHE_KEY = "trial_cache_root"
TENSORBOARD_KEY = "tensorboard_root"
STUDY_RECORD_KEY = "study_record"
CODE_VERSION_KEY = "code_version"
MODULE_FILE_KEY = executor_inputs.MODULE_FILE_KEY
TRIALS_FILE = "trials.json"


def trial_cache_key(trial: Trial, exec_properties: Dict[str, Any], examples: types.Artifact,
                    stopping: Any = None) -> str:
    """Identifies a finished trial across executions: a re-run after a crash
    reuses it instead of training it again. The data is identified by what
    the ingest read, not by where its Examples are: a resubmitted run on a
    cluster ingests the same data into a new artifact."""
    identity = {
        "trial": {k: v for k, v in trial.to_dict().items() if k not in ("parent_uri", "teacher_uri")},
        "epochs": exec_properties[EPOCHS_KEY],
        "time_limit": exec_properties.get(TIME_LIMIT_KEY) or None,
        "code": exec_properties.get(CODE_VERSION_KEY),
        "examples": examples.get_string_custom_property(examples_io.DATA_FINGERPRINT_PROPERTY) or examples.uri,
        "stopping": stopping,
    }
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
        proposals_artifact = artifact_utils.get_single_instance(input_dict[PROPOSALS_KEY])
        output = artifact_utils.get_single_instance(output_dict[TRIALS_KEY])
        index = int(exec_properties[TRAINER_INDEX_KEY])
        share = [t for t in trial_files.trials_of([proposals_artifact]) if t.trainer == index]
        epochs = int(exec_properties[EPOCHS_KEY])
        time_limit = float(exec_properties.get(TIME_LIMIT_KEY) or 0) or None
        cache_root = exec_properties.get(TRIAL_CACHE_KEY) or ""
        tensorboard_root = exec_properties.get(TENSORBOARD_KEY) or ""
        record = StudyRecord(exec_properties[STUDY_RECORD_KEY]) if exec_properties.get(STUDY_RECORD_KEY) else None

        stopping = stopping_rule(proposals_artifact.uri, epochs)
        train = SplitData(*examples_io.load_split(examples, "train", spec))
        evaluation = SplitData(*examples_io.load_split(examples, "eval", spec))
        results: list[Trial] = []
        for position, proposal in enumerate(share, start=1):
            trial_dir = os.path.join(output.uri, proposal.trial_id)
            # The rule as this trial sees it: history plus this trainer's earlier trials.
            key = trial_cache_key(proposal, exec_properties, examples,
                                  stopping and [stopping.warmup, stopping.reference])
            cached = _cached(cache_root, key)
            if cached is not None:
                log.info("trial %s: reusing the finished result of an earlier execution", proposal.trial_id)
                result = cached["trial"]
                if result.status == COMPLETED:
                    files.copy_tree(cached["dir"], trial_dir)
            else:
                log.info("trial %s (%d/%d of trainer %d): %s", proposal.trial_id, position, len(share), index,
                         proposal.architecture.describe())
                result = train_trial(proposal, spec, train, evaluation, epochs, time_limit, trial_dir, stopping,
                                     tensorboard_root and os.path.join(tensorboard_root, proposal.trial_id))
                _store(cache_root, key, result, trial_dir)
            if stopping is not None and result.status == COMPLETED:
                stopping.add(result.curve)
            result.path = proposal.trial_id if result.status == COMPLETED else None
            if record is not None:
                # Where later runs find it, the moment it is finished.
                record.add_trial(dataclasses.replace(result, path=result.path and posixpath.join(output.uri, result.path)))
            _log_result(result)
            results.append(result)

        trial_files.record_trials(output, results, TRIALS_FILE)
        completed = [t for t in results if t.status == COMPLETED]
        output.set_int_custom_property("round", int(proposals_artifact.get_int_custom_property("round")))
        output.set_int_custom_property("trainer", index)
        output.set_string_custom_property("run_id", proposals_artifact.get_string_custom_property("run_id"))
        output.set_string_custom_property("study", proposals_artifact.get_string_custom_property("study"))
        output.set_int_custom_property("completed", len(completed))
        output.set_int_custom_property("failed", len(results) - len(completed))
        if completed:
            output.set_float_custom_property("best_score", max(t.score(spec.task) for t in completed))


def stopping_rule(proposals_uri: str, epochs: int):
    """The early-stopping rule the Proposer chose for this round, or None."""
    path = os.path.join(proposals_uri, trial_files.STOPPING_FILE)
    if not fileio.exists(path):
        return None
    settings = json.loads(files.read_text(path))
    if settings.get("rule") != "median":
        return None
    return MedianStoppingRule.from_curves(settings.get("curves", []), warmup_epochs(epochs))


def _log_result(trial: Trial) -> None:
    if trial.status == COMPLETED:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(trial.metrics.items()))
        stopped = f", stopped early after {trial.epochs} epochs" if trial.stopped_early else ""
        log.info("trial %s completed: %s, %s params, %.1f s%s", trial.trial_id, shown, trial.num_params,
                 trial.train_seconds or 0, stopped)
    else:
        log.warning("trial %s failed: %s", trial.trial_id, trial.error)


def _cached(cache_root: str, key: str):
    if not cache_root:
        return None
    directory = os.path.join(cache_root, key)
    record = os.path.join(directory, "result.json")
    if not fileio.exists(record):
        return None
    trial = Trial.from_dict(json.loads(files.read_text(record)))
    return {"trial": trial, "dir": os.path.join(directory, "files")}


def _store(cache_root: str, key: str, trial: Trial, trial_dir: str) -> None:
    if not cache_root:
        return
    directory = os.path.join(cache_root, key)
    if trial.status == COMPLETED:
        files.copy_tree(trial_dir, os.path.join(directory, "files"))
    # Written last: a crash before this line leaves no reusable entry.
    files.write_text(os.path.join(directory, "result.json"), json.dumps(trial.to_dict()))
