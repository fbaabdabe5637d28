"""Compiling the study's pipeline for Kubeflow Pipelines v2 and Vertex AI.

The DAG is the one `model-search run` executes; what differs:
- no Resolver for earlier runs (Vertex AI components cannot reach ML
  Metadata): each compiled run searches from its own trials;
- the run id is a runtime parameter (`run_id`), so trial ids stay distinct
  across runs of one compiled spec;
- `code_version` is the image: the image tag identifies the code, and the
  spec does not change with every edit of the source;
- the Pusher writes under the pipeline root (`<root>/serving`).
"""

from __future__ import annotations

import json
import os
import tempfile

from tfx.orchestration import data_types
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from pipeline import factory
from pipeline.config import StudyConfig
from search_algo.errors import UserError

TARGETS = ("kubeflow", "vertex")
RUN_ID_PARAMETER = "run_id"
# Labels that carry the compiling machine's versions, not the pipeline's shape.
VOLATILE_LABELS = ("tfx_py_version", "tfx_runner", "tfx_version")


def compile_pipeline(config: StudyConfig, target: str, image: str, pipeline_root: str, out_file: str) -> dict:
    """Writes the pipeline spec JSON to `out_file` (offline, no credentials)."""
    if target not in TARGETS:
        raise UserError(f"--target must be one of {', '.join(TARGETS)}, not {target!r}")
    if not image:
        raise UserError("--image is required: the component image the cluster runs (see `make image`)")
    # A module file must be inside the image; never upload it from here.
    os.environ["UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES"] = "1"
    run_id = data_types.RuntimeParameter(name=RUN_ID_PARAMETER, ptype=str, default="run1")
    pipeline = factory.create_pipeline(
        config,
        run_id=run_id,
        with_history=False,
        root=pipeline_root,
        serving_dir=pipeline_root.rstrip("/") + "/serving",
        code_version_override=f"image:{image}",
        connection_config=None,
    )
    runner_config = kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=image)
    with tempfile.TemporaryDirectory() as scratch:
        kubeflow_v2_dag_runner.KubeflowV2DagRunner(
            config=runner_config, output_dir=scratch, output_filename="pipeline.json"
        ).run(pipeline, write_out=True)
        with open(os.path.join(scratch, "pipeline.json")) as handle:
            spec = json.load(handle)
    spec = normalize(spec)
    directory = os.path.dirname(os.path.abspath(out_file))
    os.makedirs(directory, exist_ok=True)
    tmp = out_file + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(spec, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, out_file)
    return spec


def normalize(spec: dict) -> dict:
    """Drops what depends on the compiling machine (Python/TFX versions in
    labels), so the same study compiles to the same bytes everywhere."""
    labels = spec.get("labels", {})
    for key in VOLATILE_LABELS:
        labels.pop(key, None)
    return spec
