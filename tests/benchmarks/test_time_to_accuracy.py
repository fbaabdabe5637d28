"""benchmarks/time_to_accuracy.py's pure parts: reading a peer's run at T, ours' time to a threshold,
medians with missing picks, merging sittings, the plan and the report - on synthetic measurements,
without TensorFlow or a run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks import time_to_accuracy as tta


def trial(elapsed: float, eval_accuracy: float, test_accuracy: float) -> dict:
    return {"status": "completed", "elapsed_seconds": elapsed, "eval_accuracy": eval_accuracy,
            "test_accuracy": test_accuracy, "cost_trials": 1.0}


def peer(seed: int, records: list[dict], startup: float = 10.0, budget: int = 900, method="optuna_tpe_hyperband",
         task="mnist1d") -> dict:
    return {"task": task, "method": method, "seed": seed, "budget_seconds": budget, "startup_seconds": startup,
            "records": records, "read_at": [300, 900], "machine": "m", "commit": "c", "threads": 2,
            "wall_seconds": budget + 5, "date": "d"}


def ours(seed: int, budget: int, accuracy, wall: float, task="mnist1d") -> dict:
    return {"task": task, "method": "ours", "seed": seed, "budget_seconds": budget, "test_accuracy": accuracy,
            "wall_seconds": wall, "machine": "m", "commit": "c", "threads": "local runner", "date": "d",
            "time_spent": {"wall_seconds": wall, "training": wall * 0.8, "evaluation": 5, "post_search": 20,
                           "ingest": 3, "orchestration": 4},
            "time_budget": {"kept": True, "rounds_searched": 4, "max_rounds": 30},
            "trials_summary": {"completed": 10, "failed": 0, "skipped": 2}, "chosen": "best_single"}


RECORDS = [trial(100, 0.95, 0.950), trial(250, 0.99, 0.986), trial(280, 0.98, 0.999), trial(700, 0.995, 0.991)]


def test_a_peer_is_read_at_t_from_its_process_start_and_picks_on_eval_not_test():
    run = peer(0, RECORDS, startup=10.0)
    assert tta.peer_accuracy_at(run, 100) is None  # its first trial ends at 110 s from the process's start
    assert tta.peer_accuracy_at(run, 110) == 0.950
    # At 300 s the trial that is best on test (0.999) is not the pick: the one best on eval is.
    assert tta.peer_accuracy_at(run, 300) == 0.986
    assert tta.peer_accuracy_at(run, 900) == 0.991
    assert tta.peer_accuracy_at(peer(0, RECORDS, budget=300), 900) is None  # never given that long


def test_time_to_a_threshold_of_a_peer_counts_its_start_up_and_of_ours_is_the_shortest_budget_reaching_it():
    run = peer(0, RECORDS, startup=10.0)
    assert tta.peer_seconds_to(run, 0.985) == 260
    assert tta.peer_seconds_to(run, 0.99) == 710
    assert tta.peer_seconds_to(run, 0.999) is None
    runs = [ours(0, 900, 0.992, 905.0), ours(0, 300, 0.986, 310.0)]
    assert tta.ours_seconds_to(runs, 0.985) == 310.0
    assert tta.ours_seconds_to(runs, 0.99) == 905.0
    assert tta.ours_seconds_to(runs, 0.995) is None


def test_medians_count_a_missing_pick_as_the_lowest_and_a_missing_time_as_never():
    assert tta.median_of([0.9, None, 0.8], float("-inf")) == 0.8
    assert tta.median_of([None, None, 0.8], float("-inf")) is None
    assert tta.median_of([100, None, None], float("inf")) is None
    assert tta.median_of([100, 200, None], float("inf")) == 200
    assert tta.median_of([], float("inf")) is None


def test_a_measurement_taken_again_replaces_the_earlier_one_of_its_task_method_seed_and_budget():
    first, other_budget, again = ours(0, 300, 0.98, 300), ours(0, 900, 0.99, 900), ours(0, 300, 0.97, 301)
    assert tta.merged([first, other_budget], [again]) == [again, other_budget]


def test_merging_files_of_two_sittings(tmp_path):
    out = tmp_path / "tta"
    tta.save(out, tta.report_of([ours(0, 300, 0.98, 300)], [{"command": "a", "date": "d1"}]))
    later = tmp_path / "later.json"
    later.write_text(json.dumps(tta.report_of([ours(0, 300, 0.97, 302), ours(1, 300, 0.99, 299)],
                                              [{"command": "b", "date": "d2"}])))
    report = tta.merge_files(out, [later])
    assert [(m["seed"], m["test_accuracy"]) for m in report["measurements"]] == [(0, 0.97), (1, 0.99)]
    assert [s["command"] for s in report["sittings"]] == ["a", "b"]
    assert json.loads(out.with_suffix(".json").read_text()) == report
    assert out.with_suffix(".md").read_text() == tta.markdown(report)


def test_accuracy_rows_per_task_budget_and_method():
    measurements = tta.merged([ours(0, 300, 0.986, 310), ours(1, 300, 0.98, 305), ours(0, 900, 0.992, 905),
                               peer(0, RECORDS), peer(1, RECORDS[:1])])
    rows = {(r["budget_seconds"], r["method"]): r for r in tta.accuracy_rows(measurements)}
    assert rows[300, "ours"]["per_seed"] == {0: 0.986, 1: 0.98} and rows[300, "ours"]["median"] == 0.983
    assert rows[300, "optuna_tpe_hyperband"]["per_seed"] == {0: 0.986, 1: 0.950}
    assert rows[900, "optuna_tpe_hyperband"]["per_seed"] == {0: 0.991, 1: 0.950}
    assert rows[900, "ours"]["per_seed"] == {0: 0.992}


def test_speech_baselines_report_beside_ours_with_their_own_wall_time():
    lr = {"task": "keywords", "method": "logistic_regression", "seed": 0, "budget_seconds": None,
          "result": {"test_accuracy": 0.7, "wall_seconds": 2.0}, "machine": "m", "commit": "c", "threads": 2}
    cnn = {**lr, "method": "cnn", "result": {"probe": {"test_accuracy": 0.6, "wall_seconds": 30.0},
                                            "grid": {"test_accuracy": 0.65, "wall_seconds": 180.0}}}
    measurements = tta.merged([ours(0, 600, 0.8, 590, task="keywords"), lr, cnn])
    rows = {r["method"]: r for r in tta.accuracy_rows(measurements)}
    assert rows["logistic_regression:pooled log-mel"]["per_seed"] == {0: 0.7}
    assert rows["cnn:probe settings"]["median_wall_seconds"] == 30.0
    assert rows["cnn:grid, chosen on eval"]["median"] == 0.65
    text = tta.markdown(tta.report_of(measurements, []))
    assert "2-D CNN, its grid's pick on eval | 0.650 | [0: 0.650] | 180 |" in text
    assert "Time to accuracy on mnist1d" not in text


def test_the_report_renders_with_nothing_measured_and_from_the_json_alone():
    assert "Nothing measured yet." in tta.markdown(tta.report_of([], []))
    measurements = [ours(s, t, 0.985 + 0.001 * s, t + 5) for s in range(3) for t in (300, 900)]
    measurements += [peer(s, RECORDS) for s in range(3)]
    report = json.loads(json.dumps(tta.report_of(measurements, [{"command": "x", "date": "d"}])))
    text = tta.markdown(report)
    assert "| mnist1d | 5 min | ours: `model-search run --time-budget T` | 0.986 |" in text
    assert "| Optuna TPE + HyperbandPruner | 260 | [0: 260, 1: 260, 2: 260] |" in text
    assert "| ours: `model-search run --time-budget T` | 305 | [0: 305, 1: 305, 2: 305] | – |" in text


def test_the_plan_measures_ours_first_then_the_peers_once_with_the_largest_budget_then_the_baselines():
    args = tta.build_parser().parse_args(["--tasks", "mnist1d", "keywords", "--seeds", "0"])
    args.budgets = dict(args.budgets)
    steps = [(task.name, seed, method, budget) for task, seed, method, budget in tta.plan(args)]
    assert steps == [("mnist1d", 0, "ours", 300), ("mnist1d", 0, "ours", 900),
                     ("mnist1d", 0, "optuna_tpe_hyperband", 900), ("mnist1d", 0, "kt_hyperband", 900),
                     ("keywords", 0, "ours", 600), ("keywords", 0, "optuna_tpe_hyperband", 600),
                     ("keywords", 0, "kt_hyperband", 600), ("keywords", 0, "logistic_regression", None),
                     ("keywords", 0, "cnn", None)]
    default = tta.build_parser().parse_args([])
    default.budgets = {}
    assert len(tta.plan(default)) == 5 * 4 + 3 * 3 + 2 * 3 * 5  # the tasks, budgets and seeds


def test_ours_runs_the_cli_with_the_budget_on_each_seeds_fresh_test_data():
    arguments = tta.ours_arguments(tta.TASKS["mnist1d"], 3, 300, Path("/product"), None, ["--epochs", "2"])
    assert arguments[0] == "/product/examples/mnist1d.yaml"
    assert arguments[arguments.index("--dataset") + 1] == "mnist1d?test_seed=10003&test_size=4000"
    assert arguments[-2:] == ["--time-budget", "300"]
    assert "--epochs" in arguments and arguments[arguments.index("--rounds") + 1] == "8"


def test_a_product_without_time_budget_fails_with_a_clear_message(monkeypatch):
    help_text = "usage: model-search run [--rounds ROUNDS] [--time-limit SECONDS]"
    monkeypatch.setattr(tta.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=help_text, stderr=""))
    with pytest.raises(SystemExit, match="has no --time-budget .*--product DIR"):
        tta.check_time_budget_flag(Path("/product"))


@pytest.mark.slow  # three sittings: each reads git and the machine
def test_a_sitting_again_resumes_and_redo_replaces(tmp_path, monkeypatch):
    calls = []

    def fake_ours(task, seed, budget, args, workdir, task_root):
        calls.append(("ours", seed, budget))
        data = tta.data_path(workdir, task.name, seed)
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text("")
        return {"wall_seconds": budget + 1.0, "test_accuracy": 0.99, "command": "model-search run ..."}

    def fake_peer(job, workdir):
        calls.append((job["method"], job["seed"], job["seconds"]))
        return {"startup_seconds": 5.0, "records": RECORDS, "wall_seconds": job["seconds"]}

    monkeypatch.setattr(tta, "measure_ours", fake_ours)
    monkeypatch.setattr(tta, "measure_in_subprocess", fake_peer)
    monkeypatch.setattr(tta, "check_time_budget_flag", lambda product: None)
    argv = ["--tasks", "mnist1d", "--seeds", "0", "--budget", "mnist1d=30,60", "--epochs", "2",
            "--workdir", str(tmp_path / "work"), "--out", str(tmp_path / "out")]
    assert tta.main(argv) == 0
    assert calls == [("ours", 0, 30), ("ours", 0, 60), ("optuna_tpe_hyperband", 0, 60), ("kt_hyperband", 0, 60)]
    assert tta.main(argv) == 0 and len(calls) == 4  # nothing left to measure
    assert tta.main([*argv, "--redo", "--methods", "kt_hyperband"]) == 0 and len(calls) == 5
    report = json.loads((tmp_path / "out.json").read_text())
    assert len(report["measurements"]) == 4 and len(report["sittings"]) == 3
    assert all(m["machine"] and m["commit"] and m["threads"] for m in report["measurements"])
    assert report["measurements"][2]["read_at"] == [30, 60]


def test_a_failed_run_is_no_pick_is_listed_and_is_measured_again(tmp_path, monkeypatch):
    failed = {**ours(1, 300, None, 0.0), "wall_seconds": None,
              "error": "model-search run ... exited 2:\nthis run trained no trial"}
    failed_peer = {**peer(1, []), "error": "kt_hyperband exited 1"}
    del failed_peer["records"]
    measurements = tta.merged([ours(0, 300, 0.99, 305), failed, peer(0, RECORDS), failed_peer])
    rows = {(r["budget_seconds"], r["method"]): r for r in tta.accuracy_rows(measurements)}
    assert rows[300, "ours"]["per_seed"] == {0: 0.99, 1: None} and rows[300, "ours"]["median"] is None
    assert rows[300, "optuna_tpe_hyperband"]["per_seed"] == {0: 0.986, 1: None}
    text = tta.markdown(tta.report_of(measurements, []))
    assert "**Failed** (no pick; measured again by the next sitting): mnist1d ours seed 1 T 5 min: this run " \
           "trained no trial; mnist1d optuna_tpe_hyperband seed 1 T 15 min: kt_hyperband exited 1." in text

    calls = []
    monkeypatch.setattr(tta, "measure", lambda task, seed, method, budget, args, roots: calls.append(seed) or {
        "test_accuracy": 0.98, "wall_seconds": 301.0})
    monkeypatch.setattr(tta, "check_time_budget_flag", lambda product: None)
    out = tmp_path / "out"
    tta.save(out, tta.report_of([ours(0, 300, 0.99, 305), failed], []))
    assert tta.main(["--tasks", "mnist1d", "--methods", "ours", "--seeds", "0", "1", "--budget", "mnist1d=300",
                     "--out", str(out), "--workdir", str(tmp_path)]) == 0
    assert calls == [1]
    assert not any(m.get("error") for m in json.loads(out.with_suffix(".json").read_text())["measurements"])


def test_the_targets_say_met_not_met_or_not_measured():
    candidates = [{"name": "best_single", "test_accuracy": 0.9925}, {"name": "ensemble", "test_accuracy": 0.99}]
    measurements = [{**ours(s, 300, 0.99, 300), "candidates": candidates} for s in range(5)]
    measurements += [{**ours(s, 900, 0.99, 900), "candidates": candidates[1:]} for s in range(5)]
    measurements += [peer(s, RECORDS) for s in range(5)]
    found = {t["target"]: t for t in tta.targets(tta.merged(measurements))}
    optuna = "ours at least matches Optuna TPE + HyperbandPruner"
    assert found[f"mnist1d, 5 min: {optuna}"]["met"] is True  # 0.990 against 0.986
    assert found[f"mnist1d, 15 min: {optuna}"]["met"] is False  # 0.990 against 0.991
    assert found["mnist1d, 5 min: ours beats KerasTuner Hyperband"]["met"] is None
    within = "the chosen model within 1 example per 1,000 of the best of the three candidates on fresh data"
    assert found[f"mnist1d, 5 min: {within} in at least 4 of 5 seeds"]["met"] is False  # 0.0025 below
    assert found[f"mnist1d, 15 min: {within} in at least 4 of 5 seeds"]["met"] is True
    half = found["mnist1d: ours reaches 98.5% in at most half of Optuna's time"]
    assert half["met"] is False and half["detail"].startswith("300 s vs 260 s")


def timed(trial_id: str, start: float, end: float) -> dict:
    at = "2026-12-08T00:{:02d}:{:02d}+00:00".format
    return {"trial_id": trial_id, "started_at": at(*divmod(int(start), 60)), "finished_at": at(*divmod(int(end), 60))}


def test_trainers_idle_within_rounds_is_the_time_the_faster_trainers_waited_for_the_slowest():
    # Round 1: two trainers, one busy 0-100, the other 0-40 then 40-70: 30 of 200 trainer-seconds idle.
    # Round 2: both busy 110-160: none idle. A skipped trial (no times) counts for nothing.
    trials = [timed("run1-r1-00", 0, 100), timed("run1-r1-01", 0, 40), timed("run1-r1-02", 40, 70),
              timed("run1-r2-00", 110, 160), timed("run1-r2-01", 110, 160), {"trial_id": "run1-r2-02"}]
    assert tta.idle_within_rounds(trials) == pytest.approx(30 / 300)
    assert tta.idle_within_rounds([{"trial_id": "run1-r1-00"}]) is None
    report = tta.report_of([{**ours(0, 300, 0.99, 290), "trials": trials}], [])
    assert "| 10/0/2 | 10% | best_single | c |" in tta.markdown(report)
