"""The Dockerfile builds the image the compiled specs expect (checked without Docker)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
INSTRUCTIONS = [line.strip() for line in DOCKERFILE.splitlines() if line.strip() and not line.startswith("#")]


def _copied_sources():
    for line in INSTRUCTIONS:
        if line.startswith("COPY "):
            *sources, _destination = line.split()[1:]
            yield from sources


def test_base_image_is_the_pinned_tfx():
    pinned = re.search(r'"tfx\[kfp\]==([0-9.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert INSTRUCTIONS[0] == f"FROM tensorflow/tfx:{pinned}"


def test_every_copied_path_exists_and_is_not_docker_ignored():
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for source in _copied_sources():
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
        assert source.rstrip("/") not in ignored


@pytest.mark.parametrize("study", ["digits", "mnist1d"])
def test_the_image_holds_what_each_compiled_task_runs(study):
    spec = json.loads((ROOT / "kfp_specs" / f"{study}.json").read_text())
    copied = {source.rstrip("/") for source in _copied_sources()}
    for name, executor in spec["pipelineSpec"]["deploymentSpec"]["executors"].items():
        container = executor["container"]
        command = container["command"]
        assert command[:2] == ["python", "-m"], name
        assert importlib.util.find_spec(command[2]) is not None, f"{name}: {command[2]} is not importable"
        class_path = container["args"][container["args"].index("--executor_class_path") + 1]
        package = class_path.split(".")[0]
        # tfx comes with the base image; the project's packages are copied and pip-installed
        assert package == "tfx" or package in copied, f"{name}: {class_path} is not in the image"
        module, _, cls = class_path.rpartition(".")
        assert hasattr(importlib.import_module(module), cls), class_path


def test_module_files_are_at_the_documented_in_image_path():
    assert "COPY examples/ examples/" in INSTRUCTIONS and "WORKDIR /opt/model-search" in INSTRUCTIONS
    assert "/opt/model-search/examples/" in (ROOT / "README.md").read_text()



def test_the_image_boots_as_a_beam_sdk_worker():
    """Dataflow starts `--sdk_container_image` through its entrypoint, the TFX
    base image's Beam worker boot, which must not make its own virtualenv."""
    assert not any(line.startswith("ENTRYPOINT") for line in INSTRUCTIONS)
    assert "ENV RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT=1" in INSTRUCTIONS
