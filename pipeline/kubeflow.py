"""Compiling the study's pipeline for Kubeflow Pipelines v2 and Vertex AI.

The DAG is the one `model-search run` executes - a compiled run continues the
study from the study record under the pipeline root and validates against the
model in production, as a local run does; what differs:
- the run id is a runtime parameter (`run_id`). Empty (the default) means
  "derive one for this run" (components/study_history), so every scheduled
  run gets its own trial ids; passing a failed run's id again resumes it;
- the StudyHistory task is never served from the orchestrator's cache: it
  resolves the run id and reads the record anew for every run;
- `code_version` is the image: the image tag identifies the code, and the
  spec does not change with every edit of the source;
- the Pusher writes under the pipeline root (`<root>/serving`);
- `epochs`, `distill_epochs`, `seed`, `time_limit` and `time_budget` are
  runtime parameters too (defaults: the study config's values; a budget's
  clock starts at each run's StudyHistory task, which a resubmitted run runs
  anew, so a resubmission gets the whole budget again), changed per run without
  recompiling. Rounds, trainers and trials per trainer shape the DAG, the data
  location and study name are baked into the ingest's fingerprint and the
  record and trial-cache paths, so those stay compile-time;
- remote data is fingerprinted by its location (compiling is offline); the
  ingest identifies what it read when it runs;
- trainer nodes can carry resource requests (`TrainerResources`);
- Beam arguments (`beam_pipeline_args`) name the image as the SDK container
  image unless they name one, so Dataflow workers run the project's code.
"""

from __future__ import annotations

import json
import os
import tempfile

from tfx.orchestration import data_types
from dataclasses import dataclass
from typing import Optional

from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from pipeline import factory
from pipeline.config import StudyConfig
from search_algo.errors import UserError

TARGETS = ("kubeflow", "vertex")
RUN_ID_PARAMETER = "run_id"
# Labels that carry the compiling machine's versions, not the pipeline's shape.
VOLATILE_LABELS = ("tfx_py_version", "tfx_runner", "tfx_version")


@dataclass(frozen=True)
class TrainerResources:
    """Limits for each trainer pod (Kubeflow) / machine choice (Vertex AI)."""

    cpu: Optional[float] = None
    memory_gb: Optional[float] = None
    gpus: int = 0
    accelerator_type: Optional[str] = None  # e.g. NVIDIA_TESLA_T4 (Vertex) / nvidia.com/gpu (Kubeflow)

    def __post_init__(self):
        if self.cpu is not None and self.cpu <= 0:
            raise UserError(f"--trainer-cpu must be positive, not {self.cpu}")
        if self.memory_gb is not None and self.memory_gb <= 0:
            raise UserError(f"--trainer-memory must be positive, not {self.memory_gb}")
        if self.gpus < 0:
            raise UserError(f"--trainer-gpus must be 0 or more, not {self.gpus}")
        if self.gpus and not self.accelerator_type:
            raise UserError("--trainer-gpus needs --accelerator-type (e.g. NVIDIA_TESLA_T4)")
        if self.accelerator_type and not self.gpus:
            raise UserError("--accelerator-type needs --trainer-gpus N")

    def resource_spec(self):
        """The ResourceSpec TFX's v2 step builder copies into the trainer's container spec."""
        from kfp.pipeline_spec import pipeline_spec_pb2

        spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
        if self.cpu:
            spec.cpu_limit = self.cpu
        if self.memory_gb:
            spec.memory_limit = self.memory_gb
        if self.gpus:
            spec.accelerator.type = self.accelerator_type
            spec.accelerator.count = self.gpus
        return spec if spec.ByteSize() else None


def parse_memory_gb(text: str) -> float:
    """`16`, `16G`, `16Gi` or `512M` as (decimal) GB, the unit of ResourceSpec.memory_limit."""
    import re

    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(G|Gi|GB|M|Mi|MB)?\s*", text or "")
    if not match:
        raise UserError(f"--trainer-memory {text!r}: expected a size like 16G or 512M")
    value, unit = float(match.group(1)), match.group(2) or "G"
    factor = {"G": 1.0, "GB": 1.0, "Gi": 1.073741824, "M": 1e-3, "MB": 1e-3, "Mi": 1.048576e-3}[unit]
    return value * factor


def runtime_parameters(config: StudyConfig) -> dict:
    return {
        "epochs": data_types.RuntimeParameter(name="epochs", ptype=int, default=int(config.epochs)),
        "distill_epochs": data_types.RuntimeParameter(
            name="distill_epochs", ptype=int, default=int(config.distill_epochs)),
        "seed": data_types.RuntimeParameter(name="seed", ptype=int, default=int(config.seed)),
        # Seconds per trial; 0 means no limit.
        "time_limit": data_types.RuntimeParameter(
            name="time_limit", ptype=float, default=float(config.time_limit or 0)),
        # Seconds; 0: no budget. Each run's clock starts at its StudyHistory task.
        "time_budget": data_types.RuntimeParameter(
            name="time_budget", ptype=float, default=float(config.time_budget or 0)),
    }


def compile_pipeline(config: StudyConfig, target: str, image: str, pipeline_root: str, out_file: str,
                     trainer_resources: Optional[TrainerResources] = None) -> dict:
    """Writes the pipeline spec JSON to `out_file` (offline, no credentials)."""
    if target not in TARGETS:
        raise UserError(f"--target must be one of {', '.join(TARGETS)}, not {target!r}")
    if not image:
        raise UserError("--image is required: the component image the cluster runs (see `make image`)")
    # A module file must be inside the image; never upload it from here.
    os.environ["UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES"] = "1"
    run_id = data_types.RuntimeParameter(name=RUN_ID_PARAMETER, ptype=str, default="")
    parameters = runtime_parameters(config)
    pipeline = factory.create_pipeline(
        config,
        run_id=run_id,
        root=pipeline_root,
        serving_dir=pipeline_root.rstrip("/") + "/serving",
        code_version_override=f"image:{image}",
        connection_config=None,
        runtime_parameters=parameters,
        read_remote_data=False,
        image=image,
    )
    resource_spec = trainer_resources.resource_spec() if trainer_resources else None
    if resource_spec is not None:
        for node in pipeline.components:
            if node.id.startswith("Trainer_"):
                node.with_platform_config(resource_spec)
    runner_config = kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=image)
    with tempfile.TemporaryDirectory() as scratch:
        kubeflow_v2_dag_runner.KubeflowV2DagRunner(
            config=runner_config, output_dir=scratch, output_filename="pipeline.json"
        # The defaults go into the spec's runtimeConfig: KFP needs a value for
        # every root parameter, and `submit` fills in what --param leaves out.
        ).run(pipeline, parameter_values={p.name: p.default for p in [run_id, *parameters.values()]},
              write_out=True)
        with open(os.path.join(scratch, "pipeline.json")) as handle:
            spec = json.load(handle)
    spec = normalize(spec, trainer_retries=config.trials_per_trainer * (config.max_retries + 1))
    directory = os.path.dirname(os.path.abspath(out_file))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{out_file}.tmp-{os.getpid()}"
    with open(tmp, "w") as handle:
        json.dump(spec, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, out_file)
    return spec


def normalize(spec: dict, trainer_retries: int = 0) -> dict:
    """Drops what depends on the compiling machine (Python/TFX versions in
    labels), so the same study compiles to the same bytes everywhere; keeps
    the StudyHistory task out of the orchestrator's cache (served from the
    cache, a run would take an earlier run's id and history); and lets the
    orchestrator retry a trainer task whose pod died (out of memory, or its
    watchdog stopping a trial past the time limit): the retry takes finished
    trials from the trial cache and records the trial that died as failed
    once it has died --max-retries + 1 times, as the local runner does."""
    labels = spec.get("labels", {})
    for key in VOLATILE_LABELS:
        labels.pop(key, None)
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    tasks[factory.STUDY_HISTORY_ID]["cachingOptions"] = {"enableCache": False}
    for name, task in tasks.items():
        if name.startswith("Trainer_") and trainer_retries:
            task["retryPolicy"] = {"maxRetryCount": trainer_retries, "backoffDuration": "0s",
                                   "backoffFactor": 1.0, "backoffMaxDuration": "3600s"}
    return spec
