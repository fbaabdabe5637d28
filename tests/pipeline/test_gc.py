"""`model-search gc` and the retention at the end of `model-search run`, on
real small digits studies: what goes, what stays, and that the study goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.cli import main

pytestmark = pytest.mark.e2e

STUDY = ["--dataset", "digits", "--rounds", "1", "--trainers", "2", "--trials-per-trainer", "2", "--epochs", "1",
         "--distill-epochs", "1"]
LOCK = ".model-search.lock"


def run_json(argv, capsys):
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def files(root: Path) -> dict[str, int]:
    """Every file under the run directory -> its size (the lock file changes with every command)."""
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file() and p.name != LOCK}


def cache_entries(output: Path) -> dict[str, str]:
    """Trial-cache entry -> the run of its trial."""
    entries = {}
    for entry in (output / "pipeline_root" / "TrialCache" / "digits").iterdir():
        for name in ["result.json", *sorted(n.name for n in entry.glob("attempt-*.json"))]:
            if (entry / name).exists():
                entries[entry.name] = json.loads((entry / name).read_text())["run_id"]
                break
    return entries


def trial_dirs(output: Path) -> dict[str, Path]:
    return {p.name: p for p in (output / "pipeline_root").glob("Trainer_r*_t*/trials/*/*") if p.is_dir()}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return tmp_path_factory.mktemp("gc") / "digits"


@pytest.fixture(scope="module")
def first_run(study):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", *STUDY, "--keep", "all", "--output", str(study), "--json"]) == 0
    return json.loads(out.getvalue())


def test_keep_all_frees_nothing_at_the_end_of_a_run(first_run, study):
    assert first_run["freed"] is None
    assert sorted(cache_entries(study).values()) == ["run1"] * 4, "the trial cache is still there"


def test_gc_without_keep_applies_the_keep_the_study_ran_with(first_run, study, capsys, monkeypatch):
    """The study ran with keep all: gc keeps every trial's files, whatever
    gc's own default (made `members` here, which would remove some)."""
    from pipeline import config_schema

    default_of = config_schema.default_of
    monkeypatch.setattr(config_schema, "default_of", lambda key: "members" if key == "keep" else default_of(key))
    planned = run_json(["gc", "--output", str(study), "--dry-run", "--json"], capsys)
    (plan,) = planned["studies"]
    assert planned["freed"]["trials"]["count"] == 0
    assert plan["removed_trials"] == [] and len(plan["kept"]) == plan["trials"] == 4
    assert (planned["keep"], plan["keep"], plan["keep_from"]) == ("all", "all", "recorded by run1")


def test_gc_dry_run_removes_nothing_and_gc_removes_exactly_that_plan(first_run, study, capsys):
    before = files(study)
    planned = run_json(["gc", "--output", str(study), "--keep", "best-1", "--dry-run", "--json"], capsys)
    assert files(study) == before, "a dry run removes nothing"
    assert planned["dry_run"] is True and planned["keep"] == "best-1"

    done = run_json(["gc", "--output", str(study), "--keep", "best-1", "--json"], capsys)
    assert done["removals"] == planned["removals"] and done["freed"] == planned["freed"]
    (plan,) = done["studies"]
    assert plan["finished_runs"] == ["run1"] and plan["unfinished_runs"] == []
    assert (plan["keep"], plan["keep_from"]) == ("best-1", "--keep"), "the flag overrides the study's own"
    freed = done["freed"]
    assert freed["trial_cache"]["count"] == 4 and not cache_entries(study), "a finished run's trial cache goes"
    assert freed["trials"]["count"] == len(plan["removed_trials"]) >= 1
    assert freed["run_models"]["count"] == 0, "the only run is the latest one, and in production"
    assert freed["orphans"]["count"] == freed["serving"]["count"] == 0
    assert done["bytes_before"] - done["bytes_after"] >= done["freed_bytes"] - 10_000, "markers are small"

    leaderboard = json.loads((study / "leaderboard.json").read_text())
    used = {t for c in leaderboard["candidates"] for t in c["trial_ids"]}
    kept, left = set(plan["kept"]), trial_dirs(study)
    assert used <= kept and set(left) == kept, "members, student, best single and the best-1 keep their files"
    assert set(plan["removed_trials"]).isdisjoint(left)
    record = study / "pipeline_root" / "StudyRecord" / "digits"
    assert {p.stem for p in (record / "removed").glob("*.json")} == set(plan["removed_trials"])
    assert len(list((record / "trials").glob("*.json"))) == 4, "every trial keeps its record"
    # The model in production and the serving version stay.
    validation = json.loads(next((record / "validations").glob("*/*.json")).read_text())
    assert Path(validation["model_uri"]).is_dir() and (Path(validation["pushed_to"]) / "saved_model.pb").exists()

    again = run_json(["gc", "--output", str(study), "--keep", "best-1", "--json"], capsys)
    assert again["freed_bytes"] == 0 and again["studies"][0]["removed_before"] == len(plan["removed_trials"])


@pytest.fixture(scope="module")
def second_run(first_run, study):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", *STUDY, "--output", str(study), "--json"]) == 0
    return json.loads(out.getvalue())


def test_the_study_goes_on_from_its_record_with_the_trials_left(first_run, study, second_run, capsys):
    record = study / "pipeline_root" / "StudyRecord" / "digits"
    removed = {p.stem for p in (record / "removed").glob("*.json")}
    assert removed, "the gc test above ran first"
    assert second_run["run_id"] == "run2" and second_run["trials"]["completed"] == 4
    trials = {t["trial_id"]: t for t in run_json(["trials", "--output", str(study), "--json"], capsys)}
    children = [t for t in trials.values() if t["run_id"] == "run2"]
    assert all(t["parent"] in trials and trials[t["parent"]]["run_id"] == "run1" for t in children), \
        "run 2 grows run 1's trials, removed ones included: their records are history"
    assert all(t["transfer"] == "none" for t in children if t["parent"] in removed), \
        "no weights are shared from a trial whose files are gone"
    ensembles = sorted((study / "pipeline_root" / "Ensembler" / "model").glob("*/ensemble.json"),
                       key=lambda p: int(p.parent.name))
    ensemble = json.loads(ensembles[-1].read_text())
    assert removed.isdisjoint(ensemble["pool"]), "the Ensembler picks among trials with files only"
    assert any(t.startswith("run1") for t in ensemble["pool"]), "and earlier runs' kept trials are among them"
    leaderboard = json.loads((study / "leaderboard.json").read_text())
    assert removed.isdisjoint(t for c in leaderboard["candidates"] for t in c["trial_ids"])
    # The run's own retention (default best-10: every trial of 8) freed its trial cache.
    assert second_run["freed"]["keep"] == "best-10"
    (plan,) = run_json(["gc", "--output", str(study), "--dry-run", "--json"], capsys)["studies"]
    assert (plan["keep"], plan["keep_from"]) == ("best-10", "recorded by run2"), "the latest run's setting"
    assert second_run["freed"]["freed"]["trial_cache"]["count"] == 4 and not cache_entries(study)


def test_the_models_of_a_run_never_in_production_go_unless_it_is_the_latest(study, second_run, monkeypatch):
    """As if neither run had been pushed: run 1's models go, run 2's (the latest) stay."""
    from components.study_record import StudyRecord
    from pipeline import cleanup, factory
    from pipeline.config import StudyConfig
    from pipeline.study_store import StudyStore
    from search_algo.retention import parse_retention

    monkeypatch.setattr(StudyRecord, "validations", lambda self: [])
    monkeypatch.setattr(StudyStore, "validation", lambda self, run_id: {"pushed": False})
    connection = factory.metadata_connection_config(StudyConfig(output=str(study)))
    plan = cleanup.plan_cleanup(str(study), connection, parse_retention("all"))
    models = [r for r in plan.removals if r.category == "run_models"]
    assert {Path(r.path).parts[-3] for r in models} == {"Ensembler", "Distiller", "SearchEvaluator", "Pusher"}
    assert {r.subject for r in models} == {"run1"}
    assert all(Path(r.path).is_dir() for r in models), "a plan removes nothing"


def test_an_unfinished_run_is_untouched_and_what_killed_runs_left_goes(study, second_run, capsys):
    command = [sys.executable, "-m", "pipeline.cli", "run", *STUDY, "--output", str(study), "--json"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    recorded = study / "pipeline_root" / "StudyRecord" / "digits" / "trials"
    deadline = time.monotonic() + 600
    while not list(recorded.glob("run3-*.json")):
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "run 3 trained nothing in time"
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # What a killed push and a killed execution of an earlier run look like.
    half_pushed = study / "serving" / "1000000000"
    (half_pushed / "variables").mkdir(parents=True)
    (half_pushed / "variables" / "variables.index").write_bytes(b"x" * 100)
    orphan = study / "pipeline_root" / "Trainer_r1_t0" / "trials" / "987654"
    (orphan / "run0-r1-00").mkdir(parents=True)
    (orphan / "run0-r1-00" / "model.weights.h5").write_bytes(b"x" * 1000)
    killed = [p for p in (study / "pipeline_root").glob("Trainer_r1_t*/trials/*")
              if not (p / "trials.json").exists() and any(c.name.startswith("run3") for c in p.iterdir())]
    before = files(study)
    run3_cache = {entry for entry, run_id in cache_entries(study).items() if run_id == "run3"}
    assert run3_cache, "run 3's trainers stored what they finished"

    report = run_json(["gc", "--output", str(study), "--keep", "members", "--json"], capsys)
    (plan,) = report["studies"]
    assert plan["unfinished_runs"] == ["run3"]
    assert sorted((r["category"], r["path"]) for r in report["removals"]) == [
        ("orphans", str(orphan)), ("serving", str(half_pushed))]
    assert plan["removed_trials"] == [], "run 3's history lists every earlier trial: all stay while it may resume"
    after = files(study)
    assert set(before) - set(after) == {str(p.relative_to(study)) for p in (orphan / "run0-r1-00" / "model.weights.h5",
                                                                         half_pushed / "variables" / "variables.index")}
    assert {entry for entry, run_id in cache_entries(study).items() if run_id == "run3"} == run3_cache
    assert all((Path(study / "serving") / v / "saved_model.pb").exists() for v in os.listdir(study / "serving"))

    resumed = run_json(["run", *STUDY, "--output", str(study), "--json"], capsys)
    assert resumed["run_id"] == "run3" and resumed["trials"]["completed"] == 4
    assert resumed["freed"]["freed"]["trial_cache"]["count"] >= 1, "once run 3 finished, its cache goes"
    assert not cache_entries(study)
    # A trial is recorded where it was first trained: in a folder its killed trainer
    # left. Once run 3 has finished, only kept trials stay there.
    record = study / "pipeline_root" / "StudyRecord" / "digits"
    removed = {p.stem for p in (record / "removed").glob("*.json")}
    assert killed, "run 3 was killed while a trainer was training"
    for folder in killed:
        for child in (folder.iterdir() if folder.exists() else ()):
            trial = json.loads((record / "trials" / f"{child.name}.json").read_text())
            assert trial["path"] == str(child) and child.name not in removed


def test_gc_refuses_while_a_command_holds_the_run_directory(study, first_run, capsys):
    from pipeline.run_lock import run_directory_lock

    capsys.readouterr()
    with run_directory_lock(str(study), "run"):
        assert main(["gc", "--output", str(study)]) == 2
    assert "is in use by `model-search run`" in capsys.readouterr().err


def test_gc_says_what_is_wrong_in_one_line(tmp_path, capsys):
    assert main(["gc", "--output", str(tmp_path)]) == 2
    assert "no metadata.sqlite" in capsys.readouterr().err
    assert main(["gc", "--output", str(tmp_path), "--keep", "best-0"]) == 2
    assert "keep must be all, members or best-K" in capsys.readouterr().err
