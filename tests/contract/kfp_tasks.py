"""Runs the tasks of a compiled Kubeflow v2 spec the way the cluster does:
each in its own process, through the container command and arguments of its
executor in the spec, with an ExecutorInput JSON built from the spec (runtime
parameters, constants, upstream tasks' outputs) and local directories as
artifact URIs. Outputs flow downstream as the launcher passes them: the
artifacts each task reports in its executor_output.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from graphlib import TopologicalSorter

INVOCATION_PLACEHOLDER = "{{$}}"


@dataclass
class TaskRun:
    name: str
    executor_input: dict
    returncode: int
    seconds: float
    stderr_tail: str
    outputs: dict = field(default_factory=dict)  # key -> list of runtime artifacts (dicts)

    def uri(self, key: str) -> str:
        return self.outputs[key][0]["uri"]


class CompiledPipeline:
    def __init__(self, job: dict, root: str):
        self.job = job
        self.spec = job["pipelineSpec"]
        self.root = root
        self.tasks = self.spec["root"]["dag"]["tasks"]
        self.runs: dict[str, TaskRun] = {}

    def order(self) -> list[str]:
        graph = {name: set(task.get("dependentTasks", [])) for name, task in self.tasks.items()}
        return list(TopologicalSorter(graph).static_order())

    def _runtime_parameters(self, overrides: dict) -> dict:
        values = dict(self.job.get("runtimeConfig", {}).get("parameters", {}))
        for name, value in overrides.items():
            values[name] = {"intValue": str(value)} if isinstance(value, int) else {"stringValue": str(value)}
        return values

    def executor_input(self, name: str, parameters: dict) -> dict:
        task = self.tasks[name]
        component = self.spec["components"][task["componentRef"]["name"]]
        inputs = {"parameters": {}, "artifacts": {}}
        for key, source in task.get("inputs", {}).get("parameters", {}).items():
            if "runtimeValue" in source:
                inputs["parameters"][key] = source["runtimeValue"]["constantValue"]
            else:
                inputs["parameters"][key] = parameters[source["componentInputParameter"]]
        for key, source in task.get("inputs", {}).get("artifacts", {}).items():
            producer = source["taskOutputArtifact"]
            inputs["artifacts"][key] = {
                "artifacts": self.runs[producer["producerTask"]].outputs[producer["outputArtifactKey"]]}
        task_dir = os.path.join(self.root, name)
        outputs = {"artifacts": {}, "outputFile": os.path.join(task_dir, "executor_output.json")}
        for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
            outputs["artifacts"][key] = {"artifacts": [{
                "name": f"{name}-{key}", "type": definition["artifactType"],
                "uri": os.path.join(task_dir, key), "metadata": {}}]}
        return {"inputs": inputs, "outputs": outputs}

    def command(self, name: str, invocation: str) -> list[str]:
        label = self.spec["components"][self.tasks[name]["componentRef"]["name"]]["executorLabel"]
        container = self.spec["deploymentSpec"]["executors"][label]["container"]
        command = list(container["command"])
        if command[0] == "python":  # the image's python; here the venv's
            command[0] = sys.executable
        return command + [arg.replace(INVOCATION_PLACEHOLDER, invocation)
                          for arg in container["args"]]

    def run_task(self, name: str, parameters: dict, env: dict) -> TaskRun:
        executor_input = self.executor_input(name, parameters)
        for declared in executor_input["outputs"]["artifacts"].values():
            os.makedirs(declared["artifacts"][0]["uri"], exist_ok=True)  # as the launcher does
        start = time.monotonic()
        done = subprocess.run(self.command(name, json.dumps(executor_input)), env=env, capture_output=True,
                              text=True, timeout=900)
        run = TaskRun(name, executor_input, done.returncode, time.monotonic() - start, done.stderr[-4000:])
        output_file = executor_input["outputs"]["outputFile"]
        reported = {}
        if done.returncode == 0 and os.path.isfile(output_file):
            with open(output_file) as handle:
                reported = json.load(handle).get("artifacts", {})
        for key, declared in executor_input["outputs"]["artifacts"].items():
            artifacts = reported.get(key, {}).get("artifacts") or declared["artifacts"]
            # the launcher keeps the declared type; the executor reports uri/metadata
            run.outputs[key] = [{**declared["artifacts"][0], **a, "type": declared["artifacts"][0]["type"]}
                                for a in artifacts]
        self.runs[name] = run
        return run

    def run_all(self, parameters: dict | None = None, env: dict | None = None) -> dict[str, TaskRun]:
        values = self._runtime_parameters(parameters or {})
        for name in self.order():
            run = self.run_task(name, values, env or dict(os.environ))
            if run.returncode != 0:
                break
        return self.runs
