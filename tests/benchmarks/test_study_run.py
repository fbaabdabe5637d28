"""How a measured run's wall time is split, and the headline report's arithmetic."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from benchmarks import headline, study_run

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc).timestamp()


def iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(T0 + seconds, datetime.timezone.utc).isoformat(timespec="milliseconds")


def node(name: str, start: float, end: float) -> dict:
    return {"node": name, "start": T0 + start, "end": T0 + end}


def trial(trial_id: str, start: float, end: float, accuracy: float) -> dict:
    return {"trial_id": trial_id, "status": "completed", "started_at": iso(start), "finished_at": iso(end),
            "train_seconds": end - start, "metrics": {"accuracy": accuracy}}


def test_union_counts_overlaps_once_and_leaves_out_what_is_covered():
    assert study_run.union_seconds([(0, 10), (5, 15), (20, 25)]) == 20
    assert study_run.union_seconds([(0, 10), (5, 15)], minus=[(12, 30)]) == 12
    assert study_run.union_seconds([(3, 3), (4, 2)]) == 0


def test_breakdown_splits_wall_time_without_double_counting():
    # Start-up 0-10, ingest 10-20, two trainers 22-60 with trials overlapping in 25-55,
    # Ensembler 62-70, Distiller 70-80, SearchEvaluator 80-85, Pusher 86-87, end at 90.
    nodes = [node("DataIngest", 10, 20), node("Proposer", 20, 21), node("TrialTrainer", 22, 60),
             node("TrialTrainer", 23, 58), node("Ensembler", 62, 70), node("Distiller", 70, 80),
             node("SearchEvaluator", 80, 85), node("StudyPusher", 86, 87)]
    trials = [trial("a", 25, 50, 0.9), trial("b", 30, 55, 0.8)]
    result = study_run.breakdown(T0, T0 + 90, trials, nodes)
    seconds = result["seconds"]
    assert seconds["fitting"] == 40  # trials 25-55 once, the Distiller 70-80
    assert seconds["evaluation"] == 13
    assert seconds["startup"] == 10 and seconds["data_ingest"] == 10
    assert seconds["trainer_nodes_outside_trials"] == 38 - 30  # 22-60 less the trials' 25-55
    assert seconds["other_nodes"] == 2
    assert sum(seconds.values()) == pytest.approx(90)
    assert seconds["orchestration"] == pytest.approx(7)
    assert result["overhead_share"] == pytest.approx((90 - 53) / 90, abs=1e-3)
    assert result["trial_train_seconds_sum"] == 50


def test_memory_report_measures_growth_after_start_up():
    samples = [(2.0 * i, 500.0 + (i if i >= 4 else 0)) for i in range(40)]
    report = study_run.memory_report(samples)
    assert report["peak_mib"] == 539
    assert report["growth_mib"] == pytest.approx(20, abs=1.5)


def test_tree_rss_includes_this_process():
    assert study_run.tree_rss_mib(os.getpid()) > 10


def test_tree_rss_adds_the_descendants_and_is_zero_once_the_root_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "import time; block = b'x' * (64 * 2**20); "
                              "print(len(block), flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
    try:
        child.stdout.readline()  # its 64 MiB are written (resident)
        assert study_run.tree_rss_mib(child.pid) > 64
        alone = psutil.Process(os.getpid()).memory_info().rss / 2**20
        assert study_run.tree_rss_mib(os.getpid()) > alone + 64
    finally:
        child.kill()
        child.wait()
    assert study_run.tree_rss_mib(child.pid) == 0


def test_accuracy_over_time_keeps_the_best_so_far():
    trials = [trial("a", 0, 30, 0.90), trial("b", 0, 20, 0.95), trial("c", 10, 40, 0.93),
              {"trial_id": "d", "status": "failed", "finished_at": iso(45)}]
    points = headline.accuracy_over_time(trials, T0)
    assert [p["trial_id"] for p in points] == ["b", "a", "c"]
    assert [p["best_so_far"]["trial_id"] for p in points] == ["b", "b", "b"]
    assert points[0]["seconds"] == 20


def test_gains_and_targets_come_from_the_same_run():
    table = [
        {"name": "best_single", "test_accuracy": 0.990, "eval_accuracy": 0.99, "num_params": 60000,
         "latency_ms_batch_1": 1.0, "latency_ms_batch_256": 10.0},
        {"name": "ensemble", "test_accuracy": 0.996, "eval_accuracy": 0.995, "num_params": 180000,
         "latency_ms_batch_1": 2.0, "latency_ms_batch_256": 30.0},
        {"name": "distilled", "test_accuracy": 0.991, "eval_accuracy": 0.99, "num_params": 9000,
         "latency_ms_batch_1": 0.5, "latency_ms_batch_256": 4.0},
    ]
    gains = headline.gains(table)
    assert gains["ensemble_vs_best_single"] == {"test_accuracy_points": 0.6, "params_ratio": 3.0,
                                                "latency_ratio_batch_1": 2.0}
    assert gains["student_vs_ensemble"]["params_ratio"] == 0.05
    targets = headline.target_check({"candidates": table, "chosen": "ensemble", "wall_seconds": 1100})
    assert all(check["met"] for check in targets.values())
    targets = headline.target_check({"candidates": table, "chosen": "best_single", "wall_seconds": 1300})
    assert not targets["chosen_test_accuracy"]["met"] and not targets["wall_seconds"]["met"]


def test_headline_targets_take_the_median_over_seeds_and_the_slowest_run():
    def run(chosen_accuracy, student_accuracy, student_params, wall):
        return {"chosen": "ensemble", "wall_seconds": wall, "candidates": [
            {"name": "best_single", "test_accuracy": 0.99},
            {"name": "ensemble", "test_accuracy": chosen_accuracy},
            {"name": "distilled", "test_accuracy": student_accuracy, "num_params": student_params}]}

    # One seed below each accuracy target: the medians still meet them.
    runs = [run(0.996, 0.991, 9000, 1000), run(0.994, 0.989, 9500, 1100), run(0.995, 0.990, 8000, 1150)]
    targets = headline.median_targets(runs)
    assert targets["chosen_test_accuracy"]["measured"] == 0.995 and all(t["met"] for t in targets.values())
    # One run over 20 minutes or one student over the budget fails its target.
    runs[0] = run(0.996, 0.991, 10500, 1250)
    targets = headline.median_targets(runs)
    assert not targets["wall_seconds"]["met"] and not targets["student"]["met"]
    assert targets["chosen_test_accuracy"]["met"]


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="reads /proc/cpuinfo (Linux)")
def test_machine_label_names_the_cpu_model_and_its_avx512():
    with open("/proc/cpuinfo") as cpuinfo:
        text = cpuinfo.read()
    model = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name"))
    label = study_run.machine()
    assert model in label and f"{os.cpu_count()} cores" in label
    assert ("no AVX-512" not in label) == (" avx512f" in text)


@pytest.mark.slow
def test_measured_process_samples_the_child_and_a_failure_shows_its_stderr():
    stdout, _, sampler, wall = study_run.measured_process(
        [sys.executable, "-c", "import time; block = b'x' * (64 * 2**20); print('done'); time.sleep(1.5)"],
        sample_interval=0.2)
    assert stdout.strip() == "done" and wall >= 1.5 and sampler.started_wall is not None
    assert max(mib for _, mib in sampler.samples) > 64
    with pytest.raises(RuntimeError, match="no such thing"):
        study_run.measured_process([sys.executable, "-c", "import sys; sys.exit('no such thing')"])


def test_benchmarks_score_each_seed_on_its_own_fresh_mnist1d_test_draw(tmp_path):
    from components.ingest.builtin import MNIST1D_STANDARD_SEED, parse_source

    options = [parse_source(study_run.fresh_mnist1d(seed))[1] for seed in (0, 1, 2)]
    assert [o["test_seed"] for o in options] == [10_000, 10_001, 10_002]
    assert all(o["test_size"] == study_run.FRESH_TEST_SIZE and o["test_seed"] != MNIST1D_STANDARD_SEED
               for o in options)
    mnist1d = Path(__file__).resolve().parents[2] / "examples" / "mnist1d.yaml"
    assert headline.fresh_test_args(str(mnist1d), 3) == ["--dataset", study_run.fresh_mnist1d(3)]
    other = tmp_path / "digits.yaml"
    other.write_text("dataset: digits\n")
    assert headline.fresh_test_args(str(other), 3) == []


def test_a_headline_run_with_a_time_budget_is_held_to_the_budgets_own_promise():
    assert headline.wall_target(None) == 1200
    assert headline.wall_target("20m") == 1260  # 5 % over 20 minutes
    assert headline.wall_target("300") == 330  # 30 s over a short budget
    table = [{"name": "ensemble", "test_accuracy": 0.996},
             {"name": "distilled", "test_accuracy": 0.991, "num_params": 9000}]
    run = {"candidates": table, "chosen": "ensemble", "wall_seconds": 1250, "wall_target": 1260}
    assert headline.target_check(run)["wall_seconds"]["met"]
    assert headline.median_targets([run])["wall_seconds"]["met"]
    assert not headline.target_check(run | {"wall_target": 1200})["wall_seconds"]["met"]
