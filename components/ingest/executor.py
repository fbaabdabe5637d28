"""DataIngest executor: a custom ExampleGen executor.

The base class (TFX's BaseExampleGenExecutor) runs the Beam pipeline and
writes each split as gzipped TFRecords under `Split-<name>/`; this executor
plans the records (validation, schema, seeded stratified splits; see
`sources.py`), encodes them to tf.Example inside Beam, then computes the
dataset spec's statistics on the written train split.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any, Dict, List

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tfx import types
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as std

from components import examples_io
from components.dataset_spec_artifact import write_dataset_spec
from components.ingest import sources
from components.ingest.fingerprint import data_fingerprint, input_fingerprint
from components.keys import DATASET_SPEC_KEY, DATA_FINGERPRINT_PROPERTY, SOURCE_CONFIG_KEY
from search_algo.dataset_spec import DatasetSpec, FeatureSpec


log = logging.getLogger(__name__)


def _encode(record: tuple, meta: Dict[str, Any]):
    values = sources.encode_record(meta, record)
    if values is not None:
        yield examples_io.to_example(values)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _RecordsToExample(pipeline: beam.Pipeline, records: List[tuple], meta: Dict[str, Any]):
    return (
        pipeline
        | "Create" >> beam.Create(records, reshuffle=False)
        # Decoding images and audio is the costly part; let the runner spread it.
        | "Reshuffle" >> beam.Reshuffle()
        | "Encode" >> beam.FlatMap(_encode, meta)
    )


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _SourceToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any], split_pattern: str):
    """Every record of the source, unsplit: for TFX's own hash-based splitting
    if a caller prefers it to the exact stratified split."""
    del split_pattern  # the source config names the data
    plan = sources.make_plan(sources.SourceConfig.from_dict(json.loads(exec_properties[SOURCE_CONFIG_KEY])))
    records = [r for split in sources.SPLITS for r in plan.splits[split]]
    return pipeline | _RecordsToExample(records, sources.plan_meta(plan))


class Executor(BaseExampleGenExecutor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _SourceToExample

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline, exec_properties: Dict[str, Any]):
        meta = sources.plan_meta(self._plan)
        return {
            split: pipeline | f"Records[{split}]" >> _RecordsToExample(self._plan.splits[split], meta)
            for split in sources.SPLITS
        }

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        config = sources.SourceConfig.from_dict(json.loads(exec_properties[SOURCE_CONFIG_KEY]))
        # Planning validates the input: a DataError stops here, before anything is written.
        self._plan = sources.make_plan(config)
        super().Do(input_dict, output_dict, exec_properties)

        examples = artifact_utils.get_single_instance(output_dict[std.EXAMPLES_KEY])
        # Read now, not at compile time: a compiled pipeline names remote data only by its location.
        examples.set_string_custom_property(
            DATA_FINGERPRINT_PROPERTY, data_fingerprint(exec_properties[SOURCE_CONFIG_KEY], input_fingerprint(config)))
        spec = build_dataset_spec(self._plan, examples, config)
        spec_artifact = artifact_utils.get_single_instance(output_dict[DATASET_SPEC_KEY])
        write_dataset_spec(spec, spec_artifact)
        log.info("Ingested %s: %s", spec.name, spec.split_sizes)


class _Moments:
    """Running per-channel sums (float64), for mean and standard deviation."""

    def __init__(self) -> None:
        self.count = 0
        self.total: np.ndarray | float = 0.0
        self.squares: np.ndarray | float = 0.0

    def add(self, batch: np.ndarray) -> None:
        values = batch.astype(np.float64)
        channels = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values.reshape(-1, 1)
        self.count += channels.shape[0]
        self.total = self.total + channels.sum(axis=0)
        self.squares = self.squares + (channels**2).sum(axis=0)

    def mean_std(self) -> tuple[list[float], list[float]]:
        mean = np.asarray(self.total) / max(self.count, 1)
        variance = np.maximum(np.asarray(self.squares) / max(self.count, 1) - mean**2, 0.0)
        std = np.sqrt(variance)
        std = np.where(std > 1e-8, std, 1.0)  # a constant feature must not divide by zero
        return [float(v) for v in mean], [float(v) for v in std]


def build_dataset_spec(plan: sources.Plan, examples: types.Artifact, config: sources.SourceConfig) -> DatasetSpec:
    """The dataset spec of the written examples: statistics from the train
    split only, so nothing about eval or test leaks into the model."""
    schema = DatasetSpec(
        name=plan.name, task=plan.task, input_kind=plan.input_kind, label=plan.label_key,
        label_display_name=plan.label_display_name, features=plan.features, class_names=list(plan.class_names),
    )
    moments = {f.name: _Moments() for f in plan.features if f.kind == "numeric"}
    vocabularies: Dict[str, Dict[str, int]] = {f.name: {} for f in plan.features if f.kind == "categorical"}
    label_moments = _Moments()
    split_sizes: Dict[str, int] = {}
    class_counts: Dict[str, Dict[str, int]] = {}
    for split in sources.SPLITS:
        counts = np.zeros(len(plan.class_names), dtype=np.int64)
        size = 0
        for batch in examples_io.parsed_batches(examples, split, schema, batch_size=1024):
            labels = batch[plan.label_key]
            size += labels.shape[0]
            if plan.task == "classification":
                counts += np.bincount(labels, minlength=len(plan.class_names))
            if split != "train":
                continue
            if plan.task == "regression":
                label_moments.add(labels)
            for name, accumulator in moments.items():
                accumulator.add(batch[name])
            for name, vocabulary in vocabularies.items():
                for value in batch[name]:
                    token = value.decode("utf-8")
                    vocabulary[token] = vocabulary.get(token, 0) + 1
        split_sizes[split] = size
        if plan.task == "classification":
            class_counts[split] = {name: int(n) for name, n in zip(plan.class_names, counts)}
    if not split_sizes.get("train"):
        from search_algo.errors import DataError

        raise DataError(f"{plan.name}: no readable records reached the train split")

    features = []
    for feature in plan.features:
        updated = FeatureSpec(**feature.to_dict())
        if feature.name in moments:
            updated.mean, updated.std = moments[feature.name].mean_std()
        else:
            counts = vocabularies[feature.name]
            # Most frequent first, ties alphabetical: stable across runs.
            updated.vocabulary = sorted(counts, key=lambda token: (-counts[token], token))
        features.append(updated)
    label_mean = label_std = None
    if plan.task == "regression":
        (label_mean,), (label_std,) = label_moments.mean_std()
    source = {k: v for k, v in config.to_dict().items() if v is not None}
    source["kind"] = plan.source_kind
    source["options"] = plan.options
    return dataclasses.replace(
        schema,
        features=features,
        label_mean=label_mean,
        label_std=label_std,
        split_sizes=split_sizes,
        class_counts=class_counts,
        source=source,
    )
