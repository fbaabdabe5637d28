"""Contract tests: every task of the compiled Kubeflow v2 spec runs through
TFX's v2 container entrypoint (`kubeflow_v2_run_executor`, the spec's own
command and arguments) in a subprocess, with an ExecutorInput JSON built from
the spec, on local files, chained ingest -> proposer -> trainer -> ensembler
-> distiller -> evaluators -> pusher. No ML Metadata exists here, as on the
cluster. One tiny run (digits, 1 round, 1 trainer, 1 trial, 1 epoch) shared by
every test."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.contract.kfp_tasks import CompiledPipeline

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
RUN_ID = "contract-run-1"


@pytest.fixture(scope="session")
def chain(tmp_path_factory):
    base = tmp_path_factory.mktemp("kfp_contract")
    spec_file = base / "spec.json"
    # compiled with 3 epochs; the run sets the runtime parameter to 1
    argv = ["compile", "--dataset", "digits", "--study", "contract", "--rounds", "1", "--trainers", "1",
            "--trials-per-trainer", "1", "--epochs", "3", "--distill-epochs", "1", "--target", "kubeflow",
            "--image", "tfx-model-search:test", "--pipeline-root", str(base / "root"), "--out", str(spec_file)]
    assert main(argv) == 0
    pipeline = CompiledPipeline(json.loads(spec_file.read_text()), str(base / "root"))
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    runs = pipeline.run_all({"run_id": RUN_ID, "epochs": 1}, env=env)
    return pipeline, runs


def _metadata(run, key):
    return run.outputs[key][0]["metadata"]


def test_every_compiled_task_runs_through_the_v2_entrypoint(chain):
    pipeline, runs = chain
    failed = {name: run.stderr_tail for name, run in runs.items() if run.returncode != 0}
    assert not failed, f"failed tasks: {failed}"
    assert set(runs) == set(pipeline.tasks)
    for name, run in runs.items():
        assert os.path.isfile(run.executor_input["outputs"]["outputFile"]), f"{name} wrote no executor output"


def test_ingest_writes_splits_and_the_dataset_spec(chain):
    _, runs = chain
    ingest = runs["DataIngest"]
    splits = json.loads(_metadata(ingest, "examples")["split_names"])
    assert splits == ["train", "eval", "test"]
    for split in splits:
        assert os.listdir(os.path.join(ingest.uri("examples"), f"Split-{split}"))
    dataset_spec = json.loads(Path(ingest.uri("dataset_spec"), "dataset_spec.json").read_text())
    assert set(dataset_spec["class_counts"]) == {"train", "eval", "test"}


def test_proposer_proposes_one_trial_for_the_one_trainer(chain):
    _, runs = chain
    proposals = json.loads(Path(runs["Proposer_r1"].uri("proposals"), "proposals.json").read_text())
    assert len(proposals) == 1 and proposals[0]["run_id"] == RUN_ID and proposals[0]["architecture"]["blocks"]


def test_trainer_trains_with_the_runtime_epochs(chain):
    _, runs = chain
    metadata = _metadata(runs["Trainer_r1_t0"], "trials")
    assert metadata["completed"] == 1 and metadata["failed"] == 0
    (trial,) = json.loads(metadata["trials_json"])
    assert trial["status"] == "completed" and trial["epochs"] == 1 and trial["run_id"] == RUN_ID
    assert 0.0 <= trial["metrics"]["accuracy"] <= 1.0
    assert os.path.isdir(os.path.join(runs["Trainer_r1_t0"].uri("trials"), trial["path"]))


@pytest.mark.parametrize("task, manifest", [("Ensembler", "ensemble.json"), ("Distiller", "student.json")])
def test_ensembler_and_distiller_export_serving_models(chain, task, manifest):
    _, runs = chain
    model = Path(runs[task].uri("model"))
    assert (model / manifest).is_file()
    assert (model / "Format-Serving" / "saved_model.pb").is_file()


def test_search_evaluator_ranks_the_trial_and_chooses_a_model(chain):
    _, runs = chain
    evaluator = runs["SearchEvaluator"]
    leaderboard = json.loads(Path(evaluator.uri("leaderboard"), "leaderboard.json").read_text())
    assert leaderboard["run_id"] == RUN_ID and leaderboard["chosen"] in {c["name"] for c in leaderboard["candidates"]}
    trial_ids = {t for c in leaderboard["candidates"] for t in c.get("trial_ids", [])}
    assert f"{RUN_ID}-r1-00" in trial_ids
    assert (Path(evaluator.uri("chosen_model")) / "Format-Serving" / "saved_model.pb").is_file()


def test_validator_and_pusher_push_the_blessed_model_under_the_root(chain):
    pipeline, runs = chain
    blessing = Path(runs["Evaluator"].uri("blessing"))
    assert (blessing / "BLESSED").exists() or (blessing / "NOT_BLESSED").exists()
    pushed = _metadata(runs["Pusher"], "pushed_model")
    if (blessing / "BLESSED").exists():
        assert pushed["pushed"] == 1
        destination = Path(pushed["pushed_destination"])
        assert destination.parent == Path(pipeline.root) / "serving"
        assert (destination / "saved_model.pb").is_file()
    else:
        assert pushed["pushed"] == 0
