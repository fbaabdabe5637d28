"""Runs the tasks of a compiled Kubeflow v2 spec the way the cluster does:
each in its own process, through the container command and arguments of its
executor in the spec, with an ExecutorInput JSON built from the spec (runtime
parameters, constants, upstream tasks' outputs). Outputs flow downstream as
the launcher passes them: the artifacts each task reports in its
executor_output.json. Artifact URIs follow KFP's layout,
`<pipeline root>/<pipeline name>/<job id>/<task>/<output>`, so every run
(job) of a spec writes its own artifacts, on a local root or on gs://. Given
a `cache` shared by the jobs, a task whose spec enables caching and whose
inputs (parameters, input artifacts) match an earlier execution's is not run:
its outputs are reused, as Kubeflow Pipelines does."""

from __future__ import annotations

import json
import os
import posixpath
import subprocess
import sys
import time
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Callable, Optional, Sequence

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

    def metadata(self, key: str) -> dict:
        return self.outputs[key][0]["metadata"]


class TaskServer:
    """Runs task commands (`python -m MODULE ...`) in processes forked from
    one that imported `preload` once (task_server.py): what each task does is
    unchanged, its interpreter start-up is paid once. Started through `wrap`
    (e.g. inside a namespace) with `env`, which every task then runs with."""

    def __init__(self, preload: Sequence[str], env: dict, wrap: Optional[Callable[[Sequence[str]], list[str]]] = None):
        server = os.path.join(os.path.dirname(os.path.abspath(__file__)), "task_server.py")
        self._process = subprocess.Popen((wrap or list)([sys.executable, server, *preload]), env=env, text=True,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, command: Sequence[str], log: str) -> int:
        if command[0] != sys.executable:
            raise ValueError(f"not a python command: {command}")
        self._process.stdin.write(json.dumps({"argv": list(command[1:]), "log": log}) + "\n")
        self._process.stdin.flush()
        answer = self._process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the task server ended (exit {self._process.wait()})")
        return json.loads(answer)["returncode"]

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=60)


class CompiledPipeline:
    """One run (job) of a compiled spec. `root` holds the artifacts (a local
    path or gs://); `scratch` is the pods' local disk (executor outputs);
    `wrap` turns a command into the one to run (e.g. inside a namespace)."""

    def __init__(self, job: dict, root: str, scratch: str, job_id: str = "job-1",
                 wrap: Optional[Callable[[Sequence[str]], list[str]]] = None, cache: Optional[dict] = None,
                 server: Optional[TaskServer] = None):
        self.job = job
        self.spec = job["pipelineSpec"]
        self.root = root.rstrip("/")
        self.scratch = os.path.join(scratch, job_id)
        self.job_id = job_id
        self.wrap = wrap or list
        self.tasks = self.spec["root"]["dag"]["tasks"]
        self.runs: dict[str, TaskRun] = {}
        self.retries: dict[str, int] = {}
        self.cache = cache
        self.cached: set[str] = set()
        self.server = server

    @property
    def job_root(self) -> str:
        return posixpath.join(self.root, self.spec["pipelineInfo"]["name"], self.job_id)

    def order(self) -> list[str]:
        graph = {name: set(task.get("dependentTasks", [])) for name, task in self.tasks.items()}
        return list(TopologicalSorter(graph).static_order())

    def _runtime_parameters(self, overrides: dict) -> dict:
        values = dict(self.job.get("runtimeConfig", {}).get("parameters", {}))
        for name, value in overrides.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                values[name] = {"stringValue": str(value)}
            elif isinstance(value, int):
                values[name] = {"intValue": str(value)}
            else:
                values[name] = {"doubleValue": value}
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
        outputs = {"artifacts": {},
                   "outputFile": os.path.join(self.scratch, name, "executor_output.json")}
        for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
            outputs["artifacts"][key] = {"artifacts": [{
                "name": f"{name}-{key}", "type": definition["artifactType"],
                "uri": posixpath.join(self.job_root, name, key), "metadata": {}}]}
        return {"inputs": inputs, "outputs": outputs}

    def executor_modules(self) -> list[str]:
        """The modules a task's command imports: the entrypoint and every executor class's module."""
        modules = []
        for executor in self.spec["deploymentSpec"]["executors"].values():
            command, args = executor["container"]["command"], executor["container"]["args"]
            modules += [command[command.index("-m") + 1]] if "-m" in command else []
            if "--executor_class_path" in args:
                modules.append(args[args.index("--executor_class_path") + 1].rsplit(".", 1)[0])
        return sorted(set(modules))

    def command(self, name: str, invocation: str, wrapped: bool = True) -> list[str]:
        label = self.spec["components"][self.tasks[name]["componentRef"]["name"]]["executorLabel"]
        container = self.spec["deploymentSpec"]["executors"][label]["container"]
        command = list(container["command"])
        if command[0] == "python":  # the image's python; here the venv's
            command[0] = sys.executable
        command += [arg.replace(INVOCATION_PLACEHOLDER, invocation) for arg in container["args"]]
        return self.wrap(command) if wrapped else command

    def _cache_key(self, name: str, executor_input: dict) -> Optional[str]:
        task = self.tasks[name]
        if self.cache is None or not task.get("cachingOptions", {}).get("enableCache"):
            return None
        inputs = {"parameters": executor_input["inputs"]["parameters"],
                  "artifacts": {k: [a["uri"] for a in v["artifacts"]]
                                for k, v in executor_input["inputs"]["artifacts"].items()}}
        return json.dumps([task["componentRef"]["name"], inputs], sort_keys=True)

    def run_task(self, name: str, parameters: dict, env: dict) -> TaskRun:
        executor_input = self.executor_input(name, parameters)
        cache_key = self._cache_key(name, executor_input)
        if cache_key is not None and cache_key in self.cache:
            self.runs[name] = self.cache[cache_key]
            self.cached.add(name)
            return self.runs[name]
        os.makedirs(os.path.dirname(executor_input["outputs"]["outputFile"]), exist_ok=True)
        for declared in executor_input["outputs"]["artifacts"].values():
            uri = declared["artifacts"][0]["uri"]
            if "://" not in uri:
                os.makedirs(uri, exist_ok=True)  # as the launcher does for a local root
        start = time.monotonic()
        if self.server is not None:
            log = os.path.join(os.path.dirname(executor_input["outputs"]["outputFile"]), "stderr.log")
            returncode = self.server.run(self.command(name, json.dumps(executor_input), wrapped=False), log)
            with open(log, errors="replace") as handle:
                stderr = handle.read()
        else:
            done = subprocess.run(self.command(name, json.dumps(executor_input)), env=env, capture_output=True,
                                  text=True, timeout=900)
            returncode, stderr = done.returncode, done.stderr
        run = TaskRun(name, executor_input, returncode, time.monotonic() - start, stderr[-6000:])
        output_file = executor_input["outputs"]["outputFile"]
        reported = {}
        if returncode == 0 and os.path.isfile(output_file):
            with open(output_file) as handle:
                reported = json.load(handle).get("artifacts", {})
        for key, declared in executor_input["outputs"]["artifacts"].items():
            artifacts = reported.get(key, {}).get("artifacts") or declared["artifacts"]
            # the launcher keeps the declared type; the executor reports uri/metadata
            run.outputs[key] = [{**declared["artifacts"][0], **a, "type": declared["artifacts"][0]["type"]}
                                for a in artifacts]
        self.runs[name] = run
        if cache_key is not None and run.returncode == 0:
            self.cache[cache_key] = run
        return run

    def run_all(self, parameters: dict | None = None, env: dict | None = None,
                stop_after: Optional[str] = None) -> dict[str, TaskRun]:
        """Runs the tasks in order until one fails (as a fail-fast run does) or
        `stop_after` has run (a run that died there). A failed task with a
        `retryPolicy` runs again, as often as it allows (as the orchestrator
        retries it; `retries` counts them)."""
        values = self._runtime_parameters(parameters or {})
        for name in self.order():
            allowed = int(self.tasks[name].get("retryPolicy", {}).get("maxRetryCount", 0))
            run = self.run_task(name, values, env or dict(os.environ))
            while run.returncode != 0 and self.retries.get(name, 0) < allowed:
                self.retries[name] = self.retries.get(name, 0) + 1
                run = self.run_task(name, values, env or dict(os.environ))
            if run.returncode != 0 or name == stop_after:
                break
        return self.runs

    def failed(self) -> dict[str, str]:
        return {name: run.stderr_tail for name, run in self.runs.items() if run.returncode != 0}
