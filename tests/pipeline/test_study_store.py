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


def test_a_new_run_on_request_leaves_the_unfinished_run_as_it_is(tmp_path):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    connection = metadata.sqlite_metadata_connection_config(str(tmp_path / "metadata.sqlite"))
    store = metadata_store.MetadataStore(connection)
    # run1 proposed its trials and never finished (no Pusher): it is what a plain `run` resumes.
    context_type = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline"))
    [context] = store.put_contexts([metadata_store_pb2.Context(type_id=context_type, name="s")])
    proposals_type = store.put_artifact_type(metadata_store_pb2.ArtifactType(name="components.Proposals"))
    proposals = metadata_store_pb2.Artifact(type_id=proposals_type, uri=str(tmp_path / "p"),
                                            state=metadata_store_pb2.Artifact.LIVE)
    proposals.custom_properties["run_id"].string_value = "run1"
    [artifact] = store.put_artifacts([proposals])
    store.put_attributions_and_associations([metadata_store_pb2.Attribution(artifact_id=artifact, context_id=context)], [])
    study = StudyStore(connection, "s", record=StudyRecord(str(tmp_path / "record")))
    assert study.run_id_for_next_run() == "run1"
    assert study.run_id_for_next_run(new_run=True) == "run2"
