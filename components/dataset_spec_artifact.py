"""A DatasetSpec artifact: its one writer (the ingest) and its one reader
(every executor after it). The spec is a JSON file in the artifact; a few of
its facts are custom properties too, for ML Metadata queries and the UI."""

from __future__ import annotations

import os

from tfx import types

from components import files
from components.keys import INPUT_KIND_PROPERTY, LABEL_PROPERTY, NAME_PROPERTY, NUM_CLASSES_PROPERTY, NUM_FEATURES_PROPERTY, TASK_PROPERTY
from search_algo.dataset_spec import SPEC_FILE_NAME, DatasetSpec


def write_dataset_spec(spec: DatasetSpec, spec_artifact: types.Artifact) -> None:
    files.write_text(os.path.join(spec_artifact.uri, SPEC_FILE_NAME), spec.to_json())
    spec_artifact.set_string_custom_property(NAME_PROPERTY, spec.name)
    spec_artifact.set_string_custom_property(TASK_PROPERTY, spec.task)
    spec_artifact.set_string_custom_property(INPUT_KIND_PROPERTY, spec.input_kind)
    spec_artifact.set_string_custom_property(LABEL_PROPERTY, spec.label)
    spec_artifact.set_int_custom_property(NUM_CLASSES_PROPERTY, spec.num_classes)
    spec_artifact.set_int_custom_property(NUM_FEATURES_PROPERTY, len(spec.features))


def read_dataset_spec(spec_artifact: types.Artifact) -> DatasetSpec:
    return DatasetSpec.from_json(files.read_text(os.path.join(spec_artifact.uri, SPEC_FILE_NAME)))
