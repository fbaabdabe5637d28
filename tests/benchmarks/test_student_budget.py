"""The student-budget benchmark: its committed table is what its raw JSON
renders, and a tiny run writes both (bench tier)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import student_budget
from tests.benchmarks.scripts import run_benchmark

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def test_the_committed_table_is_what_its_raw_json_renders():
    report = json.loads((RESULTS / "student_budget.json").read_text())
    assert (RESULTS / "student_budget.md").read_text() == student_budget.markdown(report)
    # It chose a setting, so it holds eval scores only.
    assert "test" not in json.dumps(report["runs"])


@pytest.mark.e2e
@pytest.mark.bench
def test_tiny_run_distils_both_students_within_the_budget(tmp_path):
    out = tmp_path / "student_budget"
    run_benchmark("student_budget.py", "--teachers", "resnet64x2", "--seeds", "0", "--epochs", "1",
                  "--teacher-epochs", "1", "--out", str(out))
    report = json.loads(out.with_suffix(".json").read_text())
    (run,) = report["runs"]
    coarse, filled = run["students"]["coarse"], run["students"]["fill"]
    assert coarse["num_params"] < filled["num_params"] <= report["budget"] < run["teacher_params"]
    assert len(filled["eval_accuracy_by_epoch"]) == 1 and 0.0 <= filled["eval_accuracy"] <= 1.0
    assert report["machine"] and report["threads"] == 1 and report["commit"]
    assert out.with_suffix(".md").read_text() == student_budget.markdown(report)
