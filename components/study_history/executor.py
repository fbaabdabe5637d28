"""StudyHistory executor: reads the study record once, at the start of a run.

Every later node of the run sees the same history (this artifact), however
the record grows meanwhile, so a resumed run proposes what it proposed before.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import os
import time
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import trial_files
from components.study_record import StudyRecord
from components.keys import (
    COUNT_PROPERTY, HISTORY_KEY, RUNS_PROPERTY, RUN_ID_KEY, STARTED_AT_PROPERTY, STUDY_KEY, STUDY_PROPERTY,
    STUDY_RECORD_KEY,
)

log = logging.getLogger(__name__)

# Set by `model-search run` (pipeline/local_runner.py): when the command
# started (epoch seconds), so that a local run's budget includes its start-up.
# An environment variable, not a parameter: it must not change the node's
# cache key, or a resumed run would get a new history and start over.
RUN_STARTED_ENV = "MODEL_SEARCH_RUN_STARTED_AT"


def run_started_at(now: float, environ=os.environ) -> float:
    """When the run started: this first node's execution (a cluster's run),
    or the local command's start when it says so; never in the future."""
    try:
        told = float(environ.get(RUN_STARTED_ENV) or 0)
    except ValueError:
        told = 0.0
    return min(told, now) if told > 0 else now


def derived_run_id(output_uri: str, now: datetime.datetime | None = None) -> str:
    """A run id for a run started without one (a scheduled run): the start
    time, readable and sortable, and a digest of this execution's output URI,
    which the orchestrator makes unique per run."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return f"run-{now:%Y%m%d-%H%M%S}-{hashlib.sha256(output_uri.encode()).hexdigest()[:6]}"


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        output = artifact_utils.get_single_instance(output_dict[HISTORY_KEY])
        run_id = exec_properties.get(RUN_ID_KEY) or derived_run_id(output.uri)
        record = StudyRecord(exec_properties[STUDY_RECORD_KEY])
        # A resumed run (same id) must not count its own first attempt as history.
        earlier = [t for t in record.trials() if t.run_id != run_id]
        # Trials whose files were removed still inform the search; without a
        # path, no node loads their files (weight sharing, ensembles, students).
        removed = record.removed_trial_ids()
        earlier = [dataclasses.replace(t, path=None) if t.trial_id in removed else t for t in earlier]
        trial_files.write_history(output, run_id, earlier)
        runs = sorted({t.run_id for t in earlier})
        output.set_string_custom_property(STUDY_PROPERTY, exec_properties[STUDY_KEY])
        # The run's clock (search_algo/time_budget.py): every later node reads
        # it from this artifact, wherever it runs; a resumed run reuses this
        # execution from the cache, so its budget counts from its first start.
        output.set_float_custom_property(STARTED_AT_PROPERTY, run_started_at(time.time()))
        output.set_int_custom_property(COUNT_PROPERTY, len(earlier))
        output.set_int_custom_property(RUNS_PROPERTY, len(runs))
        log.info("%s of study %r starts from %d trials of %d earlier runs", run_id, exec_properties[STUDY_KEY],
                 len(earlier), len(runs))
