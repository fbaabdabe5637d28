"""Submitting and scheduling a compiled spec on Kubeflow Pipelines or Vertex AI.

Both commands take the spec `model-search compile` wrote (a PipelineJob JSON
with `pipelineSpec` and `runtimeConfig`), not a study config: what runs on the
cluster is then exactly the reviewed, committed file, and submitting needs no
TFX import. Each request is built with the target's own client library
(kfp_server_api models for Kubeflow, aiplatform's PipelineJob /
PipelineJobSchedule for Vertex), so `--dry-run` prints the same body the
client sends.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field

from search_algo.errors import UserError

RUN_ID_PARAMETER = "run_id"
# KFP's scheduled-workflow controller replaces these macros in the
# parameters of every run it starts, so each scheduled run gets its own run id.
KFP_RUN_UUID_MACRO = "[[RunUUID]]"
# The random part of a default run name: 8 hex digits; two submissions in the
# same second then clash with a probability of 2**-32.
RUN_NAME_SUFFIX_BYTES = 4


@dataclass
class CompiledSpec:
    path: str
    job: dict  # the whole file: displayName, labels, pipelineSpec, runtimeConfig
    parameter_types: dict = field(default_factory=dict)  # name -> STRING / NUMBER_INTEGER / ...

    @property
    def pipeline_spec(self) -> dict:
        return self.job["pipelineSpec"]

    @property
    def pipeline_name(self) -> str:
        return self.pipeline_spec["pipelineInfo"]["name"]

    @property
    def default_parameters(self) -> dict:
        """The compiled defaults (runtimeConfig), as plain values."""
        config = self.job.get("runtimeConfig", {})
        values = dict(config.get("parameterValues", {}))
        for name, value in config.get("parameters", {}).items():
            if "intValue" in value:
                values[name] = int(value["intValue"])
            elif "doubleValue" in value:
                values[name] = float(value["doubleValue"])
            elif "stringValue" in value:
                values[name] = value["stringValue"]
        return values

    @property
    def default_root(self) -> str | None:
        return self.job.get("runtimeConfig", {}).get("gcsOutputDirectory")


def load_spec(path: str) -> CompiledSpec:
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file; write it with `model-search compile`")
    try:
        with open(path) as handle:
            job = json.load(handle)
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not JSON ({error}); expected a spec from `model-search compile`") from None
    if not isinstance(job, dict) or "pipelineSpec" not in job:
        raise UserError(f"{path}: no pipelineSpec; expected a spec from `model-search compile`")
    definitions = job["pipelineSpec"].get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    types = {name: d.get("parameterType") or d.get("type") or "STRING" for name, d in definitions.items()}
    return CompiledSpec(path=path, job=job, parameter_types=types)


def parse_parameters(spec: CompiledSpec, assignments: list[str] | None) -> dict:
    """The compiled defaults, overridden by `name=value` pairs, which are
    checked against the spec's runtime parameters and typed by them."""
    values = {name: value for name, value in spec.default_parameters.items() if name != RUN_ID_PARAMETER}
    for text in assignments or []:
        name, sep, raw = text.partition("=")
        if not sep or not name:
            raise UserError(f"--param {text!r}: expected NAME=VALUE")
        if name not in spec.parameter_types:
            known = ", ".join(sorted(spec.parameter_types)) or "none"
            raise UserError(f"--param {name}: {spec.path} has no such runtime parameter (it has: {known})")
        kind = spec.parameter_types[name]
        try:
            if kind in ("INT", "NUMBER_INTEGER"):
                values[name] = int(raw)
            elif kind in ("DOUBLE", "NUMBER_DOUBLE"):
                values[name] = float(raw)
            else:
                values[name] = raw
        except ValueError:
            raise UserError(f"--param {name}: expected a {kind.lower()}, got {raw!r}") from None
    return values


def default_run_name(spec: CompiledSpec, now: datetime.datetime | None = None) -> str:
    """`<pipeline>-<UTC time>-<random>`: it is also the run id, and two runs
    submitted in the same second must not share trial ids, trial-cache keys and
    record objects. Uniqueness across machines is the point of the suffix, so it
    comes from the system's randomness, not from a seed; the time keeps names
    sorted by submission."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    # Vertex job ids: lowercase letters, digits and dashes, starting with a letter.
    base = re.sub(r"[^a-z0-9-]+", "-", spec.pipeline_name.lower()).strip("-") or "model-search"
    return f"{base}-{now.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(RUN_NAME_SUFFIX_BYTES)}"


def with_run_id(spec: CompiledSpec, parameters: dict, run_id: str) -> dict:
    """The parameters with `run_id` unless `--param` set one. Trial ids are
    `<run_id>-...`, and a run given an earlier run's id resumes that run, so
    every new run needs its own; empty means "derive one when the run starts"."""
    if RUN_ID_PARAMETER in spec.parameter_types and RUN_ID_PARAMETER not in parameters:
        return {**parameters, RUN_ID_PARAMETER: run_id}
    return parameters


# ---------------------------------------------------------------- Kubeflow

def _kfp_pipeline_spec_dict(spec: CompiledSpec) -> dict:
    """The pipeline spec exactly as the kfp client reads a package file."""
    from kfp.client import client as kfp_client_module

    with tempfile.TemporaryDirectory() as scratch:
        package = write_kfp_package(spec, scratch)
        return kfp_client_module._extract_pipeline_yaml(package).to_dict()


def write_kfp_package(spec: CompiledSpec, directory: str) -> str:
    """The kfp client takes YAML packages; JSON is YAML, so the pipelineSpec is written as is."""
    package = os.path.join(directory, "pipeline.yaml")
    with open(package, "w") as handle:
        json.dump(spec.pipeline_spec, handle)
    return package


def _serialize(model) -> dict:
    import kfp_server_api

    return kfp_server_api.ApiClient().sanitize_for_serialization(model)


def kfp_run_request(spec: CompiledSpec, host: str, experiment: str, run_name: str, parameters: dict,
                    pipeline_root: str | None) -> dict:
    """What `kfp.Client.create_run_from_pipeline_package` sends (after getting
    or creating the experiment, whose id the server assigns)."""
    import kfp_server_api

    body = kfp_server_api.V2beta1Run(
        experiment_id=None,
        display_name=run_name,
        pipeline_spec=_kfp_pipeline_spec_dict(spec),
        runtime_config=kfp_server_api.V2beta1RuntimeConfig(pipeline_root=pipeline_root, parameters=parameters),
    )
    return {"target": "kubeflow", "method": "POST", "url": host.rstrip("/") + "/apis/v2beta1/runs",
            "experiment": experiment, "body": _serialize(body)}


def kfp_recurring_run_request(spec: CompiledSpec, host: str, experiment: str, name: str, parameters: dict,
                              pipeline_root: str | None, cron: str, max_concurrency: int) -> dict:
    import kfp_server_api

    body = kfp_server_api.V2beta1RecurringRun(
        experiment_id=None,
        mode=kfp_server_api.RecurringRunMode.ENABLE,
        pipeline_spec=_kfp_pipeline_spec_dict(spec),
        runtime_config=kfp_server_api.V2beta1RuntimeConfig(pipeline_root=pipeline_root, parameters=parameters),
        display_name=name,
        trigger=kfp_server_api.V2beta1Trigger(cron_schedule=kfp_server_api.V2beta1CronSchedule(cron=cron)),
        max_concurrency=max_concurrency,
    )
    return {"target": "kubeflow", "method": "POST", "url": host.rstrip("/") + "/apis/v2beta1/recurringruns",
            "experiment": experiment, "body": _serialize(body)}


def kfp_client(host: str):
    import kfp

    return kfp.Client(host=host)


def _logs_to_stderr():
    """The kfp client prints links on stdout; stdout is for --json."""
    import contextlib
    import sys

    return contextlib.redirect_stdout(sys.stderr)


def kfp_submit(spec: CompiledSpec, host: str, experiment: str, run_name: str, parameters: dict,
               pipeline_root: str | None) -> dict:
    client = kfp_client(host)
    with tempfile.TemporaryDirectory() as scratch, _logs_to_stderr():
        result = client.create_run_from_pipeline_package(
            write_kfp_package(spec, scratch), arguments=parameters, run_name=run_name,
            experiment_name=experiment, pipeline_root=pipeline_root)
    return {"target": "kubeflow", "run_id": result.run_id, "run_name": run_name}


def kfp_schedule(spec: CompiledSpec, host: str, experiment: str, name: str, parameters: dict,
                 pipeline_root: str | None, cron: str, max_concurrency: int) -> dict:
    client = kfp_client(host)
    with tempfile.TemporaryDirectory() as scratch, _logs_to_stderr():
        experiment_id = client.create_experiment(name=experiment).experiment_id
        recurring = client.create_recurring_run(
            experiment_id=experiment_id, job_name=name, cron_expression=cron, max_concurrency=max_concurrency,
            params=parameters, pipeline_package_path=write_kfp_package(spec, scratch),
            pipeline_root=pipeline_root)
    return {"target": "kubeflow", "recurring_run_id": recurring.recurring_run_id, "name": name}


# ---------------------------------------------------------------- Vertex AI

def vertex_pipeline_job(spec: CompiledSpec, project: str, region: str, job_id: str, parameters: dict,
                        pipeline_root: str | None, credentials=None):
    """aiplatform's PipelineJob for the spec; building it sends nothing."""
    from google.cloud import aiplatform

    return aiplatform.PipelineJob(
        display_name=job_id, template_path=spec.path, job_id=job_id, pipeline_root=pipeline_root,
        parameter_values=parameters, project=project, location=region, credentials=credentials,
        enable_caching=False)


def _anonymous():
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()


def _message_json(message) -> dict:
    return json.loads(type(message).to_json(message))


def vertex_create_job_request(spec: CompiledSpec, project: str, region: str, job_id: str, parameters: dict,
                              pipeline_root: str | None):
    """The gapic CreatePipelineJobRequest `PipelineJob.submit()` sends."""
    from google.cloud.aiplatform_v1.types import pipeline_service

    job = vertex_pipeline_job(spec, project, region, job_id, parameters, pipeline_root, credentials=_anonymous())
    return pipeline_service.CreatePipelineJobRequest(
        parent=job._parent, pipeline_job=job._gca_resource, pipeline_job_id=job.job_id)


def vertex_create_schedule_request(spec: CompiledSpec, project: str, region: str, name: str, parameters: dict,
                                   pipeline_root: str | None, cron: str, max_concurrency: int):
    """The gapic CreateScheduleRequest `PipelineJobSchedule.create()` sends."""
    from google.cloud import aiplatform
    from google.cloud.aiplatform_v1.types import schedule_service

    job = vertex_pipeline_job(spec, project, region, name, parameters, pipeline_root, credentials=_anonymous())
    schedule = aiplatform.PipelineJobSchedule(pipeline_job=job, display_name=name, credentials=_anonymous())
    resource = schedule._gca_resource
    resource.cron = cron
    resource.max_concurrent_run_count = max_concurrency
    return schedule_service.CreateScheduleRequest(parent=schedule._parent, schedule=resource)


def vertex_dry_run(request, method: str) -> dict:
    return {"target": "vertex", "method": method, "request": _message_json(request)}


def vertex_submit(spec: CompiledSpec, project: str, region: str, job_id: str, parameters: dict,
                  pipeline_root: str | None) -> dict:
    job = vertex_pipeline_job(spec, project, region, job_id, parameters, pipeline_root)
    job.submit()
    return {"target": "vertex", "pipeline_job": job.resource_name}


def vertex_schedule(spec: CompiledSpec, project: str, region: str, name: str, parameters: dict,
                    pipeline_root: str | None, cron: str, max_concurrency: int) -> dict:
    job = vertex_pipeline_job(spec, project, region, name, parameters, pipeline_root)
    schedule = job.create_schedule(display_name=name, cron=cron, max_concurrent_run_count=max_concurrency)
    return {"target": "vertex", "schedule": schedule.resource_name}
