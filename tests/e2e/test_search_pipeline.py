"""The search pipeline end to end through the CLI: a 2x2x2 study on digits,
concurrency of trainers, the study continued by a second run, and the
compiled Kubeflow v2 spec. (Runs killed and resumed: tests/faults/.)"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import pytest
import tensorflow as tf

from pipeline.cli import main

pytestmark = pytest.mark.e2e

STUDY = ["--dataset", "digits", "--rounds", "2", "--trainers", "2", "--trials-per-trainer", "2", "--epochs", "1",
         "--distill-epochs", "1", "--teacher-distillation"]


def run_json(argv, capsys):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def trials_json(output, capsys):
    assert main(["trials", "--output", str(output), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("study") / "digits"


@pytest.fixture(scope="module")
def first_run(study_dir):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", *STUDY, "--output", str(study_dir), "--json"]) == 0
    return json.loads(out.getvalue())


def parse_time(text):
    return datetime.datetime.fromisoformat(text)


def test_run_summary_and_outputs(first_run, study_dir):
    assert first_run["run_id"] == "run1"
    assert first_run["trials"] == {"total": 8, "completed": 8, "failed": 0, "skipped": 0}
    leaderboard = json.loads((study_dir / "leaderboard.json").read_text())
    assert leaderboard["chosen"] in ("best_single", "ensemble", "distilled")
    assert [c["name"] for c in leaderboard["candidates"]] == ["best_single", "ensemble", "distilled"]
    for candidate in leaderboard["candidates"]:
        assert set(candidate) >= {"name", "trial_ids", "eval", "test", "num_params", "latency_ms",
                                  "latency_ms_batch_256", "eval_details", "test_details"}
    # The first run of a study has no baseline: its chosen model is blessed and pushed.
    assert leaderboard["validation"]["blessed"] is True and first_run["pushed"] is True
    assert leaderboard["select"] == "best" and leaderboard["chosen_on"] == "estimate"
    pushed = Path(first_run["serving"])
    assert pushed.parent == study_dir / "serving"
    assert tf.saved_model.contains_saved_model(str(pushed))
    assert len(list((study_dir / "tensorboard").iterdir())) == 8, "one TensorBoard run per trial"


def test_trials_from_ml_metadata(first_run, study_dir, capsys):
    trials = trials_json(study_dir, capsys)
    assert len(trials) == 8
    assert {(t["round"], t["trainer"]) for t in trials} == {(1, 0), (1, 1), (2, 0), (2, 1)}
    required = {"trial_id", "round", "trainer", "status", "error", "architecture", "hparams", "parent", "metrics",
                "num_params", "train_seconds", "started_at", "finished_at", "algorithm", "run_id"}
    for trial in trials:
        assert required <= set(trial)
        # accuracy and loss as documented, and every other objective the study could choose.
        assert trial["status"] == "completed" and set(trial["metrics"]) == {"accuracy", "loss", "log_loss", "macro_f1"}
        assert trial["algorithm"] == "beam" and trial["run_id"] == "run1"
        assert isinstance(trial["architecture"], list) and trial["architecture"]
    round_one = {t["trial_id"] for t in trials if t["round"] == 1}
    assert all(t["parent"] in round_one for t in trials if t["round"] == 2)
    # Round 2 learns from the best of round 1 (distillation during the search), and every
    # trial records its eval curve, which the median stopping rule compares.
    best = max((t for t in trials if t["round"] == 1), key=lambda t: (t["metrics"]["accuracy"], -t["num_params"]))
    assert {t["teacher"] for t in trials if t["round"] == 2} == {best["trial_id"]}
    assert all(t["teacher"] is None for t in trials if t["round"] == 1)
    assert all(len(t["curve"]) == t["epochs"] == 1 for t in trials)


def test_trainers_of_a_round_ran_concurrently(first_run, study_dir, capsys):
    trials = trials_json(study_dir, capsys)
    for round_index in (1, 2):
        spans = {}
        for t in trials:
            if t["round"] == round_index:
                start, end = parse_time(t["started_at"]), parse_time(t["finished_at"])
                low, high = spans.get(t["trainer"], (start, end))
                spans[t["trainer"]] = (min(low, start), max(high, end))
        (a_start, a_end), (b_start, b_end) = spans[0], spans[1]
        assert a_start < b_end and b_start < a_end, f"round {round_index}: trainers did not overlap"


def test_lineage_to_the_data_in_ml_metadata(first_run, study_dir):
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(str(study_dir / "metadata.sqlite")))
    results = store.get_artifacts_by_type("components.TrialResults")
    examples = store.get_artifacts_by_type("Examples")
    assert len(results) == 4 and len(examples) == 1
    events = store.get_events_by_artifact_ids([results[0].id])
    execution_id = next(e.execution_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT)
    inputs = {e.artifact_id for e in store.get_events_by_execution_ids([execution_id])
              if e.type == metadata_store_pb2.Event.INPUT}
    assert examples[0].id in inputs


def test_second_run_of_the_study_continues_the_search(first_run, study_dir, capsys):
    second = run_json(["run", *STUDY, "--output", str(study_dir), "--json"], capsys)
    assert second["run_id"] == "run2" and second["trials"]["total"] == 8
    trials = trials_json(study_dir, capsys)
    assert len(trials) == 16
    run_one = {t["trial_id"] for t in trials if t["run_id"] == "run1"}
    first_round = [t for t in trials if t["run_id"] == "run2" and t["round"] == 1]
    assert all(t["parent"] in run_one for t in first_round), "run 2 must start from run 1's best trials"


def test_a_run_worse_than_the_blessed_model_does_not_push(first_run, study_dir, capsys):
    """Runs after the first: the smallest candidate is chosen on purpose and
    the student is a tiny dense net that barely trains, so the chosen model is
    worse than the blessed one; TFX's Evaluator does not bless it and the
    Pusher does not push it."""
    before = sorted(os.listdir(study_dir / "serving"))
    assert before, "the first run of the study pushed"
    # A learning rate this small leaves the student about where it started.
    tiny = json.dumps({"blocks": [{"name": "dense", "args": {"units": 16}}], "hyperparameters": {"learning_rate": 1e-6}})
    worse = run_json(["run", "--dataset", "digits", "--rounds", "1", "--trainers", "1", "--trials-per-trainer", "1",
                      "--epochs", "1", "--distill-epochs", "1", "--student", tiny, "--select", "smallest-within=100",
                      "--output", str(study_dir), "--json"], capsys)
    leaderboard = json.loads((study_dir / "leaderboard.json").read_text())
    assert leaderboard["run_id"] == worse["run_id"] and leaderboard["chosen"] == "distilled"
    assert leaderboard["select"] == "smallest-within=100"
    validation = leaderboard["validation"]
    assert validation["baseline_model"], "the latest blessed model of an earlier run is the baseline"
    baseline_accuracy = model_property(study_dir, validation["baseline_model"], "eval_accuracy")
    assert worse["chosen_metrics"]["eval"]["accuracy"] < baseline_accuracy, \
        "the scenario needs a chosen model worse than the blessed one"
    assert validation["blessed"] is False
    assert worse["pushed"] is False and validation["pushed"] is False
    assert sorted(os.listdir(study_dir / "serving")) == before


def budget_with_search_seconds(search_seconds):
    """The time budget whose search part (the budget less its reserve) is `search_seconds`."""
    from search_algo.time_budget import TimeBudget

    low, high = search_seconds, 10 * search_seconds + 1000
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if TimeBudget(middle, 1.0).search_seconds < search_seconds else (low, middle)
    return high


def test_a_time_budget_ends_the_search_early_and_the_run_within_it(first_run, study_dir, capsys):
    """Another run of the same study (its data already ingested), 16 rounds at
    most, with search time for start-up, 1.5 rounds as long as the first run's
    (its training time over its 2 rounds, plus launching a round's nodes) and
    the later rounds' nodes to pass through: the search stops after a few
    rounds, the rounds after it propose nothing and their trainers pass
    through, and the run ends within its budget.

    Sized by the first run's rounds, so that a loaded machine gives the budget
    as many rounds as an idle one; not by its whole wall time (with ingest, a
    cold start and distillation in it, that budget fitted all 8 rounds of a
    run on an idle machine). Each round's search ends only when the later
    rounds' pass-through allowance (3 s a round here) is left, so each round
    gains 3 s on the deadline: 16 rounds, so that all of them fit only in
    rounds under about 0.45 times as long as the first run's. Idle, 2 cores:
    a first run's round about 11.5 s, this run's 7-10 s; 5 of 16 searched
    (3 with 1 round of search time, 8 with 2)."""
    from search_algo.time_budget import PASS_THROUGH_NODE_SECONDS

    rounds, trainers = 16, 2
    node_seconds = (1 + trainers) * PASS_THROUGH_NODE_SECONDS
    round_seconds = first_run["time_spent"]["training"] / 2 + 2 * node_seconds
    start_up = 10.0 + 2 * node_seconds
    pass_through = (rounds - 1) * node_seconds
    seconds = round(budget_with_search_seconds(start_up + 1.5 * round_seconds + pass_through))
    budgeted = run_json(["run", *STUDY, "--rounds", str(rounds), "--time-budget", str(seconds),
                         "--output", str(study_dir), "--json"], capsys)
    budget = budgeted["time_budget"]
    assert budget["seconds"] == seconds and budget["max_rounds"] == rounds
    assert budget["kept"] is True, budget
    assert 1 <= budget["rounds_searched"] < rounds, ("the budget must end the search before the last round",
                                                     budget, first_run["time_spent"])
    trials = budgeted["trials"]
    assert trials["completed"] >= 1
    assert trials["total"] == trials["completed"] + trials["failed"] + trials["skipped"]
    # Rounds that proposed nothing have no trials at all.
    recorded = [t for t in trials_json(study_dir, capsys) if t["run_id"] == budgeted["run_id"]]
    assert len(recorded) == trials["total"] < rounds * 4
    # Once a round proposed nothing, no later round proposed again.
    proposed_in = sorted({t["round"] for t in recorded})
    assert proposed_in == list(range(1, len(proposed_in) + 1)), proposed_in
    spent = budgeted["time_spent"]
    parts = ("training", "evaluation", "post_search", "ingest", "orchestration")
    assert spent["training"] > 0 and sum(spent[p] for p in parts) == pytest.approx(spent["wall_seconds"], abs=0.5)
    leaderboard = json.loads((study_dir / "leaderboard.json").read_text())
    assert leaderboard["run_id"] == budgeted["run_id"]
    assert {c["name"] for c in leaderboard["candidates"]} | set(leaderboard["skipped"]) == {
        "best_single", "ensemble", "distilled"}
    # leaderboard.json and the report carry where the time went, taken just before they were written.
    assert leaderboard["time_budget"]["seconds"] == seconds
    assert 0 < leaderboard["time_spent"]["wall_seconds"] <= spent["wall_seconds"]
    page = (study_dir / "report.html").read_text()
    assert "Where the time went" in page and f"Time budget {budget['budget']}" in page


def model_property(study_dir, uri, name):
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(str(study_dir / "metadata.sqlite")))
    model = next(a for a in store.get_artifacts_by_type("Model") if a.uri == uri)
    return model.custom_properties[name].double_value


def test_compiled_kubeflow_spec_has_the_dag(tmp_path, capsys):
    out = tmp_path / "spec.json"
    summary = run_json(["compile", *STUDY, "--target", "kubeflow", "--image", "img:1", "--pipeline-root",
                        "gs://bucket/root", "--out", str(out), "--json"], capsys)
    tasks = json.loads(out.read_text())["pipelineSpec"]["root"]["dag"]["tasks"]
    trainers = sorted(t for t in tasks if t.startswith("Trainer_"))
    assert trainers == ["Trainer_r1_t0", "Trainer_r1_t1", "Trainer_r2_t0", "Trainer_r2_t1"]
    assert sorted(t for t in tasks if t.startswith("Proposer_")) == ["Proposer_r1", "Proposer_r2"]
    assert set(trainers) <= set(tasks["Ensembler"]["dependentTasks"])
    assert {"Trainer_r1_t0", "Trainer_r1_t1"} <= set(tasks["Proposer_r2"]["dependentTasks"])
    assert summary["tasks"] == sorted(tasks)
