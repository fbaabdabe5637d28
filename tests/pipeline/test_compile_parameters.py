"""`compile`: runtime parameters users change per run, and trainer resources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("spec") / "digits.json"
    argv = ["compile", str(ROOT / "examples" / "digits.yaml"), "--target", "vertex", "--image", "img:1",
            "--pipeline-root", "gs://b/r", "--out", str(out), "--epochs", "3", "--time-budget", "20m",
            "--distill-temperature", "4", "--distill-alpha", "0.2", "--distill-augment", "mixup",
            "--trainer-cpu", "4", "--trainer-memory", "16G", "--trainer-gpus", "1",
            "--accelerator-type", "NVIDIA_TESLA_T4"]
    assert main(argv) == 0
    return json.loads(out.read_text())


def test_epochs_seed_time_limit_and_run_id_are_runtime_parameters_with_the_config_defaults(compiled):
    spec = compiled["pipelineSpec"]
    assert set(spec["root"]["inputDefinitions"]["parameters"]) == {
        "epochs", "distill_epochs", "seed", "time_limit", "time_budget", "run_id"}
    assert compiled["runtimeConfig"]["parameters"]["time_budget"] == {"doubleValue": 1200.0}
    assert compiled["runtimeConfig"]["parameters"]["epochs"] == {"intValue": "3"}
    assert compiled["runtimeConfig"]["parameters"]["seed"] == {"intValue": "0"}
    assert compiled["runtimeConfig"]["parameters"]["time_limit"] == {"doubleValue": 0.0}
    # Empty: every run derives its own id (a schedule passes none).
    assert compiled["runtimeConfig"]["parameters"]["run_id"] == {"stringValue": ""}
    tasks = spec["root"]["dag"]["tasks"]
    trainers = [name for name in tasks if name.startswith("Trainer_")]
    assert trainers
    for name in trainers:
        assert tasks[name]["inputs"]["parameters"]["epochs"] == {"componentInputParameter": "epochs"}
        assert tasks[name]["inputs"]["parameters"]["time_limit_seconds"] == {"componentInputParameter": "time_limit"}
    budgeted = [name for name in tasks if name.startswith(("Trainer_", "Proposer_"))] + ["Ensembler", "Distiller"]
    for name in budgeted:
        assert tasks[name]["inputs"]["parameters"]["time_budget_seconds"] == {"componentInputParameter": "time_budget"}
    assert tasks["StudyHistory"]["inputs"]["parameters"]["run_id"] == {"componentInputParameter": "run_id"}
    assert tasks["Proposer_r1"]["inputs"]["parameters"]["seed"] == {"componentInputParameter": "seed"}
    assert tasks["Distiller"]["inputs"]["parameters"]["epochs"] == {"componentInputParameter": "distill_epochs"}
    distiller = tasks["Distiller"]["inputs"]["parameters"]
    assert [distiller[name]["runtimeValue"]["constantValue"]["doubleValue"] for name in ("temperature", "alpha")] == [4.0, 0.2]
    assert distiller["augment"]["runtimeValue"]["constantValue"]["stringValue"] == "mixup"


def test_a_compiled_run_continues_the_study_from_its_record_under_the_root(compiled):
    tasks = compiled["pipelineSpec"]["root"]["dag"]["tasks"]
    record = "gs://b/r/StudyRecord/digits"
    assert tasks["StudyHistory"]["inputs"]["parameters"]["study_record"]["runtimeValue"]["constantValue"] == {
        "stringValue": record}
    # Served from the cache, a run would take an earlier run's id and history.
    assert tasks["StudyHistory"]["cachingOptions"] == {"enableCache": False}
    assert all(task.get("cachingOptions") == {"enableCache": True} for name, task in tasks.items()
               if name != "StudyHistory")
    for name in ("Proposer_r1", "Ensembler", "Distiller", "SearchEvaluator"):
        source = tasks[name]["inputs"]["artifacts"]["study_history"]["taskOutputArtifact"]
        assert source == {"outputArtifactKey": "history", "producerTask": "StudyHistory"}
    pusher = json.loads(tasks["Pusher"]["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constantValue"][
        "stringValue"])
    assert pusher == {"study_record": record}


def test_a_trainer_task_whose_pod_dies_is_retried_as_often_as_its_trials_may_die(compiled):
    from kfp.pipeline_spec import pipeline_spec_pb2
    from google.protobuf import json_format

    tasks = compiled["pipelineSpec"]["root"]["dag"]["tasks"]
    # examples/digits.yaml: 2 trials per trainer, each tried --max-retries (2) more times.
    for name, task in tasks.items():
        if name.startswith("Trainer_"):
            assert task["retryPolicy"]["maxRetryCount"] == 2 * 3
            json_format.ParseDict(task, pipeline_spec_pb2.PipelineTaskSpec())  # a valid task spec
        else:
            assert "retryPolicy" not in task

def test_only_trainer_nodes_carry_the_resource_requests(compiled):
    executors = compiled["pipelineSpec"]["deploymentSpec"]["executors"]
    with_resources = {name for name, e in executors.items() if "resources" in e.get("container", {})}
    assert with_resources == {name for name in executors if name.startswith("Trainer_")}
    for name in with_resources:
        assert executors[name]["container"]["resources"] == {
            "cpuLimit": 4.0, "memoryLimit": 16.0, "accelerator": {"type": "NVIDIA_TESLA_T4", "count": "1"}}


@pytest.mark.parametrize("flags, message", [
    (["--trainer-gpus", "1"], "needs --accelerator-type"),
    (["--trainer-memory", "lots"], "expected a size like 16G"),
    (["--trainer-cpu", "0"], "must be positive"),
])
def test_bad_resource_flags_are_user_errors(flags, message, tmp_path, capsys):
    argv = ["compile", str(ROOT / "examples" / "digits.yaml"), "--target", "kubeflow", "--image", "img:1",
            "--pipeline-root", "gs://b/r", "--out", str(tmp_path / "x.json")] + flags
    assert main(argv) == 2
    assert message in capsys.readouterr().err
