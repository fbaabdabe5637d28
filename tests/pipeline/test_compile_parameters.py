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
            "--pipeline-root", "gs://b/r", "--out", str(out), "--epochs", "3",
            "--distill-temperature", "4", "--distill-alpha", "0.2", "--distill-augment", "mixup",
            "--trainer-cpu", "4", "--trainer-memory", "16G", "--trainer-gpus", "1",
            "--accelerator-type", "NVIDIA_TESLA_T4"]
    assert main(argv) == 0
    return json.loads(out.read_text())


def test_epochs_seed_and_run_id_are_runtime_parameters_with_the_config_defaults(compiled):
    spec = compiled["pipelineSpec"]
    assert set(spec["root"]["inputDefinitions"]["parameters"]) == {"epochs", "distill_epochs", "seed", "run_id"}
    assert compiled["runtimeConfig"]["parameters"]["epochs"] == {"intValue": "3"}
    assert compiled["runtimeConfig"]["parameters"]["seed"] == {"intValue": "0"}
    tasks = spec["root"]["dag"]["tasks"]
    trainers = [name for name in tasks if name.startswith("Trainer_")]
    assert trainers
    for name in trainers:
        assert tasks[name]["inputs"]["parameters"]["epochs"] == {"componentInputParameter": "epochs"}
    assert tasks["Proposer_r1"]["inputs"]["parameters"]["seed"] == {"componentInputParameter": "seed"}
    assert tasks["Distiller"]["inputs"]["parameters"]["epochs"] == {"componentInputParameter": "distill_epochs"}
    distiller = tasks["Distiller"]["inputs"]["parameters"]
    assert [distiller[name]["runtimeValue"]["constantValue"]["doubleValue"] for name in ("temperature", "alpha")] == [4.0, 0.2]
    assert distiller["augment"]["runtimeValue"]["constantValue"]["stringValue"] == "mixup"


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
