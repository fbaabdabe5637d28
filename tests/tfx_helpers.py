"""Running executors on hand-built artifacts, as a runner would."""

from __future__ import annotations

import os

from tfx.types import standard_artifacts

from components import artifacts
from components.ingest import component, executor
from components.dataset_spec_artifact import read_dataset_spec
from components.ingest.sources import SourceConfig


def run_ingest(config: SourceConfig, out_dir):
    ingest = component.DataIngest(config, input_fingerprint="test")
    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(out_dir, "examples")
    spec = artifacts.DatasetSpec()
    spec.uri = os.path.join(out_dir, "spec")
    executor.Executor().Do({}, {"examples": [examples], "dataset_spec": [spec]}, dict(ingest.exec_properties))
    return examples, spec, read_dataset_spec(spec)


def new_artifact(artifact_type, uri):
    item = artifact_type()
    item.uri = str(uri)
    os.makedirs(item.uri, exist_ok=True)
    return item


def history_artifact(uri, run_id: str = "run1", trials=()):
    """A StudyHistory output: this run's id and the study's earlier trials."""
    from components import trial_files

    item = new_artifact(artifacts.TrialHistory, uri)
    trial_files.write_history(item, run_id, list(trials))
    return item
