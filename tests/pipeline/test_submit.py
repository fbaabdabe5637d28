"""`model-search submit` / `schedule`: the real kfp client against a recording
fake KFP API server on loopback, and aiplatform's own request objects for Vertex."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "kfp_specs" / "digits.json")
COMPILED = json.loads(Path(SPEC).read_text())


class FakeKfpApi(BaseHTTPRequestHandler):
    """Answers the few KFP v2beta1 calls the client makes, recording each."""

    requests: list = []

    def _reply(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append((self.command, self.path, body))
        return body

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._record()
        if self.path.startswith("/apis/v2beta1/healthz"):
            self._reply({"multi_user": False})
        else:  # experiment look-up by name: none yet
            self._reply({"experiments": [], "total_size": 0})

    def do_POST(self):  # noqa: N802
        body = self._record()
        if self.path == "/apis/v2beta1/experiments":
            self._reply({"experiment_id": "exp-1", "display_name": body["display_name"]})
        elif self.path == "/apis/v2beta1/runs":
            self._reply({"run_id": "run-1", **body})
        elif self.path == "/apis/v2beta1/recurringruns":
            self._reply({"recurring_run_id": "rr-1", **body})
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def kfp_server():
    FakeKfpApi.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKfpApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", FakeKfpApi.requests
    server.shutdown()
    server.server_close()


def _parsed_pipeline_spec(spec_dict):
    """The kfp SDK's own pipeline-spec parser; raises on anything malformed."""
    return json_format.ParseDict(spec_dict, pipeline_spec_pb2.PipelineSpec())


def _cli_json(argv, capsys):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_kubeflow_submit_sends_what_dry_run_prints(kfp_server, capsys):
    host, requests = kfp_server
    common = ["submit", SPEC, "--target", "kubeflow", "--host", host, "--run-name", "digits-a",
              "--param", "run_id=r7", "--param", "epochs=2", "--experiment", "studies"]
    dry = _cli_json(common + ["--dry-run"], capsys)
    assert requests == [], "--dry-run must send nothing"
    assert dry["url"] == f"{host}/apis/v2beta1/runs" and dry["experiment"] == "studies"
    parsed = _parsed_pipeline_spec(dry["body"]["pipeline_spec"])
    assert set(parsed.root.dag.tasks) == set(COMPILED["pipelineSpec"]["root"]["dag"]["tasks"])

    result = _cli_json(common + ["--json"], capsys)
    assert result["run_id"] == "run-1"
    creates = [(path, body) for method, path, body in requests if method == "POST"]
    assert [path for path, _ in creates] == ["/apis/v2beta1/experiments", "/apis/v2beta1/runs"]
    assert creates[0][1]["display_name"] == "studies"
    sent = creates[1][1]
    assert sent["experiment_id"] == "exp-1"
    compiled_defaults = {name: int(value["intValue"]) if "intValue" in value else value["doubleValue"]
                         for name, value in COMPILED["runtimeConfig"]["parameters"].items()
                         if "intValue" in value or "doubleValue" in value}
    assert {"seed", "distill_epochs", "time_limit"} <= set(compiled_defaults)
    assert sent["runtime_config"] == {
        "parameters": {**compiled_defaults, "epochs": 2, "run_id": "r7"},
        "pipeline_root": COMPILED["runtimeConfig"]["gcsOutputDirectory"]}
    assert {k: v for k, v in sent.items() if k != "experiment_id"} == dry["body"]


def test_two_submits_in_the_same_second_get_different_run_ids(capsys, monkeypatch):
    import datetime
    import re

    from pipeline import submission

    # Two submissions in one second: the time alone named both runs alike.
    second = datetime.datetime(2026, 12, 6, 22, 0, 0, tzinfo=datetime.timezone.utc)
    spec = submission.load_spec(SPEC)
    names = {submission.default_run_name(spec, second) for _ in range(20)}
    assert len(names) == 20
    assert all(re.fullmatch(r"digits-20261206-220000-[0-9a-f]{8}", name) for name in names), names

    common = ["submit", SPEC, "--target", "kubeflow", "--dry-run"]
    bodies = [_cli_json(common, capsys)["body"] for _ in range(2)]
    run_ids = [body["runtime_config"]["parameters"]["run_id"] for body in bodies]
    assert run_ids[0] != run_ids[1]
    assert [body["display_name"] for body in bodies] == run_ids, "the run id is the run name"


@pytest.mark.slow
def test_kubeflow_schedule_sends_a_cron_recurring_run(kfp_server, capsys):
    host, requests = kfp_server
    common = ["schedule", SPEC, "--target", "kubeflow", "--host", host, "--name", "nightly",
              "--cron", "0 0 3 * * *", "--max-concurrency", "2"]
    dry = _cli_json(common + ["--dry-run"], capsys)
    assert requests == []
    _parsed_pipeline_spec(dry["body"]["pipeline_spec"])
    # each scheduled run gets its own run id from KFP's macro
    assert dry["body"]["runtime_config"]["parameters"]["run_id"] == "[[RunUUID]]"

    assert _cli_json(common + ["--json"], capsys)["recurring_run_id"] == "rr-1"
    sent = [body for method, path, body in requests if method == "POST" and path == "/apis/v2beta1/recurringruns"]
    assert len(sent) == 1
    assert sent[0]["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * *"}}
    assert sent[0]["max_concurrency"] == "2" or sent[0]["max_concurrency"] == 2
    assert sent[0]["mode"] == "ENABLE" and sent[0]["experiment_id"] == "exp-1"
    assert {k: v for k, v in sent[0].items() if k != "experiment_id"} == dry["body"]


@pytest.mark.slow
def test_vertex_submit_dry_run_is_a_create_pipeline_job_request(capsys):
    from google.cloud.aiplatform_v1.types import pipeline_service

    dry = _cli_json(["submit", SPEC, "--target", "vertex", "--project", "proj-1", "--region", "europe-west4",
                     "--run-name", "digits-b", "--pipeline-root", "gs://other/root", "--dry-run"], capsys)
    assert dry["method"] == "CreatePipelineJob"
    request = pipeline_service.CreatePipelineJobRequest.from_json(json.dumps(dry["request"]))
    assert request.parent == "projects/proj-1/locations/europe-west4"
    assert request.pipeline_job_id == "digits-b"
    config = request.pipeline_job.runtime_config
    assert config.gcs_output_directory == "gs://other/root"
    assert config.parameters["run_id"].string_value == "digits-b"  # run id defaults to the run name
    parsed = _parsed_pipeline_spec(dry["request"]["pipelineJob"]["pipelineSpec"])
    assert parsed.deployment_spec == _parsed_pipeline_spec(COMPILED["pipelineSpec"]).deployment_spec


def test_vertex_schedule_dry_run_is_a_create_schedule_request(capsys):
    from google.cloud.aiplatform_v1.types import schedule_service

    dry = _cli_json(["schedule", SPEC, "--target", "vertex", "--project", "proj-1", "--region", "us-central1",
                     "--name", "nightly", "--cron", "TZ=Europe/Berlin 0 3 * * *", "--param", "run_id=n1",
                     "--dry-run"], capsys)
    request = schedule_service.CreateScheduleRequest.from_json(json.dumps(dry["request"]))
    assert request.parent == "projects/proj-1/locations/us-central1"
    schedule = request.schedule
    assert schedule.cron == "TZ=Europe/Berlin 0 3 * * *" and schedule.max_concurrent_run_count == 1
    assert schedule.display_name == "nightly"
    job = schedule.create_pipeline_job_request.pipeline_job
    assert job.runtime_config.parameters["run_id"].string_value == "n1"
    _parsed_pipeline_spec(dry["request"]["schedule"]["createPipelineJobRequest"]["pipelineJob"]["pipelineSpec"])
    # Without --param run_id every scheduled run derives its own id: nothing fixes one.
    default = _cli_json(["schedule", SPEC, "--target", "vertex", "--project", "proj-1", "--region", "us-central1",
                         "--name", "nightly", "--cron", "0 3 * * *", "--dry-run"], capsys)
    request = schedule_service.CreateScheduleRequest.from_json(json.dumps(default["request"]))
    assert request.schedule.create_pipeline_job_request.pipeline_job.runtime_config.parameters[
        "run_id"].string_value == ""


@pytest.mark.parametrize("argv, message", [
    (["--target", "kubeflow", "--param", "nope=1", "--dry-run"], "no such runtime parameter"),
    (["--target", "kubeflow", "--param", "run_id", "--dry-run"], "expected NAME=VALUE"),
    (["--target", "kubeflow", "--param", "epochs=many", "--dry-run"], "expected a int"),
    (["--target", "vertex", "--dry-run"], "needs --project P and --region R"),
    (["--target", "kubeflow"], "needs --host URL"),
])
def test_user_errors_are_one_line(argv, message, capsys):
    assert main(["submit", SPEC] + argv) == 2
    assert message in capsys.readouterr().err


def test_not_a_spec_is_a_user_error(tmp_path, capsys):
    bad = tmp_path / "study.yaml"
    bad.write_text("study: x\n")
    assert main(["submit", str(bad), "--target", "kubeflow", "--dry-run"]) == 2
    assert "model-search compile" in capsys.readouterr().err
