"""The search-efficiency benchmark runs end to end on a tiny budget and
reports what it measured."""

from __future__ import annotations

import json

import pytest

from benchmarks import search_efficiency

pytestmark = pytest.mark.e2e


def test_tiny_benchmark_writes_its_tables(tmp_path):
    out = tmp_path / "se"
    argv = ["--methods", "beam", "kt_random", "kt_hyperband", "--seeds", "3", "--budget", "5", "--epochs", "2",
            "--transfer-pairs", "1", "--teacher-distillation", "--out", str(out)]
    assert search_efficiency.main(argv) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["complete"] and report["split_sizes"]["test"] == 1000
    assert report["options"] == {"weight_sharing": True, "distillation": True, "early_stopping": "median"}
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
