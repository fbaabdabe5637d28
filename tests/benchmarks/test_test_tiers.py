"""benchmarks/test_tiers.py without running a tier: pytest's summary line, merging
into the raw file, and the table it renders into docs/testing.md."""

from __future__ import annotations

import json

import pytest

from benchmarks import test_tiers as tiers


@pytest.mark.parametrize("output, summary, counts, seconds", [
    ("....\n388 passed, 109 deselected in 75.20s (0:01:15)\n", "388 passed, 109 deselected in 75.20s (0:01:15)",
     {"passed": 388, "deselected": 109}, 75.2),
    ("F.\n=== short test summary info ===\nFAILED tests/x.py::test_y\n"
     "==== 1 failed, 50 passed, 2 skipped, 1 error, 3 warnings in 301.05s (0:05:01) ====\n",
     "1 failed, 50 passed, 2 skipped, 1 error, 3 warnings in 301.05s (0:05:01)",
     {"failed": 1, "passed": 50, "skipped": 2, "errors": 1, "warnings": 3}, 301.05),
    ("no tests ran in 0.01s\n", "", {}, None),
    ("", "", {}, None),
])
def test_the_summary_line_gives_the_counts_and_seconds(output, summary, counts, seconds):
    assert tiers.parse_summary(output) == (summary, counts, seconds)


def entry(tier: str, seconds: float, passed: int) -> dict:
    return {"tier": tier, "markers": tiers.TIERS[tier], "command": "python -m pytest ...", "exit_code": 0,
            "seconds": seconds, "pytest_seconds": seconds - 1, "cpu_seconds": seconds * 1.5,
            "counts": {"passed": passed, "deselected": 7}, "summary": "", "date": "2026-12-01", "commit": "abc1234",
            "machine": "x86_64 (CPU, AVX-512), 2 cores, Python 3.10.13", "threads": 2,
            "load_average_1min": {"before": 2.5, "after": 3.0}}


def test_measuring_some_tiers_keeps_the_others():
    raw = tiers.merge({}, [entry("e2e", 900, 57), entry("unit", 100, 388)])
    assert list(raw["tiers"]) == ["unit", "e2e"]
    raw = tiers.merge(raw, [entry("unit", 90, 390)])
    assert raw["tiers"]["unit"]["counts"]["passed"] == 390 and raw["tiers"]["e2e"]["seconds"] == 900


def test_the_table_shows_every_tier_measured_or_not(tmp_path):
    raw = tiers.merge({}, [entry("unit", 95.4, 388)])
    table = tiers.render_table(raw)
    rows = table.splitlines()
    assert rows[2].startswith(
        "| unit | `make test-fast` | 388 passed | 1 min 35 s | 2 min 23 s | 2026-12-01, commit abc1234")
    assert "load average 2.5 before, 3.0 after" in rows[2]
    assert rows[3] == "| unit-slow | `make test` | | not measured yet | | |"
    assert rows[4] == "| integration | `make test-integration` | | not measured yet | | |"
    assert rows[5].startswith("| e2e | `make test-e2e` |")

    doc = tmp_path / "testing.md"
    doc.write_text(f"# Testing\n\nbefore\n\n{tiers.BEGIN}\nold table\n{tiers.END}\n\nafter\n")
    raw_file = tmp_path / "test_tiers.json"
    raw_file.write_text(json.dumps(raw))
    assert tiers.main(["--from-raw", "--raw", str(raw_file), "--doc", str(doc)]) == 0
    assert doc.read_text() == f"# Testing\n\nbefore\n\n{tiers.BEGIN}\n{table}{tiers.END}\n\nafter\n"
    assert json.loads(raw_file.read_text()) == raw, "--from-raw runs nothing and writes no measurement"


def test_a_document_without_the_markers_is_refused(tmp_path):
    doc = tmp_path / "testing.md"
    doc.write_text("# Testing\n")
    with pytest.raises(SystemExit, match="markers"):
        tiers.write_table(doc, "| table |\n")
    assert doc.read_text() == "# Testing\n"
