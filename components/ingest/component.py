"""DataIngest: a custom ExampleGen that turns any supported source into
`Examples` (train / eval / test, gzipped TFRecords of tf.Example) and a
`DatasetSpec` artifact."""

from __future__ import annotations

import json

from google.protobuf import json_format
from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import component_spec, standard_artifacts
from tfx.types import standard_component_specs as std

from components import artifacts
from components.ingest import executor
from components.ingest.sources import SourceConfig
from components.keys import DATASET_SPEC_KEY, INPUT_FINGERPRINT_KEY, SOURCE_CONFIG_KEY


class DataIngestSpec(component_spec.ComponentSpec):
    """The DataIngest component's parameters, inputs and outputs (names in components/keys.py)."""

    PARAMETERS = {
        std.INPUT_CONFIG_KEY: component_spec.ExecutionParameter(type=str),
        std.OUTPUT_CONFIG_KEY: component_spec.ExecutionParameter(type=str),
        std.OUTPUT_DATA_FORMAT_KEY: component_spec.ExecutionParameter(type=int),
        std.OUTPUT_FILE_FORMAT_KEY: component_spec.ExecutionParameter(type=int),
        # SourceConfig as JSON.
        SOURCE_CONFIG_KEY: component_spec.ExecutionParameter(type=str),
        # Sizes and modification times of the input files: part of the cache
        # key, so that edited data is ingested again.
        INPUT_FINGERPRINT_KEY: component_spec.ExecutionParameter(type=str),
    }
    INPUTS = {}
    OUTPUTS = {
        std.EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATASET_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DatasetSpec),
    }


class DataIngest(base_beam_component.BaseBeamComponent):
    """Reads the study's data (a built-in set, CSV, image or audio class
    folders, TFRecords; local or gs://) and writes it split into train / eval
    / test (outputs `examples` and `dataset_spec`: the features, the label,
    the task, the classes and the statistics every later node reads).

    Parameters: `source` (a SourceConfig: what to read, how to split, the
    seed) and `input_fingerprint` (the input files' sizes and modification
    times, so that edited data is ingested again instead of served from
    TFX's cache). A Beam component: it runs under the pipeline's Beam args.
    """

    SPEC_CLASS = DataIngestSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, source: SourceConfig, input_fingerprint: str):
        ratios = source.split_ratios
        # The Output config names the splits (the executor assigns records to
        # them exactly, stratified and seeded); the buckets record the ratios.
        output_config = example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=max(1, round(r * 1000)))
                    for name, r in zip(("train", "eval", "test"), ratios)
                ]
            )
        )
        input_config = example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern=source.data or source.dataset or "")]
        )
        super().__init__(
            spec=DataIngestSpec(
                input_config=json_format.MessageToJson(input_config, sort_keys=True),
                output_config=json_format.MessageToJson(output_config, sort_keys=True),
                output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
                output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
                source_config=json.dumps(source.to_dict(), sort_keys=True),
                input_fingerprint=input_fingerprint,
                examples=types.Channel(type=standard_artifacts.Examples),
                dataset_spec=types.Channel(type=artifacts.DatasetSpec),
            )
        )
