"""Proposer executor: the search algorithm's next batch for one round."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Dict, List

import numpy as np
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import executor_inputs, trial_files
from search_algo.algorithms import get_algorithm
from search_algo.search_space import SearchSpace
from search_algo.trial import Trial

log = logging.getLogger(__name__)

DATASET_SPEC_KEY = executor_inputs.DATASET_SPEC_KEY
HISTORY_PREFIX = "history"
PRIOR_KEY = executor_inputs.PRIOR_KEY
PROPOSALS_KEY = "proposals"
ROUND_KEY = "round"
RUN_ID_KEY = "run_id"
STUDY_KEY = "study"
ALGORITHM_KEY = "algorithm"
NUM_TRAINERS_KEY = "num_trainers"
TRIALS_PER_TRAINER_KEY = "trials_per_trainer"
SEED_KEY = "seed"
SEARCH_SPACE_KEY = "search_space"
CODE_VERSION_KEY = "code_version"
MODULE_FILE_KEY = executor_inputs.MODULE_FILE_KEY
PROPOSALS_FILE = "proposals.json"


def derived_seed(*parts: Any) -> int:
    """A stable 31-bit seed from any parts (Python's hash() is salted per process)."""
    digest = hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        executor_inputs.load_user_modules(exec_properties)
        spec = executor_inputs.dataset_spec(input_dict)
        history = executor_inputs.study_trials(input_dict, HISTORY_PREFIX)
        round_index = int(exec_properties[ROUND_KEY])
        run_id = exec_properties[RUN_ID_KEY]
        study = exec_properties[STUDY_KEY]
        seed = int(exec_properties[SEED_KEY])
        trainers = int(exec_properties[NUM_TRAINERS_KEY])
        per_trainer = int(exec_properties[TRIALS_PER_TRAINER_KEY])
        space = SearchSpace.from_dict(json.loads(exec_properties.get(SEARCH_SPACE_KEY) or "{}"), spec.input_kind)
        algorithm = get_algorithm(exec_properties[ALGORITHM_KEY])

        rng = np.random.default_rng(derived_seed(seed, study, run_id, round_index, "propose"))
        candidates = algorithm.propose(history, space, trainers * per_trainer, rng, spec.task)
        by_id = {t.trial_id: t for t in history}
        proposals = []
        for index, candidate in enumerate(candidates):
            parent = by_id.get(candidate.parent) if candidate.parent else None
            proposals.append(
                Trial(
                    trial_id=f"{run_id}-r{round_index}-{index:02d}",
                    round=round_index,
                    trainer=index // per_trainer,
                    architecture=candidate.architecture,
                    seed=derived_seed(seed, study, run_id, round_index, index, "train"),
                    algorithm=candidate.algorithm or algorithm.name,
                    run_id=run_id,
                    study=study,
                    parent=candidate.parent,
                    parent_uri=parent.path if parent else None,
                    transfer=candidate.transfer if parent and parent.path else "none",
                )
            )
        output = artifact_utils.get_single_instance(output_dict[PROPOSALS_KEY])
        trial_files.record_trials(output, proposals, PROPOSALS_FILE)
        output.set_int_custom_property("round", round_index)
        output.set_string_custom_property("run_id", run_id)
        output.set_string_custom_property("study", study)
        output.set_string_custom_property("algorithm", algorithm.name)
        output.set_int_custom_property("count", len(proposals))
        output.set_int_custom_property("history_size", len(history))
        log.info("round %d: %s proposed %d trials from a history of %d", round_index, algorithm.name,
                 len(proposals), len(history))
