"""The study record and the StudyHistory node that reads it, on TensorFlow's
in-memory file system (`ram://`, standing in for gs://) and on local disk."""

from __future__ import annotations

import datetime
import json

import pytest
import tensorflow as tf

from components import artifacts, trial_files
from components.study_history import executor as history_executor
from components.study_record import StudyRecord, studies
from search_algo.architecture import Architecture
from search_algo.trial import Trial
from tests.tfx_helpers import new_artifact


def _trial(trial_id: str, run_id: str, started: str, path: str | None = None, status: str = "completed") -> Trial:
    arch = Architecture.from_dict({"blocks": [{"name": "dense"}]})
    return Trial(trial_id, 1, 0, arch, seed=1, algorithm="beam", run_id=run_id, study="s", status=status,
                 started_at=started, path=path, metrics={"accuracy": 0.5} if status == "completed" else {})


def test_trials_are_written_once_and_read_back_oldest_first(ram_root):
    record = StudyRecord.of(f"{ram_root}/root", "s")
    assert not record.exists() and record.trials() == [] and record.production_model() is None
    later = _trial("b-r1-00", "b", "2026-12-02T00:00:00", path=f"{ram_root}/artifacts/b-r1-00")
    earlier = _trial("a-r1-00", "a", "2026-12-01T00:00:00", status="failed")
    assert record.add_trial(later) and record.add_trial(earlier)
    changed = _trial("b-r1-00", "b", "2026-12-03T00:00:00", path=f"{ram_root}/elsewhere")
    assert not record.add_trial(changed), "a recorded trial keeps its first record"
    trials = record.trials()
    assert [t.trial_id for t in trials] == ["a-r1-00", "b-r1-00"]
    assert trials[1].path == f"{ram_root}/artifacts/b-r1-00" and trials[0].status == "failed"
    assert record.run_ids() == ["a", "b"] and studies(f"{ram_root}/root") == ["s"]
    with pytest.raises(ValueError, match="absolute path"):
        record.add_trial(_trial("c-r1-00", "c", "2026-12-04", path="c-r1-00"))


def test_the_newest_leaderboard_and_validation_of_each_run_win_and_production_is_the_latest_push(ram_root):
    record = StudyRecord.of(ram_root, "s")
    record.add_leaderboard("a", {"run_id": "a", "chosen": "ensemble"}, writer="uri-1")
    record.add_leaderboard("a", {"run_id": "a", "chosen": "distilled"}, writer="uri-2")
    record.add_leaderboard("b", {"run_id": "b", "chosen": "best_single"}, writer="uri-3")
    assert record.leaderboard("a")["chosen"] == "distilled", "a re-executed node's newer leaderboard wins"
    assert record.leaderboard()["run_id"] == "b" and record.leaderboard("nope") is None
    record.add_validation({"run_id": "a", "model_uri": "m-a", "blessed": True, "pushed": True}, writer="p-1")
    record.add_validation({"run_id": "b", "model_uri": "m-b", "blessed": False, "pushed": False}, writer="p-2")
    assert [v["run_id"] for v in record.validations()] == ["a", "b"]
    assert record.production_model()["model_uri"] == "m-a", "a run that was not pushed is not in production"
    record.add_validation({"run_id": "c", "model_uri": "m-c", "blessed": True, "pushed": True}, writer="p-3")
    assert record.production_model()["model_uri"] == "m-c"
    # One object per fact, each a complete JSON document.
    objects = [p for p in tf.io.gfile.glob(f"{record.root}/validations/*/*")]
    assert len(objects) == 3 and all(json.loads(tf.io.gfile.GFile(p).read())["written_at"] for p in objects)


def _history(tmp_path, record_root: str, run_id: str):
    output = new_artifact(artifacts.TrialHistory, tmp_path / f"history-{run_id or 'derived'}")
    history_executor.Executor().Do({}, {"history": [output]},
                                   {"run_id": run_id, "study": "s", "study_record": record_root, "code_version": "t"})
    return output


def test_study_history_reads_earlier_runs_and_resolves_the_run_id(tmp_path):
    record = StudyRecord(str(tmp_path / "record"))
    for trial in (_trial("a-r1-00", "a", "1", path=str(tmp_path / "a0")), _trial("b-r1-00", "b", "2", status="failed"),
                  _trial("c-r1-00", "c", "3", path=str(tmp_path / "c0"))):
        record.add_trial(trial)
    resumed = _history(tmp_path, record.root, "c")
    assert resumed.get_string_custom_property("run_id") == "c"
    assert [t.trial_id for t in trial_files.read_history(resumed)] == ["a-r1-00", "b-r1-00"], \
        "a resumed run does not count its own first attempt as history"
    assert resumed.get_int_custom_property("count") == 2 and resumed.get_int_custom_property("runs") == 2
    scheduled = _history(tmp_path, record.root, "")
    derived = scheduled.get_string_custom_property("run_id")
    assert derived.startswith("run-") and derived not in {"a", "b", "c"}
    assert len(trial_files.read_history(scheduled)) == 3


def test_derived_run_ids_differ_per_execution_and_sort_by_start():
    noon = datetime.datetime(2026, 12, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
    first = history_executor.derived_run_id("gs://b/root/p/job-1/StudyHistory/history", noon)
    other = history_executor.derived_run_id("gs://b/root/p/job-2/StudyHistory/history", noon)
    later = history_executor.derived_run_id("gs://b/root/p/job-1/StudyHistory/history",
                                            noon + datetime.timedelta(hours=1))
    assert first.startswith("run-20261201-120000-") and first != other and first < later


def test_removed_trials_are_recorded_once_and_history_hands_them_on_without_files(tmp_path, ram_root):
    remote = StudyRecord.of(f"{ram_root}/root", "s")
    assert remote.removed_trial_ids() == set()
    gone = _trial("a-r1-00", "a", "1", path=f"{ram_root}/artifacts/a-r1-00")
    assert remote.mark_removed(gone, {"keep": "best-1"})
    assert not remote.mark_removed(gone, {"keep": "members"}), "written once, like every record object"
    assert remote.removed_trial_ids() == {"a-r1-00"}
    assert [t.trial_id for t in remote.trials()] == [], "a removed marker is no trial"

    record = StudyRecord(str(tmp_path / "record"))
    for trial in (_trial("a-r1-00", "a", "1", path=str(tmp_path / "a0")),
                  _trial("a-r1-01", "a", "2", path=str(tmp_path / "a1"))):
        record.add_trial(trial)
    record.mark_removed(record.trials()[0], {"keep": "best-1"})
    history = {t.trial_id: t for t in trial_files.read_history(_history(tmp_path, record.root, "b"))}
    assert history["a-r1-00"].path is None and history["a-r1-00"].metrics == {"accuracy": 0.5}, \
        "a removed trial stays history, without files"
    assert history["a-r1-01"].path == str(tmp_path / "a1")
    assert [t.trial_id for t in record.trials()] == ["a-r1-00", "a-r1-01"], "its record stays"
