"""`--beam-pipeline-args` / `beam_pipeline_args`: split like a shell, checked
before TFX starts, and handed to every Beam component (DataIngest, TFX's
Evaluator) locally and in compiled specs, without TFX's sdist."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pipeline import beam_args
from pipeline.cli import main
from pipeline.config import build_config
from search_algo.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
LOCAL_ARGS = "--direct_num_workers=2 --direct_running_mode=multi_processing"
DATAFLOW_ARGS = ("--runner=DataflowRunner --project my-project --region europe-west4 "
                 "--temp_location=gs://b/tmp --experiments=use_runner_v2")
# The nodes whose executors run Beam (pipeline/factory.py).
BEAM_NODES = {"DataIngest", "Evaluator"}


def test_one_string_is_split_like_a_shell():
    assert beam_args.split("--a=1 --b 'two words' --c=\"x y\"") == ["--a=1", "--b", "two words", "--c=x y"]


@pytest.mark.parametrize("text", ['--project "unclosed', "direct_num_workers=2", "--a=1 stray"])
def test_what_beam_would_not_parse_is_refused(text):
    with pytest.raises(ValueError):
        beam_args.split(text)


@pytest.mark.parametrize("argv", [
    ["run", "--dataset", "digits", '--beam-pipeline-args=--project "unclosed'],
    ["compile", "--dataset", "digits", "--beam-pipeline-args", "direct_num_workers=2", "--target", "vertex",
     "--image", "img:1", "--pipeline-root", "gs://b/r", "--out", "unused.json"],
])
def test_unparseable_args_are_one_line_and_exit_2_before_tfx_starts(argv, capsys):
    started = time.monotonic()
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("model-search: error: --beam-pipeline-args: must be Beam flags") and "\n" not in error
    assert time.monotonic() - started < 5


def test_a_config_file_gives_a_string_or_a_list(tmp_path):
    assert build_config({"dataset": "digits", "beam_pipeline_args": LOCAL_ARGS}, {}).beam_pipeline_args == [
        "--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    listed = ["--project", "my project", "--region=europe-west4"]
    assert build_config({"dataset": "digits", "beam_pipeline_args": listed}, {}).beam_pipeline_args == listed
    with pytest.raises(UserError, match=r"config c.yaml: key 'beam_pipeline_args': must be Beam flags.*got 2"):
        build_config({"dataset": "digits", "beam_pipeline_args": 2}, {}, config_file="c.yaml")
    assert build_config({"dataset": "digits"}, {}).beam_pipeline_args is None


def test_a_remote_runner_without_the_image_stops_run_before_it_writes(tmp_path, capsys):
    output = tmp_path / "run"
    assert main(["run", "--dataset", "digits", "--output", str(output),
                 f"--beam-pipeline-args={DATAFLOW_ARGS}"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == ("model-search: error: --beam-pipeline-args: the DataflowRunner's workers need this project's "
                     "image: add --sdk_container_image=IMAGE (see docs/cluster.md), or compile the study with --image")
    assert not output.exists()


def test_the_dependency_flag_keeps_tfx_from_building_an_sdist():
    from apache_beam.transforms.environments import DockerEnvironment

    local = beam_args.split(LOCAL_ARGS)
    # The DirectRunner never reads it: Beam's own default image.
    assert beam_args.complete(local) == [*local, f"--sdk_container_image={DockerEnvironment.default_docker_image()}"]
    assert beam_args.complete(local, image="img:1") == [*local, "--sdk_container_image=img:1"]
    own = [*local, "--extra_packages=dist/x.whl"]
    assert beam_args.complete(own, image="img:1") == own
    assert beam_args.complete([]) == []
    with pytest.raises(UserError, match="DataflowRunner's workers need this project's image"):
        beam_args.complete(beam_args.split(DATAFLOW_ARGS))


def _ir_beam_args(pipeline) -> dict[str, list[str]]:
    """Each node's Beam arguments in the compiled IR the local runner executes."""
    from tfx.dsl.compiler import compiler
    from tfx.orchestration.local import runner_utils
    from tfx.proto.orchestration import executable_spec_pb2

    ir = compiler.Compiler().compile(pipeline)
    deployment = runner_utils.extract_local_deployment_config(ir)
    found = {}
    for node in ir.nodes:
        node_id = node.pipeline_node.node_info.id
        spec = runner_utils.extract_executor_spec(deployment, node_id)
        if isinstance(spec, executable_spec_pb2.BeamExecutableSpec):
            found[node_id] = [arg.value.string_value for arg in spec.beam_pipeline_args_placeholders]
    return found


def _local_pipeline(csv_file, tmp_path, args):
    from pipeline import factory

    config = build_config({"data": str(csv_file), "label": "churned?", "output": str(tmp_path / "run"),
                           "rounds": 1, "trainers": 1, "trials_per_trainer": 1, "beam_pipeline_args": args}, {})
    return factory.create_pipeline(config, "run-1")


def test_the_local_pipeline_hands_the_args_to_its_beam_nodes(csv_file, tmp_path):
    found = _ir_beam_args(_local_pipeline(csv_file, tmp_path, LOCAL_ARGS))
    assert set(found) == BEAM_NODES
    for node_id, args in found.items():
        assert args == beam_args.complete(beam_args.split(LOCAL_ARGS)), node_id


def test_without_args_the_beam_nodes_get_none(csv_file, tmp_path):
    assert _ir_beam_args(_local_pipeline(csv_file, tmp_path, None)) == {node: [] for node in BEAM_NODES}


def _compile(tmp_path, *flags) -> dict:
    out = tmp_path / "digits.json"
    argv = ["compile", str(ROOT / "examples" / "digits.yaml"), "--target", "kubeflow", "--image", "img:1",
            "--pipeline-root", "gs://b/r", "--out", str(out), *flags]
    assert main(argv) == 0
    return json.loads(out.read_text())


def _task_args(spec: dict) -> dict[str, list[str]]:
    """Each task's container arguments, by task name."""
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    components = spec["pipelineSpec"]["components"]
    executors = spec["pipelineSpec"]["deploymentSpec"]["executors"]
    return {name: executors[components[task["componentRef"]["name"]]["executorLabel"]]["container"]["args"]
            for name, task in tasks.items()}


def test_compiled_ingest_and_evaluator_run_dataflow_on_the_pipeline_image(tmp_path, capsys):
    spec = _compile(tmp_path, f"--beam-pipeline-args={DATAFLOW_ARGS}")
    expected = [*beam_args.split(DATAFLOW_ARGS), "--sdk_container_image=img:1"]
    for name, args in _task_args(spec).items():
        # After the v2 entrypoint's own flags, which take the rest as Beam's.
        if name in BEAM_NODES:
            assert args[-len(expected):] == expected, name
        else:
            assert not set(args) & set(expected), name


def test_a_compiled_spec_keeps_the_users_own_sdk_image(tmp_path, capsys):
    spec = _compile(tmp_path, f"--beam-pipeline-args={DATAFLOW_ARGS} --sdk_container_image=other:2")
    ingest = _task_args(spec)["DataIngest"]
    assert ingest[-1] == "--sdk_container_image=other:2" and "--sdk_container_image=img:1" not in ingest


@pytest.mark.integration
def test_a_local_ingest_runs_on_two_worker_processes_without_an_sdist(csv_file, tmp_path, monkeypatch):
    """The arguments the local runner hands DataIngest, through TFX's Beam
    executor: two worker processes, no sdist of TFX."""
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import standard_artifacts
    from tfx.utils import dependency_utils

    from components import artifacts
    from components.dataset_spec_artifact import read_dataset_spec
    from components.ingest import executor

    def no_sdist():
        raise AssertionError("TFX built an sdist of itself")

    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", no_sdist)
    pipeline = _local_pipeline(csv_file, tmp_path, LOCAL_ARGS)
    ingest = next(node for node in pipeline.components if node.id == "DataIngest")
    args = _ir_beam_args(pipeline)["DataIngest"]
    examples, spec = standard_artifacts.Examples(), artifacts.DatasetSpec()
    examples.uri, spec.uri = str(tmp_path / "examples"), str(tmp_path / "spec")
    context = BaseBeamExecutor.Context(beam_pipeline_args=args, tmp_dir=str(tmp_path / "tmp"), unique_id="1")
    executor.Executor(context).Do({}, {"examples": [examples], "dataset_spec": [spec]}, dict(ingest.exec_properties))
    written = read_dataset_spec(spec)
    assert sum(written.split_sizes.values()) == 60
    assert {path.name for path in (tmp_path / "examples").iterdir()} >= {"Split-train", "Split-eval", "Split-test"}
