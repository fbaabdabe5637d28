"""Contract tests: a compiled spec runs as scheduled cluster runs do, on Cloud Storage.

Every task of the compiled Kubeflow v2 / Vertex spec runs through TFX's v2
container entrypoint (`kubeflow_v2_run_executor`, the spec's own command and
arguments) in its own process - forked from one that imported TFX once
(task_server.py), as a fresh container would after its imports - with an
ExecutorInput JSON built from the spec, chained ingest -> history ->
proposer -> trainers -> ensembler -> distiller -> evaluators -> pusher. The data, the pipeline root and every
artifact are on gs://, served by a Cloud Storage emulator on loopback
(tests/cloud/gcs_emulator.py); no ML Metadata exists, as on Vertex AI.

One study (digits as a CSV on gs://, 1 round x 1 trainer x 2 trials), run
as a schedule would run it:
The orchestrator's cache is modelled (as Kubeflow Pipelines caches): later
runs take the ingest of the same data from it, never the StudyHistory task.
- run A (`nightly-1`): the first run, blessed without a baseline and pushed;
- run B (no run id: derived) dies after its trainer, and is run again with
  the id it derived: it resumes (its trials are not trained again), its
  round 1 grows run A's trials, and its chosen model - a student trained for
  0 epochs, which `smallest-within=100` picks - is worse than run A's, so it
  is not blessed and not pushed;
- run C (`nightly-3`) has a per-trial time limit nobody can meet: every
  trial fails, the run fails at the Ensembler and pushes nothing.
"""

from __future__ import annotations

import json
import os
import posixpath
import sys
import time
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.contract.kfp_tasks import CompiledPipeline, TaskServer

# The session fixture `study` runs four compiled jobs inside the time limit of whichever test uses
# it first (277-311 s on 2 cores, more on a busy machine): a larger limit than the default 900 s.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
BUCKET = "model-search-test"
ROOT = f"gs://{BUCKET}/studies/digits-nightly"
DATA = f"gs://{BUCKET}/data/digits.csv"
STUDENT = json.dumps({"blocks": [{"name": "dense", "args": {"units": 16}}]})


def _digits_csv(rows: int | None = None) -> str:
    from sklearn.datasets import load_digits

    digits = load_digits()
    lines = [",".join([f"p{i}" for i in range(64)] + ["label"])]
    for features, label in list(zip(digits.data, digits.target))[:rows]:
        lines.append(",".join(str(int(v)) for v in features) + f",{label}")
    return "\n".join(lines) + "\n"


class Study:
    """The compiled spec and every run made of it."""

    def __init__(self, gcs, spec: dict, scratch: Path):
        self.gcs, self.spec, self.scratch = gcs, spec, scratch
        self.env = gcs.env({**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"})
        self.jobs: dict[str, CompiledPipeline] = {}
        self.seconds: dict[str, float] = {}
        self.cache: dict = {}  # the orchestrator's, across the study's runs
        # Every task in a process of its own, forked from one that imported TFX once (task_server.py).
        self.server = TaskServer(CompiledPipeline(spec, ROOT, str(scratch)).executor_modules(), self.env,
                                 wrap=gcs.command)

    def run(self, job_id: str, parameters: dict, stop_after: str | None = None) -> CompiledPipeline:
        pipeline = CompiledPipeline(self.spec, ROOT, str(self.scratch), job_id=job_id, wrap=self.gcs.command,
                                    cache=self.cache, server=self.server)
        started = time.monotonic()
        pipeline.run_all(parameters, env=self.env, stop_after=stop_after)
        self.seconds[job_id] = time.monotonic() - started
        self.jobs[job_id] = pipeline
        return pipeline

    def cli(self, *argv: str) -> str:
        done = self.gcs.run([sys.executable, "-m", "pipeline.cli", *argv], env=self.env)
        assert done.returncode == 0, f"model-search {' '.join(argv)} failed:\n{done.stderr[-3000:]}"
        return done.stdout

    def record(self, kind: str) -> list[dict]:
        prefix = posixpath.join(ROOT, "StudyRecord", "digits-nightly", kind) + "/"
        return [json.loads(self.gcs.read(uri)) for uri in self.gcs.list(prefix) if uri.endswith(".json")]

    def servables(self) -> list[str]:
        return sorted({uri.split("/serving/")[1].split("/")[0] for uri in self.gcs.list(f"{ROOT}/serving/")} - {""})


@pytest.fixture(scope="session")
def study(gcs, tmp_path_factory):
    base = tmp_path_factory.mktemp("kfp_contract")
    gcs.write(DATA, _digits_csv())
    spec_file = base / "spec.json"
    # Compiling is offline: the gs:// data is named, not read. Compiled with
    # 3 epochs; the runs set the runtime parameter to 1.
    argv = ["compile", "--data", DATA, "--label", "label", "--study", "digits-nightly", "--rounds", "1",
            "--trainers", "1", "--trials-per-trainer", "2", "--epochs", "3", "--distill-epochs", "1",
            "--select", "smallest-within=100", "--student", STUDENT, "--target", "vertex",
            "--image", "tfx-model-search:test", "--pipeline-root", ROOT, "--out", str(spec_file)]
    assert main(argv) == 0
    runs = Study(gcs, json.loads(spec_file.read_text()), base / "pods")
    first = runs.run("job-a", {"run_id": "nightly-1", "epochs": 1, "distill_epochs": 20})
    assert not first.failed(), f"run A failed: {first.failed()}"
    runs.serving_after_a = runs.servables()
    crashed = runs.run("job-b", {"epochs": 1, "distill_epochs": 0}, stop_after="Trainer_r1_t0")
    assert not crashed.failed(), f"run B failed: {crashed.failed()}"
    runs.run_b = crashed.runs["StudyHistory"].metadata("history")["run_id"]
    resumed = runs.run("job-b2", {"run_id": runs.run_b, "epochs": 1, "distill_epochs": 0})
    assert not resumed.failed(), f"run B (resumed) failed: {resumed.failed()}"
    runs.run("job-c", {"run_id": "nightly-3", "epochs": 1, "time_limit": 0.001})
    runs.server.close()
    for job_id, job in runs.jobs.items():  # the time of each task, shown with -s
        print(job_id, f"{runs.seconds[job_id]:.0f} s:", ", ".join(
            f"{n} {'cached' if n in job.cached else f'{r.seconds:.0f}'}" for n, r in job.runs.items()))
    return runs


def _trials(run) -> list[dict]:
    return json.loads(run.metadata("trials")["trials_json"])


def test_every_compiled_task_runs_through_the_v2_entrypoint_on_cloud_storage(study):
    first = study.jobs["job-a"]
    assert set(first.runs) == set(first.tasks) and not first.cached
    for name, run in first.runs.items():
        assert os.path.isfile(run.executor_input["outputs"]["outputFile"]), f"{name} wrote no executor output"
        for outputs in run.outputs.values():
            assert all(item["uri"].startswith(f"{ROOT}/") for item in outputs), f"{name} wrote outside the root"


def test_ingest_reads_the_csv_from_cloud_storage_and_writes_splits_and_spec_there(study, gcs):
    ingest = study.jobs["job-a"].runs["DataIngest"]
    splits = json.loads(ingest.metadata("examples")["split_names"])
    assert splits == ["train", "eval", "test"]
    for split in splits:
        assert gcs.list(f"{ingest.uri('examples')}/Split-{split}/"), f"no {split} split on gs://"
    dataset_spec = json.loads(gcs.read(f"{ingest.uri('dataset_spec')}/dataset_spec.json"))
    assert sum(dataset_spec["split_sizes"].values()) == 1797 and dataset_spec["source"]["data"] == DATA
    assert len(ingest.metadata("examples")["data_fingerprint"]) == 32


def test_trainer_trains_with_the_runtime_epochs_and_records_each_trial(study, gcs):
    trainer = study.jobs["job-a"].runs["Trainer_r1_t0"]
    metadata = trainer.metadata("trials")
    assert metadata["completed"] == 2 and metadata["failed"] == 0
    for trial in _trials(trainer):
        assert trial["status"] == "completed" and trial["epochs"] == 1 and trial["run_id"] == "nightly-1"
        # Weights with the optimizer's state; a SavedModel only for the candidate the SearchEvaluator picks.
        assert gcs.exists(f"{trainer.uri('trials')}/{trial['path']}/model.weights.h5")
        assert any("events.out.tfevents" in uri for uri in gcs.list(f"{ROOT}/tensorboard/{trial['trial_id']}/"))
    recorded = {t["trial_id"]: t for t in study.record("trials") if t["run_id"] == "nightly-1"}
    assert sorted(recorded) == ["nightly-1-r1-00", "nightly-1-r1-01"]
    assert all(t["path"].startswith(trainer.uri("trials")) for t in recorded.values())


def test_the_first_run_is_blessed_without_a_baseline_and_pushed_under_the_root(study, gcs):
    runs = study.jobs["job-a"].runs
    leaderboard = json.loads(gcs.read(f"{runs['SearchEvaluator'].uri('leaderboard')}/leaderboard.json"))
    assert leaderboard["run_id"] == "nightly-1" and leaderboard["chosen"] == "distilled"
    assert leaderboard["production"] is None
    assert gcs.exists(f"{runs['Evaluator'].uri('blessing')}/BLESSED")
    pushed = runs["Pusher"].metadata("pushed_model")
    assert pushed["pushed"] == 1 and pushed["pushed_destination"].startswith(f"{ROOT}/serving/")
    assert gcs.exists(f"{pushed['pushed_destination']}/saved_model.pb")
    assert gcs.exists(f"{pushed['pushed_destination']}/assets.extra/dataset_spec.json")
    assert len(study.serving_after_a) == 1


def test_scheduled_runs_get_distinct_trial_ids_and_a_second_run_grows_the_first(study):
    assert study.run_b.startswith("run-") and study.run_b != "nightly-1"
    proposals = study.jobs["job-b2"].runs["Proposer_r1"]
    proposed = json.loads(proposals.metadata("proposals")["trials_json"])
    first_ids = {t["trial_id"] for t in study.record("trials") if t["run_id"] == "nightly-1"}
    assert {t["trial_id"] for t in proposed} == {f"{study.run_b}-r1-00", f"{study.run_b}-r1-01"}
    assert all(t["parent"] in first_ids and t["transfer"] == "weights" for t in proposed), proposed
    history = study.jobs["job-b2"].runs["StudyHistory"].metadata("history")
    assert history["run_id"] == study.run_b and history["count"] == 2 and history["runs"] == 1
    # The orchestrator's cache serves the same data's ingest again, never the run's history.
    assert all(job.cached == {"DataIngest"} for job_id, job in study.jobs.items() if job_id != "job-a")


def test_rerunning_a_failed_run_with_its_id_resumes_without_training_again(study):
    crashed = {t["trial_id"]: t for t in _trials(study.jobs["job-b"].runs["Trainer_r1_t0"])}
    resumed = {t["trial_id"]: t for t in _trials(study.jobs["job-b2"].runs["Trainer_r1_t0"])}
    assert crashed.keys() == resumed.keys()
    assert {k: t["started_at"] for k, t in crashed.items()} == {k: t["started_at"] for k, t in resumed.items()}, \
        "a trial finished before the crash must not be trained again"
    recorded = [t["trial_id"] for t in study.record("trials") if t["run_id"] == study.run_b]
    assert sorted(recorded) == sorted(crashed), "each trial is recorded once"


def test_a_worse_run_is_not_blessed_and_production_keeps_the_better_model(study, gcs):
    runs = study.jobs["job-b2"].runs
    leaderboard = json.loads(gcs.read(f"{runs['SearchEvaluator'].uri('leaderboard')}/leaderboard.json"))
    assert leaderboard["chosen"] == "distilled" and leaderboard["production"]["run_id"] == "nightly-1"
    chosen = {c["name"]: c for c in leaderboard["candidates"]}["distilled"]
    assert chosen["eval"]["accuracy"] < leaderboard["production"]["eval"]["accuracy"]
    assert gcs.exists(f"{runs['Evaluator'].uri('blessing')}/NOT_BLESSED")
    assert runs["Pusher"].metadata("pushed_model")["pushed"] == 0
    assert study.servables() == study.serving_after_a, "serving still holds run A's model only"
    validations = {v["run_id"]: v for v in study.record("validations")}
    assert validations["nightly-1"]["blessed"] and validations["nightly-1"]["pushed"]
    assert not validations[study.run_b]["blessed"] and not validations[study.run_b]["pushed"]
    assert validations[study.run_b]["baseline_model"] == validations["nightly-1"]["model_uri"]


def test_a_run_whose_trials_all_fail_stops_at_the_ensembler_and_pushes_nothing(study):
    runs = study.jobs["job-c"].runs
    assert runs["Trainer_r1_t0"].returncode == 0
    assert all(t["status"] == "failed" and "time limit" in t["error"] for t in _trials(runs["Trainer_r1_t0"]))
    assert runs["Ensembler"].returncode != 0
    assert "all 2 trials of run nightly-3 failed" in runs["Ensembler"].stderr_tail
    assert "Pusher" not in runs and study.servables() == study.serving_after_a
    assert "nightly-3" not in {v["run_id"] for v in study.record("validations")}


def test_the_cli_shows_every_runs_trials_and_the_blessing_history_from_the_bucket(study, tmp_path):
    trials = json.loads(study.cli("trials", "--pipeline-root", ROOT, "--json"))
    by_run: dict[str, list[str]] = {}
    for trial in trials:
        by_run.setdefault(trial["run_id"], []).append(trial["status"])
    assert by_run == {"nightly-1": ["completed"] * 2, study.run_b: ["completed"] * 2, "nightly-3": ["failed"] * 2}
    shown = json.loads(study.cli("leaderboard", "--pipeline-root", ROOT, "--json"))
    assert shown["leaderboard"]["run_id"] == study.run_b
    assert [(h["run_id"], h["blessed"], h["pushed"], h["baseline_run"]) for h in shown["history"]] == [
        ("nightly-1", True, True, None), (study.run_b, False, False, "nightly-1")]
    first = json.loads(study.cli("leaderboard", "--pipeline-root", ROOT, "--run", "nightly-1", "--json"))
    assert first["leaderboard"]["validation"]["pushed"] is True
    page = f"{ROOT}/reports/report.html"
    assert json.loads(study.cli("report", "--pipeline-root", ROOT, "--out", page, "--json")) == {"report": page}
    html = study.gcs.read(page).decode()
    assert "nightly-1" in html and study.run_b in html and "not pushed" in html


def test_predict_runs_the_pushed_model_from_the_bucket(study, gcs):
    rows = f"gs://{BUCKET}/data/new-rows.csv"
    gcs.write(rows, _digits_csv(rows=5))
    predictions = json.loads(study.cli("predict", "--model", f"{ROOT}/serving", "--data", rows, "--json"))
    assert len(predictions) == 5
    assert all(set(p["probabilities"]) == {str(c) for c in range(10)} for p in predictions)

