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


@pytest.mark.parametrize("study", _makefile_value("EXAMPLE_STUDIES").split())
def test_committed_spec_loads_with_the_kfp_parser(study):
    """The kfp SDK's own pipeline-spec parser (json_format rejects unknown
    fields and wrong types), as the kfp client does when it reads a package."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    job = json.loads((ROOT / "kfp_specs" / f"{study}.json").read_text())
    spec = json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    assert spec.pipeline_info.name and len(spec.root.dag.tasks) >= 6
    for task in spec.root.dag.tasks.values():
        executor = spec.components[task.component_ref.name].executor_label
        container = spec.deployment_spec.fields["executors"].struct_value.fields[executor].struct_value
        assert container.fields["container"].struct_value.fields["image"].string_value == IMAGE
