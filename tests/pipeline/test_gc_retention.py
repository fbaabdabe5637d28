"""Which retention `model-search gc` applies to a study: the one its latest run
recorded, unless `--keep` says otherwise; `all` when nothing was recorded.
tests/pipeline/test_gc.py shows it on a whole study."""

from __future__ import annotations

from components.study_record import StudyRecord
from pipeline import cleanup
from search_algo.retention import parse_retention


def test_gc_applies_the_keep_the_latest_run_recorded_unless_told(tmp_path):
    record = StudyRecord.of(str(tmp_path / "pipeline_root"), "digits")
    assert cleanup.study_retention(record, None) == (parse_retention("all"), "nothing recorded"), \
        "a study whose setting is unknown loses no trial files"

    cleanup.record_retention(record, "run1", "all")
    assert cleanup.study_retention(record, None) == (parse_retention("all"), "recorded by run1")
    cleanup.record_retention(record, "run1", "all")  # a resumed run with the same setting adds nothing
    assert len(list((tmp_path / "pipeline_root" / "StudyRecord" / "digits" / "retention").rglob("*.json"))) == 1

    cleanup.record_retention(record, "run2", "best-3")
    assert cleanup.study_retention(record, None) == (parse_retention("best-3"), "recorded by run2")
    assert cleanup.study_retention(record, parse_retention("members")) == (parse_retention("members"), "--keep")
