"""kfp_specs/ holds the compiled specs of the example studies: fail when stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "tfx-model-search:0.1.0"
PIPELINE_ROOT = "gs://YOUR_BUCKET/model-search"


def _makefile_value(name):
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith(f"{name} :="):
            return line.split(":=", 1)[1].strip()
    raise AssertionError(f"{name} not in the Makefile")


@pytest.mark.parametrize("study", _makefile_value("EXAMPLE_STUDIES").split())
def test_compiled_spec_is_fresh(study, tmp_path, capsys):
    assert _makefile_value("SPEC_IMAGE") == IMAGE and _makefile_value("SPEC_ROOT") == PIPELINE_ROOT
    out = tmp_path / f"{study}.json"
    argv = ["compile", str(ROOT / "examples" / f"{study}.yaml"), "--target", "kubeflow", "--image", IMAGE,
            "--pipeline-root", f"{PIPELINE_ROOT}/{study}", "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    committed = ROOT / "kfp_specs" / f"{study}.json"
    assert committed.exists(), f"kfp_specs/{study}.json is missing: run `make specs`"
    assert json.loads(out.read_text()) == json.loads(committed.read_text()), (
        f"kfp_specs/{study}.json is stale: run `make specs`"
    )
