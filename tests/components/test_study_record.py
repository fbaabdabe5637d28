"""The study record and the StudyHistory node that reads it, on TensorFlow's
in-memory file system (`ram://`, standing in for gs://) and on local disk."""

from __future__ import annotations

import datetime
import json
import os

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


def test_two_writers_that_collide_keep_the_first_object(tmp_path, monkeypatch):
    """Both writers checked before either wrote: the creation itself must refuse the second."""
    from tfx.dsl.io import fileio

    record = StudyRecord(str(tmp_path / "record"))
    first = _trial("a-r1-00", "a", "1", path=str(tmp_path / "first"))
    second = _trial("a-r1-00", "a", "2", path=str(tmp_path / "second"))
    monkeypatch.setattr(fileio, "exists", lambda path: False)
    assert record.add_trial(first)
    assert not record.add_trial(second), "the second writer is refused"
    assert [t.path for t in record.trials()] == [str(tmp_path / "first")]
    assert [p.name for p in (tmp_path / "record" / "trials").iterdir()] == ["a-r1-00.json"], "no temporary left"


def test_a_local_object_is_on_disk_before_it_has_its_name(tmp_path, monkeypatch):
    """fsync, then the name: after a power loss an object is complete or absent, never empty."""
    record = StudyRecord(str(tmp_path / "record"))
    final = tmp_path / "record" / "trials" / "a-r1-00.json"
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(final.exists()), real_fsync(fd))[1])
    assert record.add_trial(_trial("a-r1-00", "a", "1"))
    assert synced == [False, True], "the object's bytes, then the directory entry of its name"


def _damage(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_damaged_object_is_skipped_with_a_warning_naming_it(tmp_path, caplog):
    record = StudyRecord(str(tmp_path / "record"))
    record.add_trial(_trial("a-r1-00", "a", "1", path=str(tmp_path / "a0")))
    record.add_leaderboard("a", {"run_id": "a", "chosen": "ensemble"}, writer="uri-1")
    record.add_validation({"run_id": "a", "model_uri": "m-a", "blessed": True, "pushed": True}, writer="p-1")
    root = tmp_path / "record"
    damaged = {
        root / "trials" / "a-r1-01.json": "",  # a power loss before the data reached the disk
        root / "trials" / "a-r1-02.json": '{"trial_id": "a-r1-02", "run_',  # cut short
        root / "trials" / "a-r1-03.json": json.dumps({"trial_id": "a-r1-03"}),  # fields missing
        root / "trials" / "a-r1-04.json": b"\xff\xfe".decode("latin-1"),  # not UTF-8 once written
        root / "leaderboards" / "b" / "x.json": "[]",
        root / "validations" / "b" / "x.json": json.dumps({"run_id": "b", "model_uri": "m-b", "pushed": True}),
    }
    for path, text in damaged.items():
        _damage(path, text)
    with caplog.at_level("WARNING", logger="components.study_record"):
        for _ in range(2):
            assert [t.trial_id for t in record.trials()] == ["a-r1-00"]
            assert list(record.leaderboards()) == ["a"]
            assert record.production_model()["model_uri"] == "m-a", "a validation without written_at is skipped"
            assert record.run_ids() == ["a"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == len(damaged), "one warning per damaged object, however often it is read"
    for path in damaged:
        assert any(f"skipped the damaged object {path} (" in w for w in warnings), path
    assert any(f"{root / 'trials' / 'a-r1-01.json'} (empty)" in w for w in warnings)
    assert any(f"{root / 'validations' / 'b' / 'x.json'} (no 'written_at')" in w for w in warnings)


def test_trials_of_a_pipeline_root_with_a_damaged_object_list_the_rest(tmp_path, capsys, caplog):
    from pipeline.cli import main

    root = tmp_path / "root"
    record = StudyRecord.of(str(root), "s")
    record.add_trial(_trial("a-r1-00", "a", "1", path=str(tmp_path / "a0")))
    damaged = root / "StudyRecord" / "s" / "trials" / "a-r1-01.json"
    _damage(damaged, "")
    assert main(["trials", "--pipeline-root", str(root), "--json"]) == 0
    assert [t["trial_id"] for t in json.loads(capsys.readouterr().out)] == ["a-r1-00"]
    assert f"skipped the damaged object {damaged} (empty)" in caplog.text


@pytest.mark.integration  # a process that sees the emulated Cloud Storage
def test_on_cloud_storage_a_collision_keeps_the_first_object(gcs):
    """`ifGenerationMatch=0`: the upload of the second writer is refused by the store itself."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    root = "gs://model-search-test/collision"
    program = f"""
import json
from tfx.dsl.io import fileio
from components.study_record import StudyRecord
from tests.components.test_study_record import _trial
fileio.exists = lambda path: False  # both writers checked before either wrote
record = StudyRecord.of({root!r}, "s")
written = [record.add_trial(_trial("a-r1-00", "a", started, path="gs://b/" + started)) for started in ("1", "2")]
print(json.dumps({{"written": written, "paths": [t.path for t in record.trials()]}}))
"""
    done = gcs.run([sys.executable, "-c", program], env={**os.environ, "PYTHONPATH": str(repo),
                                                          "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"written": [True, False], "paths": ["gs://b/1"]}
    assert json.loads(gcs.read(f"{root}/StudyRecord/s/trials/a-r1-00.json"))["started_at"] == "1"
    assert gcs.list(f"{root}/StudyRecord/s/trials/") == [f"{root}/StudyRecord/s/trials/a-r1-00.json"]
