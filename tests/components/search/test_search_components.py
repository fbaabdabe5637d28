"""Proposer, Trainer, Ensembler, Distiller and SearchEvaluator executors on
real (small) ingested data, run as a runner would on hand-built artifacts.

Integration tier (docs/testing.md): each test ingests with Beam or trains through the
executors; the Trainer's parts that need neither are in tests/components/test_trainer_parts.py."""

from __future__ import annotations

import dataclasses
import json
import os
import time

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components import artifacts, examples_io, model_export, trial_files, trial_model
from components.dataset_spec_artifact import read_dataset_spec
from components.distiller import executor as distiller_executor
from components.ensembler import executor as ensembler_executor
from components.evaluator import executor as evaluator_executor
from components.ingest.sources import SourceConfig
from components.proposer import executor as proposer_executor
from components.trainer import executor as trainer_executor
from search_algo.algorithms import ALGORITHM_NAMES
from search_algo.architecture import Architecture
from search_algo.constraints import Constraints, ModelCost, training_cost
from search_algo.proposals import deal_longest_first
from search_algo.time_budget import BUDGET_SPENT_ERROR, TimeBudget
from search_algo.trial import Trial
from tests.tfx_helpers import history_artifact, new_artifact, run_ingest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    examples, spec_artifact, spec = run_ingest(SourceConfig(dataset="wine", seed=0), tmp_path_factory.mktemp("wine"))
    return examples, spec_artifact, spec


def budgeted_history(uri, run_id="run1", trials=(), started_at=None):
    """A StudyHistory output stamped with the run's start (epoch seconds), as the node stamps it."""
    item = history_artifact(uri, run_id, trials)
    if started_at is not None:
        item.set_float_custom_property("started_at", started_at)
    return item


def propose(wine, tmp_path, history=(), round_index=1, algorithm="beam", run_id="run1", seed=0, teacher=False,
            schedule="none", epochs=2, constraints="", time_budget=None, started_at=None):
    _, spec_artifact, _ = wine
    proposals = new_artifact(artifacts.Proposals, tmp_path / f"proposals_{round_index}_{seed}")
    props = {
        "round": round_index, "study": "wine", "algorithm": algorithm, "num_trainers": 2,
        "trials_per_trainer": 2, "seed": seed, "search_space": json.dumps({"max_depth": 2}),
        "code_version": "test", "teacher_distillation": int(teacher), "weight_sharing": 1,
        "epochs": epochs, "budget_schedule": schedule, "reduction_factor": 3, "min_epochs": 0,
        "constraints": constraints, "time_budget_seconds": time_budget,
    }
    study_history = budgeted_history(tmp_path / f"history_{round_index}_{seed}_{run_id}", run_id,
                                     started_at=started_at)
    inputs = {"dataset_spec": [spec_artifact], "study_history": [study_history]}
    inputs.update({f"history_{i}": [h] for i, h in enumerate(history)})
    proposer_executor.Executor().Do(inputs, {"proposals": [proposals]}, props)
    return proposals


def train(wine, proposals, trainer_index, out_dir, epochs=2, time_limit=None, cache="", tensorboard="", history=(),
          earlier=(), early_stopping="median", time_budget=None, started_at=None, study_record=""):
    """`history`: this run's earlier TrialResults; `earlier`: earlier runs' trials."""
    examples, spec_artifact, _ = wine
    trials = new_artifact(artifacts.TrialResults, out_dir)
    props = {"trainer_index": trainer_index, "epochs": epochs, "time_limit_seconds": time_limit,
             "trial_cache_root": cache, "code_version": "test", "tensorboard_root": tensorboard,
             "max_retries": 2, "max_consecutive_failures": 0,  # 0: failures in a row never stop these trainers
             "early_stopping": early_stopping, "time_budget_seconds": time_budget, "study_record": study_record}
    inputs = {"examples": [examples], "dataset_spec": [spec_artifact], "proposals": [proposals],
              "study_history": [budgeted_history(out_dir.parent / f"{out_dir.name}_history", "run1", earlier,
                                                 started_at)]}
    inputs.update({f"history_{i}": [h] for i, h in enumerate(history)})
    trainer_executor.Executor().Do(inputs, {"trials": [trials]}, props)
    return trials


def test_proposer_is_deterministic_and_assigns_trainers(wine, tmp_path):
    first = trial_files.trials_of([propose(wine, tmp_path, seed=3)])
    again = trial_files.trials_of([propose(wine, tmp_path / "again", seed=3)])
    other = trial_files.trials_of([propose(wine, tmp_path / "other", seed=4)])
    assert [t.to_dict() for t in first] == [t.to_dict() for t in again]
    assert [t.architecture.arch_id for t in first] != [t.architecture.arch_id for t in other]
    # Dealt costliest first (parameters x epochs) to the least loaded trainer.
    cost = training_cost(ModelCost(read_dataset_spec(wine[1]), Constraints()), epochs=2)
    assert [t.trainer for t in first] == deal_longest_first([cost(t) for t in first], 2)
    assert {t.trainer for t in first} == {0, 1}
    assert [t.trial_id for t in first] == ["run1-r1-00", "run1-r1-01", "run1-r1-02", "run1-r1-03"]
    assert all(t.status == "proposed" and t.parent is None for t in first)
    assert len({t.architecture.arch_id for t in first}) == 4


@pytest.fixture(scope="module")
def round_one(wine, tmp_path_factory):
    root = tmp_path_factory.mktemp("round1")
    proposals = propose(wine, root)
    return proposals, [train(wine, proposals, i, root / f"trials_{i}", cache=str(root / "cache")) for i in range(2)]


def test_trainer_trains_its_share_and_records_everything(round_one):
    proposals, results = round_one
    trials = trial_files.trials_of(results)
    shares = [[t.trial_id for t in trial_files.trials_of([proposals]) if t.trainer == i] for i in range(2)]
    assert [[t.trial_id for t in trial_files.trials_of([r])] for r in results] == shares
    for trial in trials:
        assert trial.status == "completed", trial.error
        assert set(trial.metrics) == {"accuracy", "loss", "log_loss", "macro_f1"} and 0 <= trial.metrics["accuracy"] <= 1
        assert trial.num_params > 0 and trial.epochs == 2 and trial.train_seconds > 0
        assert len(trial.epoch_seconds) == 2 and 0 < trial.fit_seconds < trial.train_seconds
        assert trial.started_at < trial.finished_at
        for name in ("trial.json", "model.weights.h5", "history.json"):
            assert os.path.exists(os.path.join(trial.path, name)), name
        # Exported only when a post-search node picks it (components/trial_model.py).
        assert not os.path.exists(model_export.serving_dir(trial.path))
    assert results[0].get_int_custom_property("completed") == len(shares[0])
    recorded = json.loads(results[0].get_string_custom_property("trials_json"))
    assert [r["trial_id"] for r in recorded] == shares[0]


def test_trial_model_serves_serialized_examples_like_its_eval_metrics(wine, round_one, tmp_path):
    examples, _, spec = wine
    trial = trial_files.trials_of(round_one[1])[0]
    serialized = examples_io.serialized_split(examples, "eval")
    _, labels = examples_io.load_split(examples, "eval", spec)
    trial_model.export_trial(trial.path, spec, str(tmp_path / "served"))
    outputs = model_export.load_predict_fn(str(tmp_path / "served"))(serialized)
    assert outputs["probabilities"].shape == (len(labels), 3)
    assert np.allclose(outputs["probabilities"].sum(axis=1), 1.0, atol=1e-4)
    assert set(outputs["classes"]) <= {b"class_0", b"class_1", b"class_2"}
    accuracy = float(np.mean(outputs["class_ids"] == labels))
    assert accuracy == pytest.approx(trial.metrics["accuracy"], abs=1e-6)


def test_second_round_mutates_the_best_with_parents_and_weight_sharing(wine, round_one, tmp_path):
    _, results = round_one
    proposals = trial_files.trials_of([propose(wine, tmp_path, history=results, round_index=2)])
    round_one_ids = {t.trial_id for t in trial_files.trials_of(results)}
    assert all(t.parent in round_one_ids and t.transfer == "weights" for t in proposals)
    second = propose(wine, tmp_path / "p", history=results, round_index=2)
    trained = trial_files.trials_of([train(wine, second, i, tmp_path / f"t{i}", history=results) for i in range(2)])
    assert all(t.status == "completed" for t in trained)
    assert any(t.transferred_blocks for t in trained), "a child sharing blocks with its parent starts from its weights"


def test_asha_trains_new_trials_briefly_and_continues_the_best(wine, tmp_path):
    """Rungs 1 -> 4 epochs: round one trains 1 epoch a trial; round two
    first continues round one's best from its own weights for 3 more."""
    first = propose(wine, tmp_path / "r1", schedule="asha", epochs=4)
    proposed = trial_files.trials_of([first])
    assert {(t.planned_epochs, t.total_epochs) for t in proposed} == {(1, 1)}
    done = [train(wine, first, i, tmp_path / f"trials_r1_{i}", epochs=4) for i in range(2)]
    trained = trial_files.trials_of(done)
    assert all(t.status == "completed" and t.epochs == 1 for t in trained), [t.error for t in trained]
    second = propose(wine, tmp_path / "r2", history=done, round_index=2, schedule="asha", epochs=4)
    promotion, *fresh = trial_files.trials_of([second])
    best = sorted(trained, key=lambda t: (-t.metrics["accuracy"], t.num_params, t.trial_id))[0]
    assert (promotion.parent, promotion.transfer) == (best.trial_id, "continue")
    assert (promotion.planned_epochs, promotion.total_epochs) == (3, 4)
    assert promotion.architecture == best.architecture
    assert all(t.transfer != "continue" and t.planned_epochs == 1 for t in fresh)
    continued = trial_files.trials_of([train(wine, second, promotion.trainer, tmp_path / "trials_r2", epochs=4,
                                             history=done)])[0]
    assert continued.status == "completed" and continued.epochs == 3, continued.error
    assert len(continued.transferred_blocks) == len(best.architecture.blocks)


def test_a_constrained_proposer_proposes_only_models_within_the_limit(wine, tmp_path):
    from search_algo.constraints import Constraints
    from search_algo.model_builder import build_model, parameter_count

    limit = 1500
    proposals = propose(wine, tmp_path, seed=5, constraints=Constraints(max_params=limit).to_json())
    trials = trial_files.trials_of([proposals])
    assert len(trials) == 4
    sizes = [parameter_count(build_model(t.architecture, wine[2], compile=False)) for t in trials]
    assert all(size <= limit for size in sizes), sizes
    assert proposals.get_int_custom_property("rejected_by_constraints") > 0, "the limit turned nothing away"


def test_failures_are_recorded_per_trial_and_the_trainer_goes_on(wine, tmp_path):
    _, spec_artifact, _ = wine
    good = Architecture.from_dict({"blocks": [{"name": "dense"}]})
    impossible = Architecture.from_dict({"blocks": [{"name": "conv2d"}]})  # no 2-D map in tabular data
    exploding = good.with_hyperparameters(learning_rate=10.0, optimizer="sgd", batch_size=8)
    trials = [
        Trial(f"run1-r1-{i:02d}", 1, 0, arch, seed=i, algorithm="random", run_id="run1", study="wine")
        for i, arch in enumerate([impossible, exploding, good])
    ]
    proposals = new_artifact(artifacts.Proposals, tmp_path / "proposals")
    trial_files.record_trials(proposals, trials, "proposals.json")
    proposals.set_int_custom_property("round", 1)
    proposals.set_string_custom_property("run_id", "run1")
    proposals.set_string_custom_property("study", "wine")
    results = trial_files.trials_of([train(wine, proposals, 0, tmp_path / "trials", epochs=3)])
    statuses = {t.trial_id: (t.status, t.error) for t in results}
    assert statuses["run1-r1-00"][0] == "failed" and "conv2d" in statuses["run1-r1-00"][1]
    assert statuses["run1-r1-01"][0] == "failed" and "loss became" in statuses["run1-r1-01"][1]
    assert statuses["run1-r1-02"] == ("completed", None)
    # The watchdog kills the process 5 s after the limit whatever the trial is doing (here: pytest's), so
    # the limit leaves room for a slow model build on a loaded machine; 400 epochs take well over 3 s.
    slow = trial_files.trials_of([train(wine, proposals, 0, tmp_path / "slow", epochs=400, time_limit=3.0)])
    assert "time limit of 3 s" in {t.trial_id: t.error for t in slow}["run1-r1-02"]


def test_trainer_reuses_finished_trials_after_a_crash(wine, round_one, tmp_path):
    proposals, results = round_one
    cache = os.path.dirname(results[0].uri) + "/cache"
    again = train(wine, proposals, 0, tmp_path / "again", cache=cache)
    before = {t.trial_id: t.started_at for t in trial_files.trials_of([results[0]])}
    after = {t.trial_id: t.started_at for t in trial_files.trials_of([again])}
    assert before == after, "a finished trial must not be trained twice"


def post_search(wine, round_one, root, started_at=None, time_budget=None, distill_epochs=2, weights_method="auto",
                augment="mixup"):
    """Ensembler, Distiller and SearchEvaluator on round one's trials, as the pipeline chains them."""
    examples, spec_artifact, spec = wine
    _, results = round_one
    trials_inputs = {f"trials_{i}": [r] for i, r in enumerate(results)}
    base = {"examples": [examples], "dataset_spec": [spec_artifact],
            "study_history": [budgeted_history(root / "history", "run1", started_at=started_at)]}
    ensemble = new_artifact(standard_artifacts.Model, root / "ensemble")
    ensembler_executor.Executor().Do({**base, **trials_inputs}, {"model": [ensemble]},
                                     {"max_members": 3, "pool_size": 4, "weights_method": weights_method,
                                      "code_version": "test", "time_budget_seconds": time_budget})
    student = new_artifact(standard_artifacts.Model, root / "student")
    distiller_executor.Executor().Do(
        {**base, **trials_inputs, "teacher": [ensemble]}, {"model": [student]},
        {"max_params": 0, "epochs": distill_epochs, "temperature": 2.0, "alpha": 0.5, "augment": augment, "seed": 0,
         "code_version": "test", "time_budget_seconds": time_budget})
    board = new_artifact(artifacts.Leaderboard, root / "board")
    chosen = new_artifact(standard_artifacts.Model, root / "chosen")
    evaluator_executor.Executor().Do(
        {**base, **trials_inputs, "ensemble": [ensemble], "distilled": [student]},
        {"leaderboard": [board], "chosen_model": [chosen]},
        {"study": "wine", "code_version": "test", "select": "best", "constraints": ""})
    leaderboard = json.loads(open(os.path.join(board.uri, "leaderboard.json")).read())
    return {"ensemble": ensemble, "student": student, "chosen": chosen, "leaderboard": leaderboard,
            "trials": trial_files.trials_of(results), "base": base, "trials_inputs": trials_inputs}


@pytest.fixture(scope="module")
def evaluated(wine, round_one, tmp_path_factory):
    """Ensembler, Distiller and SearchEvaluator run once on round one's trials."""
    return post_search(wine, round_one, tmp_path_factory.mktemp("evaluated"))


def test_ensemble_distil_and_evaluate(evaluated):
    ensemble, student, chosen, leaderboard = (evaluated[k] for k in ("ensemble", "student", "chosen", "leaderboard"))
    members = json.loads(ensemble.get_string_custom_property("members"))
    assert 1 <= len(members) <= 3
    described = json.loads(open(os.path.join(ensemble.uri, "ensemble.json")).read())
    assert described["method"] in ("bagged", "average", "learned") and described["members"] == members
    assert sum(described["weights"]) == pytest.approx(1.0)
    assert student.get_int_custom_property("num_params") > 0
    distilled = json.loads(open(os.path.join(student.uri, "student.json")).read())
    assert distilled["augment"] == "mixup" and len(distilled["history"]["val_accuracy"]) == 2

    names = [c["name"] for c in leaderboard["candidates"]]
    assert names == ["best_single", "ensemble", "distilled"]
    assert leaderboard["select"] == "best" and leaderboard["chosen_on"] == "estimate"
    by_name = {c["name"]: c for c in leaderboard["candidates"]}
    chosen_estimate = by_name[leaderboard["chosen"]]["estimate"]["accuracy"]
    # Chosen on the eval estimates, never on test.
    assert chosen_estimate == max(c["estimate"]["accuracy"] for c in leaderboard["candidates"])
    # The ensemble and the best single model are chosen on eval: estimated out of fold, as the Ensembler
    # cross-fitted them; the student, trained on train, on eval as it is.
    for name in ("ensemble", "best_single"):
        how = by_name[name]["estimated_by"]
        assert how["folds"] == 5 and len(how["per_fold"]) == 5 and how["how"].startswith("eval, out-of-fold over 5")
        assert by_name[name]["estimate"] == described["estimates"][name]["metrics"]
    assert described["estimates"]["best_single"]["trial_id"] == by_name["best_single"]["trial_ids"][0]
    assert by_name["distilled"]["estimate"] == by_name["distilled"]["eval"]
    assert by_name["distilled"]["estimated_by"]["how"].startswith("eval: the student is trained on train")
    # The exported ensemble scores on eval what its weighted average scored when it was chosen.
    assert by_name["ensemble"]["eval"]["accuracy"] == pytest.approx(described["eval"]["accuracy"])
    assert by_name["ensemble"]["eval"]["loss"] == pytest.approx(described["eval"]["loss"], rel=1e-3)
    for candidate in leaderboard["candidates"]:
        assert candidate["latency_ms"] > 0 and candidate["latency_ms_batch_256"] > 0
        matrix = candidate["test_details"]["confusion_matrix"]
        assert len(matrix) == 3 and sum(map(sum, matrix)) == sum(
            row["support"] for row in candidate["test_details"]["per_class"])
        assert {"accuracy", "loss"} <= set(candidate["test"])
    # The default student budget is half the best single model.
    assert by_name["distilled"]["num_params"] <= by_name["best_single"]["num_params"] // 2
    assert leaderboard["distillation"]["student_params"] == by_name["distilled"]["num_params"]
    assert chosen.get_string_custom_property("label_key") == "label"
    assert chosen.get_string_custom_property("task") == "classification"
    assert tf.saved_model.contains_saved_model(model_export.serving_dir(chosen.uri))


def test_student_is_the_best_usable_trial_within_budget_or_the_best_architecture_shrunk(wine, round_one):
    _, _, spec = wine
    trials = trial_files.trials_of(round_one[1])
    best = max(trials, key=lambda t: (t.score("classification"), -t.num_params))
    roomy = distiller_executor.choose_student(trials, spec, max_params=10**9)
    assert roomy.source == "search" and roomy.trial.score("classification") == best.score("classification")
    tight = distiller_executor.choose_student(trials, spec, max_params=min(t.num_params for t in trials) - 1)
    assert tight.source == "shrunk" and tight.trial is None
    assert tight.num_params <= tight.budget
    # A trial cut short by early stopping is no student, however it scored.
    cut_short = [dataclasses.replace(t, stopped_early=t.trial_id == best.trial_id) for t in trials]
    second = distiller_executor.choose_student(cut_short, spec, max_params=10**9)
    assert second.trial is None or second.trial.trial_id != best.trial_id
    all_cut = [dataclasses.replace(t, stopped_early=True) for t in trials]
    shrunk = distiller_executor.choose_student(all_cut, spec, max_params=10**9)
    assert shrunk.source == "shrunk" and "stopped early" in shrunk.reason
    given = distiller_executor.choose_student(trials, spec, 0, given=trials[-1].trial_id)
    assert given.trial.trial_id == trials[-1].trial_id
    from search_algo.errors import UserError
    with pytest.raises(UserError, match="student"):
        distiller_executor.choose_student(trials, spec, 0, given="no-such-trial")


def test_tfx_evaluator_blesses_only_a_model_at_least_as_good_as_the_baseline(wine, evaluated, tmp_path):
    """TFMA through TFX's Evaluator executor: the chosen model is blessed
    against itself (equal) and without a baseline, and not against a better one."""
    from components.validator import component as validator_component
    from components.validator import executor as validator_executor

    examples, _, spec = wine
    chosen = evaluated["chosen"]
    worst = min(evaluated["trials"], key=lambda t: t.score("classification"))
    assert worst.score("classification") < evaluated["leaderboard"]["candidates"][0]["eval"]["accuracy"]
    weak = new_artifact(standard_artifacts.Model, tmp_path / "weak")
    trial_model.export_trial(worst.path, spec, weak.uri)
    for key in ("label_key", "task"):
        weak.set_string_custom_property(key, chosen.get_string_custom_property(key))

    properties = dict(validator_component.ModelValidator(examples=channel_of(standard_artifacts.Examples),
                                                         model=channel_of(standard_artifacts.Model)).exec_properties)

    def validate(model, baseline, name):
        evaluation = new_artifact(standard_artifacts.ModelEvaluation, tmp_path / name / "evaluation")
        blessing = new_artifact(standard_artifacts.ModelBlessing, tmp_path / name / "blessing")
        inputs = {"examples": [examples], "model": [model]}
        if baseline is not None:
            inputs["baseline_model"] = [baseline]
        validator_executor.Executor().Do(inputs, {"evaluation": [evaluation], "blessing": [blessing]}, properties)
        return blessing.get_int_custom_property("blessed")

    assert validate(weak, None, "first") == 1, "the first run has no baseline: blessed"
    assert validate(weak, chosen, "worse") == 0, "a model worse than the blessed baseline is not blessed"
    assert validate(chosen, weak, "better") == 1


def channel_of(artifact_type):
    from tfx.types import Channel
    return Channel(type=artifact_type)


def test_children_learn_from_the_best_trial_and_record_their_curves(wine, round_one, tmp_path):
    _, results = round_one
    best = max(trial_files.trials_of(results), key=lambda t: t.metrics["accuracy"])
    assert all(t.teacher is None for t in trial_files.trials_of([propose(wine, tmp_path / "off", history=results,
                                                                          round_index=2)]))
    proposals = propose(wine, tmp_path, history=results, round_index=2, teacher=True)
    proposed = trial_files.trials_of([proposals])
    assert {t.teacher for t in proposed} == {best.trial_id}
    assert proposals.get_string_custom_property("teacher") == best.trial_id
    trained = trial_files.trials_of([train(wine, proposals, 0, tmp_path / "t0", epochs=3, history=results)])
    for trial in trained:
        assert trial.status == "completed", trial.error
        assert trial.teacher == best.trial_id and set(trial.metrics) == {"accuracy", "loss", "log_loss", "macro_f1"}
        assert len(trial.curve) == trial.epochs and (trial.epochs == 3 or trial.stopped_early)
        assert trial.curve[-1] == pytest.approx(trial.metrics["accuracy"])
        # Scored on the labels alone, like every trial: the loss is the cross-entropy.
        assert 0 < trial.metrics["loss"] < 5


def _one_proposal(tmp_path, name):
    arch = Architecture.from_dict({"blocks": [{"name": "dense", "args": {"units": 16}}]})
    trial = Trial("run2-r1-00", 1, 0, arch, seed=0, algorithm="random", run_id="run2", study="wine")
    proposals = new_artifact(artifacts.Proposals, tmp_path / name)
    trial_files.record_trials(proposals, [trial], "proposals.json")
    proposals.set_int_custom_property("round", 1)
    proposals.set_string_custom_property("run_id", "run2")
    proposals.set_string_custom_property("study", "wine")
    return proposals


def perfect_history(count=4, epochs=6):
    """Earlier runs' completed trials whose eval score was perfect from the first epoch."""
    arch = Architecture.from_dict({"blocks": [{"name": "dense"}]})
    return [Trial(f"run1-r1-{i:02d}", 1, 0, arch, seed=0, algorithm="random", run_id="run1", study="wine",
                  status="completed", metrics={"accuracy": 1.0}, curve=[1.0] * epochs) for i in range(count)]


def test_a_trial_far_below_the_studys_median_stops_after_the_warmup(wine, tmp_path):
    # The reference is the history's curves (as a pruner reads the study), not a side file.
    stopped = trial_files.trials_of([train(wine, _one_proposal(tmp_path, "p"), 0, tmp_path / "stopped", epochs=6,
                                           earlier=perfect_history())])[0]
    assert stopped.status == "completed" and stopped.stopped_early
    assert stopped.epochs == len(stopped.curve) == 2, "stopped at the end of the warm-up (a third of 6 epochs)"
    full = trial_files.trials_of([train(wine, _one_proposal(tmp_path, "q"), 0, tmp_path / "full", epochs=6,
                                        earlier=perfect_history(), early_stopping="none")])[0]
    assert not full.stopped_early and full.epochs == 6


def summary_tags(directory):
    tags = set()
    for path in tf.io.gfile.glob(os.path.join(directory, "**", "events.out.tfevents.*")) + tf.io.gfile.glob(
            os.path.join(directory, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_each_trial_logs_curves_and_hparams_for_tensorboard(wine, round_one, tmp_path):
    proposals, _ = round_one
    trained = trial_files.trials_of([train(wine, proposals, 1, tmp_path / "t", tensorboard=str(tmp_path / "tb"))])
    assert sorted(os.listdir(tmp_path / "tb")) == sorted(t.trial_id for t in trained)
    for trial in trained:
        tags = summary_tags(str(tmp_path / "tb" / trial.trial_id))
        assert {"_hparams_/session_start_info", "trial/eval_accuracy", "trial/num_params"} <= tags
        assert "epoch_accuracy" in summary_tags(str(tmp_path / "tb" / trial.trial_id / "validation"))


def test_a_run_none_of_whose_trials_completed_is_not_ensembled_from_earlier_runs(wine, round_one, tmp_path):
    examples, spec_artifact, _ = wine
    _, results = round_one
    earlier = trial_files.trials_of(results)
    failed = [dataclasses.replace(t, trial_id=f"run2-r1-{i:02d}", run_id="run2", status="failed", path=None,
                                  error="ResourceExhaustedError: out of memory") for i, t in enumerate(earlier)]
    this_run = new_artifact(artifacts.TrialResults, tmp_path / "failed")
    trial_files.record_trials(this_run, failed, "trials.json")
    inputs = {"examples": [examples], "dataset_spec": [spec_artifact], "trials_0": [this_run],
              "study_history": [history_artifact(tmp_path / "history", "run2", earlier)]}
    ensemble = new_artifact(standard_artifacts.Model, tmp_path / "ensemble")
    from search_algo.errors import RunFailing

    with pytest.raises(RunFailing, match=r"all 4 trials of run run2 failed.*out of memory"):
        ensembler_executor.Executor().Do(inputs, {"model": [ensemble]},
                                         {"max_members": 3, "pool_size": 4, "weights_method": "auto",
                                          "code_version": "test"})


def test_the_search_evaluator_records_the_run_and_names_the_model_in_production(wine, evaluated, tmp_path):
    from components.study_record import StudyRecord

    record = StudyRecord(str(tmp_path / "record"))
    production = evaluated["trials"][0].path
    record.add_validation({"run_id": "run0", "candidate": "ensemble", "model_uri": production, "blessed": True,
                           "pushed": True, "pushed_to": "/srv/1", "eval": {"accuracy": 0.5}}, writer="w")
    board = new_artifact(artifacts.Leaderboard, tmp_path / "board")
    chosen = new_artifact(standard_artifacts.Model, tmp_path / "chosen")
    inputs = {**evaluated["base"], **evaluated["trials_inputs"], "ensemble": [evaluated["ensemble"]],
              "distilled": [evaluated["student"]]}
    evaluator_executor.Executor().Do(inputs, {"leaderboard": [board], "chosen_model": [chosen]},
                                     {"study": "wine", "code_version": "test", "select": "best",
                                      "constraints": "", "study_record": record.root})
    assert chosen.get_string_custom_property("baseline_model_uri") == production
    recorded = record.leaderboard("run1")
    assert recorded["production"]["run_id"] == "run0" and recorded["chosen"] == evaluated["leaderboard"]["chosen"]
    assert record.dataset_spec().name == wine[2].name


def test_the_validator_takes_the_model_in_production_as_its_baseline(evaluated, tmp_path):
    from tfx.types import standard_component_specs as std

    from components.validator.executor import with_baseline

    chosen = evaluated["chosen"]
    assert with_baseline({"model": [chosen]}, chosen) == {"model": [chosen]}, "the first run has no baseline"
    production = evaluated["ensemble"]
    model = new_artifact(standard_artifacts.Model, tmp_path / "candidate")
    model.set_string_custom_property("baseline_model_uri", production.uri)
    inputs = with_baseline({"model": [model]}, model)
    assert [b.uri for b in inputs[std.BASELINE_MODEL_KEY]] == [production.uri]
    model.set_string_custom_property("baseline_model_uri", str(tmp_path / "deleted"))
    with pytest.raises(RuntimeError, match="model in production is gone"):
        with_baseline({"model": [model]}, model)


@pytest.mark.parametrize("blessed", [True, False])
def test_the_pusher_pushes_only_a_blessed_model_and_records_the_outcome(evaluated, tmp_path, blessed):
    from components.pusher.component import StudyPusher
    from components.pusher import executor as pusher_executor
    from components.study_record import StudyRecord

    chosen = evaluated["chosen"]
    chosen.set_string_custom_property("run_id", "run1")
    blessing = new_artifact(standard_artifacts.ModelBlessing, tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", int(blessed))
    pushed = new_artifact(standard_artifacts.PushedModel, tmp_path / "pushed")
    record = StudyRecord(str(tmp_path / "record"))
    pusher = StudyPusher(model=channel_of(standard_artifacts.Model),
                         model_blessing=channel_of(standard_artifacts.ModelBlessing),
                         serving_dir=str(tmp_path / "serving"), study_record=record.root)
    pusher_executor.Executor().Do({"model": [chosen], "model_blessing": [blessing]}, {"pushed_model": [pushed]},
                                  dict(pusher.exec_properties))
    (validation,) = record.validations()
    assert validation["run_id"] == "run1" and validation["blessed"] is blessed and validation["pushed"] is blessed
    assert validation["model_uri"] == chosen.uri and validation["candidate"] == chosen.get_string_custom_property(
        "candidate")
    assert validation["eval"]["accuracy"] == pytest.approx(chosen.get_float_custom_property("eval_accuracy"))
    versions = os.listdir(tmp_path / "serving") if (tmp_path / "serving").exists() else []
    assert len(versions) == int(blessed)
    if blessed:
        assert validation["pushed_to"] == str(tmp_path / "serving" / versions[0])
        assert record.production_model()["model_uri"] == chosen.uri
    else:
        assert validation["pushed_to"] is None and record.production_model() is None


def _proposals_of(tmp_path, name, architectures):
    trials = [Trial(f"run1-r1-{i:02d}", 1, 0, arch, seed=i, algorithm="random", run_id="run1", study="wine")
              for i, arch in enumerate(architectures)]
    proposals = new_artifact(artifacts.Proposals, tmp_path / name)
    trial_files.record_trials(proposals, trials, "proposals.json")
    proposals.set_int_custom_property("round", 1)
    proposals.set_string_custom_property("run_id", "run1")
    proposals.set_string_custom_property("study", "wine")
    return proposals


def test_a_trainer_stops_its_share_after_too_many_failures_in_a_row_and_the_run_stops_with_the_reasons(
        wine, tmp_path):
    from components.executor_inputs import stop_if_a_trainer_stopped
    from search_algo.errors import RunFailing

    examples, spec_artifact, _ = wine
    impossible = Architecture.from_dict({"blocks": [{"name": "conv2d"}]})  # no 2-D map in tabular data
    good = Architecture.from_dict({"blocks": [{"name": "dense"}]})
    proposals = _proposals_of(tmp_path, "p", [impossible, impossible, good])
    trials = new_artifact(artifacts.TrialResults, tmp_path / "trials")
    trainer_executor.Executor().Do(
        {"examples": [examples], "dataset_spec": [spec_artifact], "proposals": [proposals],
         "study_history": [history_artifact(tmp_path / "history", "run1")]}, {"trials": [trials]},
        {"trainer_index": 0, "epochs": 1, "code_version": "test", "max_retries": 2, "max_consecutive_failures": 2,
         "early_stopping": "median"})
    results = trial_files.trials_of([trials])
    assert [t.status for t in results] == ["failed", "failed", "failed"]
    assert results[2].error.startswith("not trained: the last 2 trials of run run1 failed")
    assert "conv2d" in results[2].error, "the message carries the reasons"
    with pytest.raises(RunFailing, match="stopped: the last 2 trials"):
        stop_if_a_trainer_stopped({"trials_0": [trials]}, "trials")


def test_a_trial_whose_files_cannot_be_written_is_failed_and_leaves_nothing_behind(wine, tmp_path, monkeypatch):
    import keras

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save_weights", disk_full)
    examples, spec_artifact, spec = wine
    proposals = _proposals_of(tmp_path, "p", [Architecture.from_dict({"blocks": [{"name": "dense"}]})])
    cache = tmp_path / "cache"
    (result,) = trial_files.trials_of([train(wine, proposals, 0, tmp_path / "t", epochs=1, cache=str(cache))])
    assert result.status == "failed" and "could not save the trained model" in result.error
    assert "No space left on device" in result.error
    assert not (tmp_path / "t" / result.trial_id).exists(), "no partial trial folder looks finished"
    (entry,) = cache.iterdir()
    assert json.loads((entry / "result.json").read_text())["status"] == "failed"
    assert not (entry / "files").exists()


def test_a_damaged_trial_cache_entry_is_trained_again_not_trusted(wine, round_one, tmp_path):
    proposals, results = round_one
    cache = tmp_path / "cache"
    first = trial_files.trials_of([train(wine, proposals, 0, tmp_path / "first", cache=str(cache))])
    entries = sorted(cache.iterdir(), key=lambda e: json.loads((e / "result.json").read_text())["trial_id"])
    (entries[0] / "result.json").write_text("{not json")  # a half-written record
    (entries[1] / "files" / "model.weights.h5").unlink()  # a completed trial without its weights
    again = trial_files.trials_of([train(wine, proposals, 0, tmp_path / "again", cache=str(cache))])
    assert [t.status for t in again] == ["completed", "completed"]
    assert all(a.started_at != f.started_at for a, f in zip(again, first)), "both were trained again"
    for trial in again:
        assert os.path.exists(os.path.join(trial.path, "model.weights.h5"))


@pytest.mark.parametrize("algorithm", ALGORITHM_NAMES)
def test_every_algorithm_proposes_new_distinct_candidates_from_real_history(wine, round_one, tmp_path, algorithm):
    """The Proposer with each algorithm, on round one's real trained trials (the
    pipeline around it is the same for all; tests/e2e runs a portfolio through it)."""
    _, results = round_one
    first = trial_files.trials_of([propose(wine, tmp_path / "r1", algorithm=algorithm)])
    second = trial_files.trials_of([propose(wine, tmp_path / "r2", history=results, round_index=2,
                                            algorithm=algorithm)])
    seen = {json.dumps(t.architecture.to_dict(), sort_keys=True) for t in trial_files.trials_of(results)}
    for proposals in (first, second):
        assert len(proposals) == 4
        specs = {json.dumps(t.architecture.to_dict(), sort_keys=True) for t in proposals}
        assert len(specs) == 4, "no candidate twice in a round"
        labels = {t.algorithm for t in proposals}
        assert labels <= set(ALGORITHM_NAMES) - {"portfolio"} if algorithm == "portfolio" else labels == {algorithm}
    assert not seen & {json.dumps(t.architecture.to_dict(), sort_keys=True) for t in second}, \
        "round two does not propose what round one trained"
    round_one_ids = {t.trial_id for t in trial_files.trials_of(results)}
    assert all(t.parent is None or t.parent in round_one_ids for t in second)


def test_a_candidate_without_an_out_of_fold_estimate_is_estimated_on_eval_and_says_so():
    metrics = {"accuracy": 0.9, "loss": 0.3}
    oof = {"metrics": {"accuracy": 0.88, "loss": 0.35}, "how": "eval, out-of-fold over 5 folds: ...", "examples": 40,
           "folds": 5, "per_fold": [], "trial_id": "run1-r1-00"}
    best = {"name": "best_single", "trial_ids": ["run1-r1-00"], "eval": metrics}
    evaluator_executor.add_estimate(best, {"best_single": oof}, 12, 40)
    assert best["estimate"] == oof["metrics"] and best["estimated_by"]["folds"] == 5
    # An estimate of another trial (or none, e.g. an ensemble the run did not make) is not this model's.
    other = {"name": "best_single", "trial_ids": ["run1-r2-00"], "eval": metrics}
    evaluator_executor.add_estimate(other, {"best_single": oof}, 12, 40)
    assert other["estimate"] == metrics
    assert other["estimated_by"]["how"] == "eval, in-sample: the best of 12 trials on these same examples (optimistic)"
    ensemble = {"name": "ensemble", "trial_ids": ["run1-r1-00"], "eval": metrics}
    evaluator_executor.add_estimate(ensemble, {}, 12, 40)
    assert "optimistic" in ensemble["estimated_by"]["how"] and ensemble["estimated_by"]["examples"] == 40
    student = {"name": "distilled", "trial_ids": [], "student_source": "search", "eval": metrics}
    evaluator_executor.add_estimate(student, {}, 12, 40)
    assert student["estimate"] == metrics and "ranked on eval" in student["estimated_by"]["how"]


# --- The run's time budget (search_algo/time_budget.py) ---------------------------------------------------------


def share_of(proposals, trainer):
    """The proposals dealt to `trainer`, in the order it trains them."""
    return [t for t in trial_files.trials_of([proposals]) if t.trainer == trainer]


def _started(budget_seconds, search_seconds_left):
    """When a run with this budget started if `search_seconds_left` of its search time remain now."""
    return time.time() - (TimeBudget(budget_seconds, 0.0).search_deadline - search_seconds_left)


def _post_search_started(budget_seconds, post_search_seconds_left):
    """When a run with this budget started if `post_search_seconds_left` remain before its evaluation's share."""
    return time.time() - (TimeBudget(budget_seconds, 0.0).post_search_deadline - post_search_seconds_left)


def test_a_round_past_the_search_time_proposes_nothing_and_its_trainers_pass_through(wine, round_one, tmp_path):
    _, results = round_one
    proposals = propose(wine, tmp_path, history=results, round_index=2, time_budget=300.0,
                        started_at=_started(300.0, -5))
    assert trial_files.trials_of([proposals]) == []
    assert proposals.get_int_custom_property("budget_spent") == 1 and proposals.get_int_custom_property("count") == 0
    started = time.monotonic()
    passed = train(wine, proposals, 0, tmp_path / "trials", history=results, time_budget=300.0,
                   started_at=_started(300.0, -5))
    assert trial_files.trials_of([passed]) == [] and time.monotonic() - started < 5
    assert passed.get_int_custom_property("completed") == 0 and passed.get_int_custom_property("failed") == 0
    # The search stays ended: a later round with search time left again (its
    # deadline is later by the pass-through allowance of the rounds between)
    # proposes nothing, and says why.
    later = propose(wine, tmp_path / "later", history=[*results, passed], round_index=3, time_budget=3600.0,
                    started_at=_started(3600.0, 3000))
    assert trial_files.trials_of([later]) == [] and later.get_int_custom_property("budget_spent") == 1
    # With time left the same round proposes as without a budget.
    with_time = propose(wine, tmp_path / "with_time", history=results, round_index=2, time_budget=3600.0,
                        started_at=_started(3600.0, 3000))
    without = propose(wine, tmp_path / "without", history=results, round_index=2)
    assert [t.to_dict() for t in trial_files.trials_of([with_time])] == [
        t.to_dict() for t in trial_files.trials_of([without])]


def test_a_trainer_starts_no_trial_past_the_search_time_and_records_it_skipped_not_failed(wine, round_one, tmp_path):
    from components.study_record import StudyRecord

    proposals, _ = round_one
    record = str(tmp_path / "record")
    skipped = train(wine, proposals, 1, tmp_path / "trials", time_budget=300.0, started_at=_started(300.0, -1),
                    study_record=record)
    trials = trial_files.trials_of([skipped])
    share = share_of(proposals, 1)
    assert share and [t.trial_id for t in trials] == [t.trial_id for t in share]
    assert all(t.status == "failed" and t.error == BUDGET_SPENT_ERROR and t.path is None for t in trials)
    assert (skipped.get_int_custom_property("skipped"), skipped.get_int_custom_property("failed")) == (len(share), 0)
    # Not started, so nothing for later runs to learn from.
    assert StudyRecord(record).trials() == []


def test_a_trial_killed_at_the_end_of_the_search_time_is_recorded_failed_not_skipped(wine, round_one, tmp_path,
                                                                                    monkeypatch):
    from components.trainer.trial_cache import TrialCache, stop_reason

    proposals, _ = round_one
    # A trainer with two trials or more: its first is the one its worker was killed in.
    trainer = max(range(2), key=lambda i: len(share_of(proposals, i)))
    killed, *rest = share_of(proposals, trainer)
    assert rest
    cache = TrialCache(str(tmp_path / "cache"))
    stop_reason(cache.begin_attempt("killed", killed, 5.0), "exceeded the per-trial time limit of 5 s", final=True)
    # The trainer runs again past the search time.
    monkeypatch.setattr(trainer_executor, "trial_cache_key",
                        lambda trial, *rest: "killed" if trial.trial_id == killed.trial_id else trial.trial_id)
    again = trial_files.trials_of([train(wine, proposals, trainer, tmp_path / "again", cache=str(tmp_path / "cache"),
                                         time_budget=300.0, started_at=_started(300.0, -1))])
    assert again[0].trial_id == killed.trial_id and "time limit of 5 s" in again[0].error
    assert again[1].error == BUDGET_SPENT_ERROR


def test_a_run_whose_budget_trained_nothing_says_so(round_one):
    proposals, _ = round_one
    skipped = [dataclasses.replace(t, status="failed", error=BUDGET_SPENT_ERROR)
               for t in trial_files.trials_of([proposals])]
    budget = TimeBudget(60.0, 1.0)
    assert "before its first round" in ensembler_executor.no_completed_trial_message([], budget)
    assert "no time to train a single trial" in ensembler_executor.no_completed_trial_message(skipped, budget)
    assert ensembler_executor.no_completed_trial_message([]).startswith("this run trained no trial")


def test_a_trials_time_limit_is_capped_at_the_search_time_left(wine, round_one, tmp_path, monkeypatch):
    # The limit each trial is trained with, seen where the trainer hands it over (a real trial past its
    # limit is stopped by the watchdog, tested above; here it would race a loaded machine).
    limits = []

    deadlines = []

    def attempt(proposal, cache, key, max_retries, time_limit, *rest, **keywords):
        limits.append(time_limit)
        deadlines.append(keywords.get("search_deadline"))
        return dataclasses.replace(proposal, status="failed", error="not trained in this test")

    monkeypatch.setattr(trainer_executor.Executor, "_attempt", staticmethod(attempt))
    proposals, _ = round_one
    train(wine, proposals, 0, tmp_path / "capped", time_budget=3600.0, started_at=_started(3600.0, 100.0))
    train(wine, proposals, 0, tmp_path / "own_limit", time_limit=30.0, time_budget=3600.0,
          started_at=_started(3600.0, 100.0))
    assert len(limits) == 4 and all(90 < limit <= 100 for limit in limits[:2]) and limits[2:] == [30.0, 30.0]
    # Each trial is also told when the search ends, to fit its epochs to it (training.py's _FitToDeadline).
    assert len(deadlines) == 4 and all(0 < deadline - time.time() <= 100 for deadline in deadlines)


def test_without_time_for_the_ensemble_or_student_the_best_single_model_is_chosen_and_pushable(
        wine, round_one, tmp_path):
    made = post_search(wine, round_one, tmp_path, _post_search_started(600.0, 1.0), time_budget=600.0)
    ensemble, student, chosen, leaderboard = (made[k] for k in ("ensemble", "student", "chosen", "leaderboard"))
    assert ensemble.get_string_custom_property("skipped_reason").startswith("the time budget")
    assert student.get_string_custom_property("skipped_reason") == "no ensemble was made to learn from"
    assert not os.path.isdir(ensemble.uri) or not os.listdir(ensemble.uri)
    assert [c["name"] for c in leaderboard["candidates"]] == ["best_single"]
    assert set(leaderboard["skipped"]) == {"ensemble", "distilled"} and leaderboard["distillation"] is None
    assert leaderboard["chosen"] == "best_single"
    assert tf.saved_model.contains_saved_model(model_export.serving_dir(chosen.uri))


@pytest.mark.slow
def test_the_students_epochs_fit_the_time_left_and_stop_early_on_eval(wine, evaluated, tmp_path):
    started_at = _post_search_started(600.0, 20.0)
    deadline = TimeBudget(600.0, started_at).post_search_deadline
    base = {**evaluated["base"], "study_history": [budgeted_history(tmp_path / "history", started_at=started_at)]}
    student = new_artifact(standard_artifacts.Model, tmp_path / "student")
    distiller_executor.Executor().Do(
        {**base, **evaluated["trials_inputs"], "teacher": [evaluated["ensemble"]]}, {"model": [student]},
        {"max_params": 0, "epochs": 10_000, "temperature": 2.0, "alpha": 0.5, "augment": "none", "seed": 0,
         "code_version": "test", "time_budget_seconds": 600.0})
    # Ended by the deadline, give or take an epoch of this tiny data set and the export.
    assert time.time() < deadline + 10
    described = json.loads(open(os.path.join(student.uri, "student.json")).read())
    assert described["stopped"].startswith(("time", "early stopping"))
    assert 1 <= len(described["history"]["val_loss"]) < 10_000
    assert not student.has_custom_property("skipped_reason")
