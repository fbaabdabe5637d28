"""DataIngest executor: two Beam pipelines over the source, then the spec.

1. The survey (first pass): every unit of the source (see `sources.py`) is
   surveyed by a worker, and the summaries are combined into one. The driver
   reads that one summary and plans: it validates the input (a DataError,
   one line, exit 2, before any example is written), infers the schema and
   fixes the split rule.
2. The write (second pass): every unit becomes record batches; each batch is
   split by its records' keys, encoded to tf.Example and written as one
   gzipped TFRecord shard per split under `Split-<name>/`, and its split
   sizes, class counts and train statistics are combined into one.

Nothing is grouped but these summaries and the list of units: no process
holds the records, so the same executor streams a file larger than memory on
the DirectRunner and spreads it on Dataflow (the pipeline's Beam args). The
records are not shuffled here: the trainers' `tf.data` pipelines shuffle
across shards. The driver and the workers meet only through files under the
Examples artifact (removed at the end), so nothing assumes one process.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from typing import Any, Callable, Dict, List

import apache_beam as beam
import tensorflow as tf
from tfx import types
from tfx.components.example_gen import write_split
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as std
from tfx.utils import io_utils
from tfx.components.util import examples_utils

from components.dataset_spec_artifact import write_dataset_spec
from components.ingest import sources
from components.ingest.batches import ShardWriter, SplitStats, mean_std
from components.ingest.fingerprint import data_fingerprint, input_fingerprint
from components.ingest.splits import SPLITS, check_not_empty
from components.keys import DATASET_SPEC_KEY, DATA_FINGERPRINT_PROPERTY, SOURCE_CONFIG_KEY
from search_algo.dataset_spec import DatasetSpec, FeatureSpec
from search_algo.errors import DataError

log = logging.getLogger(__name__)

SCRATCH = ".ingest"


class _Merge(beam.CombineFn):
    """Combines the summaries of a pass: each has `merge(other)`."""

    def create_accumulator(self):
        return None

    def add_input(self, accumulator, summary):
        return summary if accumulator is None else accumulator.merge(summary)

    def merge_accumulators(self, accumulators):
        result = None
        for accumulator in accumulators:
            if accumulator is not None:
                result = accumulator if result is None else result.merge(accumulator)
        return result

    def extract_output(self, accumulator):
        return accumulator


def _save(summary: Any, path: str) -> None:
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(pickle.dumps(summary))


class Executor(base_beam_executor.BaseBeamExecutor):
    def _combined(self, units: list, per_unit: Callable[[beam.PCollection], beam.PCollection], path: str) -> Any:
        """Runs one pass: the units, `per_unit` on each, the summaries combined
        and handed to the driver through a file."""
        with self._make_beam_pipeline() as pipeline:
            summaries = per_unit(pipeline | "Units" >> beam.Create(units))
            _ = (summaries
                 | "Combine" >> beam.CombineGlobally(_Merge())
                 | "Save" >> beam.Map(_save, path))
        with tf.io.gfile.GFile(path, "rb") as handle:
            return pickle.loads(handle.read())

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        config = sources.SourceConfig.from_dict(json.loads(exec_properties[SOURCE_CONFIG_KEY]))
        source = sources.open_source(config)
        units = source.units()
        examples = artifact_utils.get_single_instance(output_dict[std.EXAMPLES_KEY])
        scratch = os.path.join(examples.uri, SCRATCH)
        tf.io.gfile.makedirs(scratch)
        try:
            survey = self._combined(units, lambda p: p | "Survey" >> beam.Map(source.survey),
                                    os.path.join(scratch, "survey.pickle"))
            # A DataError stops here: nothing has been written yet.
            plan = source.plan(survey)
            for warning in plan.warnings:
                log.warning("%s", warning)
            examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
            split_uris = {split: artifact_utils.get_split_uri([examples], split) for split in SPLITS}
            for uri in split_uris.values():
                tf.io.gfile.makedirs(uri)
            writer = ShardWriter(split_uris, tuple(plan.features), plan.label_key, plan.task,
                                 len(plan.class_names), plan.rule)
            stats = self._combined(
                units,
                lambda p: (p | "Batches" >> beam.FlatMap(source.batches, plan)
                           | "Write" >> beam.Map(writer.write)),
                os.path.join(scratch, "stats.pickle"))
        finally:
            io_utils.delete_dir(scratch)
        stats = stats if stats is not None else writer.empty_stats()

        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP))
        # Read now, not at compile time: a compiled pipeline names remote data only by its location.
        examples.set_string_custom_property(
            DATA_FINGERPRINT_PROPERTY, data_fingerprint(exec_properties[SOURCE_CONFIG_KEY], input_fingerprint(config)))
        spec = build_dataset_spec(plan, stats, config)
        spec_artifact = artifact_utils.get_single_instance(output_dict[DATASET_SPEC_KEY])
        write_dataset_spec(spec, spec_artifact)
        log.info("Ingested %s: %s", spec.name, spec.split_sizes)


def build_dataset_spec(plan: sources.Plan, stats: SplitStats, config: sources.SourceConfig) -> DatasetSpec:
    """The dataset spec of the written examples: statistics from the train
    split only, so nothing about eval or test leaks into the model."""
    split_sizes = {split: int(stats.sizes[i]) for i, split in enumerate(SPLITS)}
    if not split_sizes["train"]:
        raise DataError(f"{plan.name}: no readable records reached the train split")
    check_not_empty(split_sizes, plan.name)
    class_counts = {}
    if plan.task == "classification":
        class_counts = {split: {name: int(n) for name, n in zip(plan.class_names, stats.class_counts[i])}
                        for i, split in enumerate(SPLITS)}
    features = []
    for feature in plan.features:
        updated = FeatureSpec(**feature.to_dict())
        if feature.name in stats.moments:
            updated.mean, updated.std = mean_std(stats.moments[feature.name])
        else:
            counts = stats.vocabularies[feature.name]
            # Most frequent first, ties alphabetical: stable across runs.
            updated.vocabulary = sorted(counts, key=lambda token: (-counts[token], token))
        features.append(updated)
    label_mean = label_std = None
    if plan.task == "regression":
        (label_mean,), (label_std,) = mean_std(stats.label_moments)
    source = {k: v for k, v in config.to_dict().items() if v is not None}
    source["kind"] = plan.source_kind
    source["options"] = plan.options
    return DatasetSpec(
        name=plan.name, task=plan.task, input_kind=plan.input_kind, label=plan.label_key,
        label_display_name=plan.label_display_name, features=features, class_names=list(plan.class_names),
        label_mean=label_mean, label_std=label_std, split_sizes=split_sizes, class_counts=class_counts,
        source=source,
    )
