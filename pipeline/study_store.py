"""The study as ML Metadata records it: runs, trials, leaderboards.

Everything here reads ML Metadata alone (artifact custom properties), not the
files beside it, so any machine with the metadata connection can answer.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from ml_metadata.proto import metadata_store_pb2

from components import keys
from pipeline import metadata_uri
from search_algo.dataset_spec import DatasetSpec
from search_algo.trial import Trial, trials_from_json

TRIAL_RESULTS_TYPE = "components.TrialResults"
PROPOSALS_TYPE = "components.Proposals"
LEADERBOARD_TYPE = "components.Leaderboard"
DATASET_SPEC_TYPE = "components.DatasetSpec"
TRIAL_HISTORY_TYPE = "components.TrialHistory"
RUN_NUMBER = re.compile(r"^run(\d+)$")


class StudyStore:
    """A study as a local run's ML Metadata records it. `record` (the study
    record in the run directory's pipeline root) answers the blessing history."""

    def __init__(self, connection_config, pipeline_name: str, record=None):
        # A store that cannot be opened (a MySQL server down, a wrong password) is a
        # one-line UserError naming it; `run` opens this before the pipeline starts.
        self._store = metadata_uri.connect(connection_config)
        self._pipeline_name = pipeline_name
        self._record = record

    def validations(self) -> list[dict[str, Any]]:
        """The study's blessing history, oldest first (from the study record)."""
        return self._record.validations() if self._record is not None and self._record.exists() else []

    def _artifacts(self, type_name: str) -> list[metadata_store_pb2.Artifact]:
        context = self._store.get_context_by_type_and_name("pipeline", self._pipeline_name)
        if context is None:
            return []
        try:
            artifact_type = self._store.get_artifact_type(type_name)
        except Exception:  # noqa: BLE001 - the type does not exist before the first run
            return []
        return sorted(
            (
                a
                for a in self._store.get_artifacts_by_context(context.id)
                if a.type_id == artifact_type.id and a.state == metadata_store_pb2.Artifact.LIVE
            ),
            key=lambda a: a.id,
        )

    @staticmethod
    def _string(artifact: metadata_store_pb2.Artifact, name: str) -> Optional[str]:
        value = artifact.custom_properties.get(name)
        return value.string_value if value is not None and value.HasField("string_value") else None

    def trials(self) -> list[Trial]:
        """Every trained trial of the study, completed or failed, oldest first;
        a trial recorded twice (a cached re-run, a retry of a failed trial) is
        listed once, as its newest artifact has it."""
        seen: dict[str, Trial] = {}
        for artifact in self._artifacts(TRIAL_RESULTS_TYPE):
            for trial in trials_from_json(self._string(artifact, keys.TRIALS_PROPERTY) or "[]"):
                seen[trial.trial_id] = trial.located_in(artifact.uri)
        return list(seen.values())

    def run_started_at(self, run_id: str) -> Optional[float]:
        """When the run started (epoch seconds), as its StudyHistory node stamped it."""
        for artifact in self._artifacts(TRIAL_HISTORY_TYPE):
            value = artifact.custom_properties.get(keys.STARTED_AT_PROPERTY)
            if self._string(artifact, keys.RUN_ID_PROPERTY) == run_id and value is not None:
                return value.double_value or None
        return None

    def node_intervals(self, since: float, until: float) -> list[dict[str, Any]]:
        """{"node": component class name, "start", "end"} (epoch seconds) of the
        executions that started between `since` and `until`: one command's,
        since one command at a time runs a study's directory."""
        kinds = {t.id: t.name.rsplit(".", 1)[-1] for t in self._store.get_execution_types()}
        return [
            {"node": kinds.get(e.type_id, "?"), "start": e.create_time_since_epoch / 1000,
             "end": e.last_update_time_since_epoch / 1000}
            for e in self._store.get_executions()
            if since <= e.create_time_since_epoch / 1000 <= until
        ]

    def run_ids(self) -> list[str]:
        runs = {self._string(a, keys.RUN_ID_PROPERTY) for a in self._artifacts(PROPOSALS_TYPE)}
        return sorted((r for r in runs if r), key=_run_number)

    def finished_run_ids(self) -> set[str]:
        """Runs whose last node, the Pusher, has finished (pushed or not): a
        run that died anywhere before it - even after its leaderboard - is
        unfinished, and the next `run` resumes it."""
        runs = {self._string(model, keys.RUN_ID_PROPERTY) for model in self._chosen_models()}
        return {run for run in runs if run and self.validation(run) is not None}

    def leaderboard(self, run_id: Optional[str] = None) -> Optional[dict[str, Any]]:
        boards = [a for a in self._artifacts(LEADERBOARD_TYPE) if run_id is None or self._string(a, keys.RUN_ID_PROPERTY) == run_id]
        if not boards:
            return None
        return json.loads(self._string(boards[-1], "leaderboard_json") or "null")

    def run_leaderboards(self) -> dict[str, dict[str, Any]]:
        """Each run's newest leaderboard (run id -> leaderboard), oldest run first."""
        boards: dict[str, dict[str, Any]] = {}
        for artifact in self._artifacts(LEADERBOARD_TYPE):
            run_id, board = self._string(artifact, keys.RUN_ID_PROPERTY), json.loads(self._string(artifact, keys.LEADERBOARD_JSON_PROPERTY) or "null")
            if run_id and board:
                boards.pop(run_id, None)
                boards[run_id] = board
        return boards

    def _chosen_models(self) -> list[metadata_store_pb2.Artifact]:
        """The SearchEvaluator's chosen models (they alone carry the label key)."""
        return [a for a in self._artifacts("Model") if self._string(a, "label_key") is not None]

    def validation(self, run_id: str) -> Optional[dict[str, Any]]:
        """Whether TFX's Evaluator blessed the run's chosen model (against the
        model in production) and whether the Pusher pushed it, found through
        the executions that took the chosen model as input; None until the
        Pusher has finished."""
        for model in reversed([m for m in self._chosen_models() if self._string(m, keys.RUN_ID_PROPERTY) == run_id]):
            found = self._validation_of(model)
            if found is not None:
                return found
        return None

    def _validation_of(self, model: metadata_store_pb2.Artifact) -> Optional[dict[str, Any]]:
        executions = {e.execution_id for e in self._store.get_events_by_artifact_ids([model.id])
                      if e.type == metadata_store_pb2.Event.INPUT}
        outputs = {e.artifact_id for e in self._store.get_events_by_execution_ids(list(executions))
                   if e.type == metadata_store_pb2.Event.OUTPUT}
        result: dict[str, Any] = {"blessed": None, "baseline_model": None, "pushed": None, "pushed_to": None}
        types = {t.id: t.name for t in self._store.get_artifact_types()}
        for artifact in self._store.get_artifacts_by_id(sorted(outputs)):
            values = artifact.custom_properties
            if artifact.state != metadata_store_pb2.Artifact.LIVE:
                continue
            if types.get(artifact.type_id) == "ModelBlessing" and "blessed" in values:
                result["blessed"] = bool(values["blessed"].int_value)
                result["baseline_model"] = self._string(artifact, "baseline_model")
            elif types.get(artifact.type_id) == "PushedModel" and keys.PUSHED_PROPERTY in values:
                result["pushed"] = bool(values[keys.PUSHED_PROPERTY].int_value)
                result["pushed_to"] = self._string(artifact, keys.PUSHED_DESTINATION_PROPERTY) if result["pushed"] else None
        return result if result["pushed"] is not None else None

    def dataset_spec(self) -> Optional[DatasetSpec]:
        """The spec of the study's newest ingested data (read from its artifact's file)."""
        specs = self._artifacts(DATASET_SPEC_TYPE)
        if not specs:
            return None
        try:
            return DatasetSpec.load(specs[-1].uri)
        except OSError:  # the artifact's files were deleted
            return None

    def run_id_for_next_run(self, new_run: bool = False) -> str:
        """The unfinished latest run (a re-run after a crash resumes it), else a
        new run, numbered past every run ML Metadata or the study record knows
        (a run id already in the record would be taken for a resumed run).
        `new_run` leaves an unfinished run as it is and starts the next one."""
        runs = self.run_ids()
        if runs and runs[-1] not in self.finished_run_ids() and not new_run:
            return runs[-1]
        recorded = self._record.run_ids() if self._record is not None and self._record.exists() else []
        return f"run{max([0] + [_run_number(r) for r in runs + recorded]) + 1}"


def _run_number(run_id: str) -> int:
    match = RUN_NUMBER.match(run_id)
    return int(match.group(1)) if match else 0
