"""The search-efficiency report without training: time to accuracy from
hand-made trial records, the wall-time budget, and the committed tables
rendered again from their raw JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from benchmarks import search_efficiency_report as report_module
from benchmarks.search_efficiency_data import Budget

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def trial(eval_accuracy, test_accuracy, elapsed, status="completed"):
    return {"trial_id": f"t{elapsed}", "status": status, "eval_accuracy": eval_accuracy,
            "test_accuracy": test_accuracy, "elapsed_seconds": elapsed, "cost_trials": 1.0, "epochs": 10,
            "stopped_early": False}


def test_the_clock_stops_when_the_model_picked_on_eval_reaches_the_accuracy_on_test():
    records = [
        trial(0.90, 0.91, 10.0),
        # Higher on test, lower on eval: not the model the method would pick, so it does not count.
        trial(0.85, 0.995, 20.0),
        # A failed trial's figures count for nothing, however good.
        trial(0.999, 0.999, 25.0, status="failed"),
        trial(0.97, 0.985, 30.0),  # exactly the threshold counts
        # Best on eval now but worse on test: the pick falls back below 98.5% for a while.
        trial(0.98, 0.982, 40.0),
        trial(0.99, 0.991, 55.5),
    ]
    assert report_module.seconds_to_accuracy(records, 0.985) == 30.0
    assert report_module.seconds_to_accuracy(records, 0.99) == 55.5
    assert report_module.seconds_to_accuracy(records, 0.995) is None
    assert report_module.seconds_to_accuracy([], 0.985) is None


def test_the_accuracy_at_a_time_is_the_pick_of_the_trials_finished_by_then():
    records = [trial(0.90, 0.91, 10.0), trial(0.85, 0.995, 20.0), trial(0.97, 0.96, 30.0)]
    assert report_module.accuracy_at_seconds(records, 5.0) is None
    assert report_module.accuracy_at_seconds(records, 20.0) == 0.91, "the eval pick, not the best on test"
    assert report_module.accuracy_at_seconds(records, 30.0) == 0.96
    assert report_module.time_marks(900) == [300, 600, 900]
    late = [trial(0.9, 0.8, 400.0)]
    table = report_module.accuracy_at_times({"beam": {"0": records, "1": late, "2": records}}, [300, 900])
    assert table["beam"]["median"] == {"300": 0.96, "900": 0.96}
    assert table["beam"]["per_seed"]["1"] == {"300": None, "900": 0.8}
    lines = report_module.accuracy_at_times_table(table)
    assert "| beam | 0.960 [0.960, –, 0.960] | 0.960 [0.960, 0.800, 0.960] |" in lines


def test_the_median_over_seeds_counts_a_seed_that_never_gets_there_as_never():
    def reaching(seconds):  # one seed whose pick reaches 98.5% and 99.0% after `seconds`
        return [trial(0.9, 0.9, 1.0)] + ([trial(0.995, 0.995, seconds)] if seconds is not None else [])

    runs = {
        "ours": {"0": reaching(300.0), "1": reaching(100.0), "2": reaching(None)},
        "peer": {"2": reaching(50.0), "0": reaching(None), "1": reaching(None)},
    }
    for load, record in zip((1.0, 2.0, 3.0, 4.0), (r for records in runs["peer"].values() for r in records)):
        record["load_average_1min"] = load  # the machine's load, sampled as each trial ended
    times = report_module.time_to_accuracy(runs)
    assert times["peer"]["mean_load_average_1min"] == 2.5 and times["ours"]["mean_load_average_1min"] is None
    assert times["ours"]["median_seconds"] == {"0.985": 300.0, "0.990": 300.0}
    assert times["ours"]["seeds_reaching"] == {"0.985": 2, "0.990": 2} and times["ours"]["seeds_run"] == 3
    assert times["peer"]["median_seconds"] == {"0.985": None, "0.990": None}, "1 of 3 seeds: the median never does"
    assert list(times["peer"]["per_seed"]) == ["0", "1", "2"]
    assert times["peer"]["per_seed"]["2"] == {"0.985": 50.0, "0.990": 50.0}

    table = "\n".join(report_module.time_to_accuracy_table(times))
    assert "| ours | 3 | 300 [300, 100, –] | 300 [300, 100, –] | 2/3 | 2/3 | – |" in table
    assert "| peer | 3 | – [–, –, 50] | – [–, –, 50] | 1/3 | 1/3 | 2.50 |" in table


def test_a_wall_time_budget_replaces_the_trial_budget():
    trials = Budget(trials=2, epochs=10)
    trials.epochs_spent = 19
    assert not trials.used_up() and not trials.out_of_time()
    trials.epochs_spent = 20
    assert trials.used_up()

    clock = Budget(trials=None, epochs=10, seconds=5.0, started=time.monotonic())
    clock.epochs_spent = 10**6
    assert not clock.used_up(), "under a wall-time budget only the clock counts"
    clock.started -= 5.0
    assert clock.used_up() and clock.out_of_time()


@pytest.mark.parametrize("name", ["search_efficiency", "search_efficiency_6epochs", "search_efficiency_distillation",
                                  "search_efficiency_random80", "search_efficiency_surrogate_diversity",
                                  "time_to_accuracy"])
def test_the_committed_tables_are_what_their_raw_json_renders(name):
    raw = json.loads((RESULTS / f"{name}.json").read_text())
    assert report_module.markdown(raw) == (RESULTS / f"{name}.md").read_text()


def raw_report(methods, options, seconds=900, machine="x86_64 (AMD EPYC, AVX-512), 2 cores, Python 3.10.13"):
    """A report as one run of the benchmark writes it, trials made by hand."""
    trials = {m: {"0": [trial(0.99, 0.99, 100.0)]} for m in methods}
    return {"machine": machine, "dataset": "mnist1d", "split_sizes": {"train": 3554, "eval": 446, "test": 1000},
            "space": {"max_depth": 3}, "epochs": 10, "budget": None, "options": options, "seconds": seconds,
            "threads": 1, "command": f"benchmarks/search_efficiency.py --methods {' '.join(methods)}", "seeds": [0],
            "total_seconds": 900.0, "complete": True, "transfer": [], "trials": trials}


def test_peers_join_a_run_of_ours_with_other_options_on_the_same_clock_and_machine(tmp_path):
    defaults = {"weight_sharing": True, "distillation": False, "early_stopping": "median"}
    distilling = dict(defaults, distillation=True)

    def combine(*reports):
        paths = []
        for index, report in enumerate(reports):
            paths.append(tmp_path / f"part{index}.json")
            paths[-1].write_text(json.dumps(report))
        return report_module.combine([str(p) for p in paths], str(tmp_path / "joined"))

    joined = combine(raw_report(["kt_hyperband", "optuna_tpe_hyperband"], defaults), raw_report(["beam"], distilling))
    assert joined["options"] == distilling, "the options are those of the run of ours"
    assert joined["seconds"] == 900 and set(joined["time_to_accuracy"]) == {"kt_hyperband", "optuna_tpe_hyperband",
                                                                             "beam"}
    assert "| beam | 1 | 100 [100] |" in (tmp_path / "joined.md").read_text()
    assert joined["accuracy_at_seconds"]["beam"]["median"] == {"300": 0.99, "600": 0.99, "900": 0.99}
    assert "test acc @600 s" in (tmp_path / "joined.md").read_text()
    assert "commit" not in joined, "no commit recorded, none claimed"
    peers, ours = raw_report(["kt_hyperband"], defaults), raw_report(["beam"], defaults)
    peers["commit"], ours["commit"] = "abc1234", "def5678"
    assert combine(peers, ours)["commit"] == "abc1234, def5678"
    assert "Commit abc1234, def5678." in (tmp_path / "joined.md").read_text()

    with pytest.raises(SystemExit, match="options"):
        combine(raw_report(["beam"], defaults), raw_report(["evolution"], distilling))
    with pytest.raises(SystemExit, match="seconds"):
        combine(raw_report(["kt_hyperband"], defaults), raw_report(["beam"], defaults, seconds=1200))
    with pytest.raises(SystemExit, match="machine"):
        combine(raw_report(["kt_hyperband"], defaults), raw_report(["beam"], defaults, machine="another host"))


def test_stopped_parts_make_a_complete_whole_once_the_methods_asked_for_have_every_seed(tmp_path):
    defaults = {"weight_sharing": True, "distillation": False, "early_stopping": "median"}

    def part(seed, complete, methods=("random",)):
        report = raw_report(list(methods), defaults, seconds=None)
        report.update(seeds=[seed], complete=complete, command=report["command"] + f" --seeds {seed}",
                      trials={m: {str(seed): [trial(0.9, 0.9, 10.0)]} for m in methods})
        path = tmp_path / f"part{seed}-{len(methods)}.json"
        path.write_text(json.dumps(report))
        return str(path)

    # Seed 0's process stopped after its seed; seeds 1 and 2 ran apart: every seed of random ran.
    whole = report_module.combine([part(0, False), part(1, True), part(2, True)], str(tmp_path / "whole"))
    assert whole["complete"] and "Partial" not in (tmp_path / "whole.md").read_text()
    # A run that asked for beam too but stopped before it: still partial.
    stopped = part(0, False, methods=("random", "beam"))
    report = json.loads(Path(stopped).read_text())
    del report["trials"]["beam"]
    Path(stopped).write_text(json.dumps(report))
    assert not report_module.combine([stopped, part(1, True)], str(tmp_path / "partial"))["complete"]
    assert report_module.planned_methods(["x.py --methods a b --seeds 0", "x.py --methods c"]) == {"a", "b", "c"}
