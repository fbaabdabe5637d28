"""The search-efficiency benchmark runs end to end on a tiny budget and
reports what it measured."""

from __future__ import annotations

import json

import pytest

from benchmarks import search_efficiency

# The bench tier (make test-bench), also e2e: not in make test, run before the benchmarks.
pytestmark = [pytest.mark.e2e, pytest.mark.bench]


def test_tiny_benchmark_writes_its_tables(tmp_path):
    out = tmp_path / "se"
    argv = ["--methods", "beam", "kt_random", "kt_hyperband", "--seeds", "3", "--budget", "5", "--epochs", "2",
            "--transfer-pairs", "1", "--teacher-distillation", "--out", str(out)]
    assert search_efficiency.main(argv) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    # Scored on seed 3's own fresh test draw (mnist1d?test_seed=10003&test_size=4000), train and eval the standard.
    assert report["complete"] and report["split_sizes"] == {"train": 3554, "eval": 446, "test": 4000}
    assert report["dataset"].startswith("mnist1d, test: 4000 fresh examples per seed")
    assert report["options"] == {"weight_sharing": True, "distillation": True, "early_stopping": "median",
                                 "budget_schedule": "none", "max_params": 0}
    for method in ("beam", "kt_random", "kt_hyperband"):
        records = report["trials"][method]["3"]
        spent = sum(r["cost_trials"] for r in records)
        assert spent == pytest.approx(5, abs=1.0), "each method spends the same budget"
        assert all(0 <= r["test_accuracy"] <= 1 for r in records if r["status"] == "completed")
        assert report["summary"][method]["seeds_run"] == [3]
    beam = report["trials"]["beam"]["3"]
    assert [r["trial_id"] for r in beam][:4] == [f"beam-s3-r1-{i:02d}" for i in range(4)]
    assert beam[4]["parent"] in {r["trial_id"] for r in beam[:4]} and beam[4]["teacher"]
    table = out.with_suffix(".md").read_text()
    assert "| beam | 1 |" in table and "kt_hyperband" in table
    for row in report["transfer"]:
        assert {"scratch", "weights"} <= set(row) and row["parent_eval_accuracy"] > 0

    # Seeds run in separate processes combine into one report.
    other = dict(report, seeds=[4], command="second",
                 trials={m: {"4": by_seed["3"]} for m, by_seed in report["trials"].items()})
    second = tmp_path / "second.json"
    second.write_text(json.dumps(other))
    combined = search_efficiency.combine([str(out.with_suffix(".json")), str(second)], str(tmp_path / "both"))
    assert combined["seeds"] == [3, 4] and combined["summary"]["beam"]["seeds_run"] == [3, 4]
    assert combined["summary"]["beam"]["best_test_at"] == report["summary"]["beam"]["best_test_at"]
    assert (tmp_path / "both.md").exists()
    assert combined["runs"] == [report["command"], "second"]
    assert report["commit"] and combined["commit"] == report["commit"], "the code measured is recorded"
    assert f"Commit {report['commit']}." in (tmp_path / "both.md").read_text()
    again = search_efficiency.combine([str(tmp_path / "both.json")], str(tmp_path / "again"), command="joined")
    assert again["runs"] == combined["runs"] and again["command"] == "joined", "a combined report keeps its runs"

    # Partial parts: the whole is complete only once every method has every seed.
    beam_only = dict(report, complete=False, trials={"beam": report["trials"]["beam"]})
    rest = dict(report, complete=False, trials={m: {"3": beam} for m in search_efficiency.METHODS if m != "beam"})
    (tmp_path / "beam_only.json").write_text(json.dumps(beam_only))
    (tmp_path / "rest.json").write_text(json.dumps(rest))
    assert not search_efficiency.combine([str(tmp_path / "beam_only.json")], str(tmp_path / "p1"))["complete"]
    parts = [str(tmp_path / "beam_only.json"), str(tmp_path / "rest.json")]
    whole = search_efficiency.combine(parts, str(tmp_path / "p2"))
    assert whole["complete"] and "Partial" not in (tmp_path / "p2.md").read_text()


def test_jobs_run_each_method_and_seed_in_its_own_one_thread_process(tmp_path):
    args = search_efficiency.build_parser().parse_args(
        ["--methods", "beam", "kt_bayes", "--seeds", "5", "6", "--budget", "7", "--epochs", "3",
         "--transfer-pairs", "2", "--teacher-distillation", "--jobs", "2"])
    jobs = search_efficiency.job_commands(args, tmp_path)
    assert [(method, seed) for method, seed, _ in jobs] == [("beam", 5), ("kt_bayes", 5), ("beam", 6), ("kt_bayes", 6)]
    for method, seed, command in jobs:
        flags = " ".join(command[2:])
        assert f"--methods {method} --seeds {seed}" in flags and "--budget 7 --epochs 3 --threads 1" in flags
        assert "--teacher-distillation" in flags and "--jobs" not in flags
        assert f"--transfer-pairs {2 if (method, seed) == ('beam', 5) else 0}" in flags, "transfer: once, first beam"

    out = tmp_path / "parallel"
    argv = ["--methods", "random", "kt_random", "--seeds", "1", "--budget", "2", "--epochs", "1",
            "--transfer-pairs", "0", "--jobs", "2", "--out", str(out)]
    assert search_efficiency.main(argv) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["complete"] and report["threads"] == 1 and "--jobs 2" in report["command"]
    assert set(report["trials"]) == {"random", "kt_random"}
    assert all(len(report["trials"][method]["1"]) >= 2 for method in ("random", "kt_random"))
    assert "| random | 1 |" in out.with_suffix(".md").read_text()


def test_keras_tuner_seed_zero_repeats_and_fits_at_the_batch_size_each_trial_drew(tmp_path, monkeypatch):
    """KerasTuner reads seed 0 as "draw a seed": the benchmark must still repeat itself."""
    import keras

    fitted_batch_sizes = []
    fit = keras.Model.fit

    def spied_fit(self, *args, **kwargs):
        fitted_batch_sizes.append(kwargs.get("batch_size"))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spied_fit)

    def architectures(name):
        out = tmp_path / name
        argv = ["--methods", "kt_bayes", "--seeds", "0", "--budget", "3", "--epochs", "1", "--transfer-pairs", "0",
                "--out", str(out)]
        assert search_efficiency.main(argv) == 0
        records = json.loads(out.with_suffix(".json").read_text())["trials"]["kt_bayes"]["0"]
        return [(r["blocks"], r["num_params"]) for r in records]

    first = architectures("first")
    drawn = [r["batch_size"] for r in json.loads((tmp_path / "first.json").read_text())["trials"]["kt_bayes"]["0"]]
    assert fitted_batch_sizes[:3] == drawn, "each trial fits at its own batch size, not Keras' default"
    assert len(first) == 3 and first == architectures("second")


def test_our_search_with_promotion_and_a_parameter_limit(tmp_path):
    """ASHA spends the budget in epoch-equivalent trials; every model is within the limit."""
    out = tmp_path / "asha"
    argv = ["--methods", "random", "--seeds", "0", "--budget", "3", "--epochs", "3", "--transfer-pairs", "0",
            "--budget-schedule", "asha", "--max-params", "20000", "--out", str(out)]
    assert search_efficiency.main(argv) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    records = report["trials"]["random"]["0"]
    assert sum(r["cost_trials"] for r in records) >= 3 and len(records) > 3
    assert any(r["transfer"] == "continue" for r in records), "nothing was promoted"
    assert all(r["num_params"] <= 20000 for r in records if r["status"] == "completed")
    assert "budget-schedule asha" in out.with_suffix(".md").read_text()


def test_optuna_tpe_hyperband_prunes_on_the_epoch_budget_and_repeats_itself(tmp_path):
    def run(name):
        out = tmp_path / name
        argv = ["--methods", "optuna_tpe_hyperband", "--seeds", "3", "--budget", "3", "--epochs", "3",
                "--transfer-pairs", "0", "--out", str(out)]
        assert search_efficiency.main(argv) == 0
        return json.loads(out.with_suffix(".json").read_text()), out.with_suffix(".md").read_text()

    report, table = run("first")
    records = report["trials"]["optuna_tpe_hyperband"]["3"]
    epochs = sum(r["epochs"] for r in records)
    # Counted like kt_hyperband: the epochs of 3 full trials, the last trial finishing past them.
    assert 9 <= epochs < 9 + 3 and sum(r["cost_trials"] for r in records) == pytest.approx(epochs / 3)
    pruned = [r for r in records if r["stopped_early"]]
    assert pruned and all(r["epochs"] < 3 for r in pruned), "the HyperbandPruner ends trials at its rungs"
    assert all(r["epochs"] == 3 for r in records if not r["stopped_early"])
    for r in records:
        assert r["status"] == "completed" and 1 <= len(r["blocks"]) <= 3 and r["num_params"] > 0
        assert 0 <= r["eval_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1
    assert [r["elapsed_seconds"] for r in records] == sorted(r["elapsed_seconds"] for r in records)
    assert report["time_to_accuracy"]["optuna_tpe_hyperband"]["seeds_run"] == 1
    assert "| optuna_tpe_hyperband | 1 |" in table and "s to 98.5%" in table

    again, _ = run("second")

    def drawn(rs):
        return [(r["blocks"], r["num_params"]) for r in rs]
    assert drawn(again["trials"]["optuna_tpe_hyperband"]["3"]) == drawn(records), "seeded TPE draws the same models"


def test_a_wall_time_budget_stops_every_kind_of_method_on_the_clock(tmp_path):
    out = tmp_path / "clock"
    seconds = 10
    argv = ["--methods", "random", "kt_random", "optuna_tpe_hyperband", "--seeds", "1", "--seconds", str(seconds),
            "--epochs", "1", "--transfer-pairs", "0", "--out", str(out)]
    assert search_efficiency.main(argv) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["seconds"] == seconds and report["budget"] is None and report["complete"]
    for method in ("random", "kt_random", "optuna_tpe_hyperband"):
        elapsed = [r["elapsed_seconds"] for r in report["trials"][method]["1"]]
        # Trials start until the time is up (the one in progress finishes), and only then stop.
        assert elapsed and all(e < seconds for e in elapsed[:-1]), (method, elapsed)
        assert elapsed[-1] >= seconds - 2, (method, elapsed)
    assert f"budget {seconds} s of wall time a method and seed" in out.with_suffix(".md").read_text()
    args = search_efficiency.build_parser().parse_args(["--seconds", "900", "--jobs", "2"])
    flags = " ".join(search_efficiency.job_commands(args, tmp_path)[0][2])
    assert "--seconds 900 --epochs 10 --threads 1" in flags and "--budget" not in flags.split()
