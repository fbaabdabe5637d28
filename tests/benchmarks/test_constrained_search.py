"""The constrained-search comparison on hand-made trial records."""

from __future__ import annotations

from benchmarks import constrained_search


def _records(*trials):
    return [{"status": "completed" if eval_ is not None else "failed", "eval_accuracy": eval_, "test_accuracy": test,
             "num_params": params} for eval_, test, params in trials]


UNCONSTRAINED = _records((0.90, 0.89, 50_000), (0.40, 0.41, 8_000), (0.95, 0.94, 90_000), (0.60, 0.58, 9_000),
                         (0.97, 0.96, 70_000), (None, None, None))


def test_post_filter_picks_the_best_within_the_limit_and_where_it_was_found():
    pick, found = constrained_search.post_filter_pick(UNCONSTRAINED, 10_000)
    assert (pick["eval_accuracy"], found) == (0.60, 4)
    assert constrained_search.post_filter_pick(UNCONSTRAINED, 1_000) == (None, None)


def test_constrained_search_meets_the_target_only_within_half_the_trials():
    fast = _records((0.50, 0.5, 5_000), (0.62, 0.61, 9_000), (0.70, 0.70, 9_500))
    row = constrained_search.compare_seed(UNCONSTRAINED, fast, 10_000)
    assert row["constrained"]["reached_at"] == 2 and row["target_met"]
    assert row["post_filter"]["within_limit"] == 2 and row["constrained"]["final_test_accuracy"] == 0.70
    slow = _records((0.50, 0.5, 5_000), (0.55, 0.5, 5_000), (0.61, 0.6, 9_000))
    assert constrained_search.compare_seed(UNCONSTRAINED, slow, 10_000)["target_met"] is False
    # Nothing within the limit after the filter: any completed constrained model is better.
    none_within = constrained_search.compare_seed(UNCONSTRAINED, slow, 1_000)
    assert none_within["constrained"]["reached_at"] == 1 and none_within["target_met"]
    assert none_within["constrained"]["over_limit"] == 3


def test_report_table_has_a_row_per_seed():
    run = {"dataset": "mnist1d", "epochs": 10, "space": {}, "budget": 6, "threads": 1, "command": "x",
           "trials": {"beam": {"0": UNCONSTRAINED, "1": UNCONSTRAINED}}}
    constrained = dict(run, trials={"beam": {"0": _records((0.7, 0.7, 900)), "1": _records((0.1, 0.1, 900))}})
    report = constrained_search.build(run, constrained, "beam", 10_000, "cmd")
    text = constrained_search.markdown(report)
    assert text.count("\n| 0 |") == 1 and text.count("\n| 1 |") == 1
    assert report["per_seed"]["0"]["target_met"] and not report["per_seed"]["1"]["target_met"]
