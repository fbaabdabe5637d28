"""benchmarks/trainer_fit_share.py's pure parts: the shares from a run's trials and node
intervals, the first one-run file read as seed 0, and the per-seed report with medians."""

from __future__ import annotations

from benchmarks import trainer_fit_share as fit_share


def run(fit: list[float], trainer_intervals: list[tuple[float, float]], wall: float) -> dict:
    return {
        "command": "model-search run examples/mnist1d.yaml --time-budget 10m --output DIR",
        "wall_seconds": wall,
        "trials": [{"fit_seconds": seconds, "train_seconds": seconds + 1} for seconds in fit],
        "nodes": [{"node": "TrialTrainer", "start": start, "end": end} for start, end in trainer_intervals]
                 + [{"node": "Distiller", "start": 200.0, "end": 240.0}],
        "time": {"seconds": {"fitting": sum(fit), "startup": 10.0},
                 "node_seconds": {"TrialTrainer": sum(e - s for s, e in trainer_intervals), "Distiller": 40.0}},
    }


def test_shares_divide_fit_by_trainer_node_seconds_by_their_span_and_by_the_run_wall():
    share = fit_share.fit_share(run([45.0, 45.0, 90.0], [(0.0, 100.0), (0.0, 100.0)], wall=250.0), trainers=2)
    assert share["trials"] == 3
    assert share["share_of_trainer_node_seconds"] == 0.9
    assert share["trainer_nodes_span_seconds"] == 100.0
    assert share["share_of_trainers_x_trainer_span"] == 0.9
    assert share["share_of_trainers_x_run_wall"] == 0.36


def test_a_one_run_file_is_seed_0_and_the_report_gives_each_seed_and_the_medians():
    first = run([90.0], [(0.0, 100.0)], wall=120.0)
    old_layout = {"machine": "m", "commit": "abc", "run": first, "share": fit_share.fit_share(first, 1)}
    second = run([80.0], [(0.0, 100.0)], wall=140.0)
    runs = fit_share.runs_of(old_layout) + [
        {"seed": 1, "machine": "m", "commit": "def", "run": second, "share": fit_share.fit_share(second, 1)}]
    assert [entry["seed"] for entry in runs] == [0, 1]
    text = fit_share.markdown({"trainers": 1, "runs": runs})
    rows = [line for line in text.splitlines() if line.startswith("| 0 | abc") or line.startswith("| median")]
    assert rows[0].split(" | ")[6] == "0.900"
    assert rows[1].split(" | ")[-1].strip(" |") == f"{(round(90 / 120, 3) + round(80 / 140, 3)) / 2:.3f}"
    assert "| median | | 130 |" in rows[1]
