"""Numbering a local study's runs from ML Metadata and the study record."""

from __future__ import annotations

from tfx.orchestration import metadata

from components.study_record import StudyRecord
from pipeline.study_store import StudyStore
from search_algo.architecture import Architecture
from search_algo.trial import Trial


def test_a_new_run_is_numbered_past_every_run_the_record_knows(tmp_path):
    connection = metadata.sqlite_metadata_connection_config(str(tmp_path / "metadata.sqlite"))
    record = StudyRecord(str(tmp_path / "record"))
    assert StudyStore(connection, "s", record=record).run_id_for_next_run() == "run1"
    arch = Architecture.from_dict({"blocks": [{"name": "dense"}]})
    for run in ("run1", "run2"):
        record.add_trial(Trial(f"{run}-r1-00", 1, 0, arch, seed=0, algorithm="beam", run_id=run, study="s",
                               status="failed", started_at=run))
    # ML Metadata was deleted, the record was not: run1 again would reuse recorded trial ids.
    assert StudyStore(connection, "s", record=record).run_id_for_next_run() == "run3"
