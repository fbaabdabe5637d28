"""`model-search gc` and the end-of-run clean-up on a run directory with
symbolic links in it: nothing outside the run directory is touched, nothing is
followed, and neither stops with an error. The run directory here has an empty
ML Metadata (no study yet), which is enough for the serving versions and the
directory's size; tests/pipeline/test_gc.py covers whole studies."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline.cli import main


def run_directory(tmp_path: Path) -> Path:
    from pipeline import factory, metadata_uri
    from pipeline.config import StudyConfig

    output = tmp_path / "run"
    output.mkdir()
    metadata_uri.connect(factory.metadata_connection_config(StudyConfig(output=str(output))))
    assert (output / "metadata.sqlite").exists()
    return output


def half_pushed(folder: Path) -> Path:
    """What a killed push leaves: a version folder without saved_model.pb."""
    (folder / "variables").mkdir(parents=True)
    (folder / "variables" / "variables.index").write_bytes(b"x" * 100)
    return folder


def gc(output: Path, capsys, *flags: str) -> dict:
    capsys.readouterr()
    assert main(["gc", "--output", str(output), "--json", *flags]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder next to the run directory that is not the run directory's."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_a_linked_serving_folder_is_not_entered(tmp_path, outside, capsys):
    output = run_directory(tmp_path)
    version = half_pushed(outside / "1700000000")
    (output / "serving").symlink_to(outside)
    report = gc(output, capsys)
    assert report["removals"] == [] and report["freed_bytes"] == 0
    assert (version / "variables" / "variables.index").read_bytes() == b"x" * 100


def test_a_linked_version_keeps_its_target_and_gc_stays_well(tmp_path, outside, capsys):
    output = run_directory(tmp_path)
    target = half_pushed(outside / "model")
    (output / "serving").mkdir()
    (output / "serving" / "1700000000").symlink_to(target)
    for _ in range(2):  # and again: a second gc (or the next run's clean-up) must not fail either
        report = gc(output, capsys)
        assert report["removals"] == []
    assert (target / "variables" / "variables.index").read_bytes() == b"x" * 100
    assert (output / "serving" / "1700000000").is_symlink()


def test_a_half_pushed_version_goes_without_following_the_links_inside_it(tmp_path, outside, capsys):
    output = run_directory(tmp_path)
    precious = outside / "precious"
    precious.mkdir()
    (precious / "data.csv").write_text("a,b\n1,2\n")
    version = half_pushed(output / "serving" / "1700000000")
    (version / "assets").symlink_to(precious)
    report = gc(output, capsys)
    assert [(r["category"], r["path"]) for r in report["removals"]] == [("serving", str(version))]
    assert not os.path.lexists(version), "the version and the link in it went"
    assert (precious / "data.csv").read_text() == "a,b\n1,2\n", "what the link named stays"


def test_a_saved_model_in_text_form_is_complete(tmp_path, capsys):
    output = run_directory(tmp_path)
    complete = output / "serving" / "1700000001"
    half_pushed(complete)
    (complete / "saved_model.pbtxt").write_text("saved_model_schema_version: 1\n")
    killed = half_pushed(output / "serving" / "1700000002")
    report = gc(output, capsys)
    assert [r["path"] for r in report["removals"]] == [str(killed)]
    assert (complete / "saved_model.pbtxt").exists() and not killed.exists()


def test_a_linked_data_set_is_not_counted(tmp_path, outside, capsys):
    output = run_directory(tmp_path)
    own = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
    (outside / "big.bin").write_bytes(b"x" * 1_000_000)
    (output / "data").symlink_to(outside)
    report = gc(output, capsys, "--dry-run")
    assert own <= report["bytes_before"] < own + 10_000, "the linked data set is not the run directory's"


def test_a_link_loop_is_not_walked(tmp_path, capsys):
    output = run_directory(tmp_path)
    (output / "pipeline_root").mkdir()
    (output / "pipeline_root" / "loop").symlink_to(output)
    (output / "serving").mkdir()
    (output / "serving" / "loop").symlink_to(output / "serving")
    report = gc(output, capsys)
    assert report["removals"] == [] and report["bytes_after"] == report["bytes_before"]
    assert (output / "pipeline_root" / "loop").is_symlink() and (output / "serving" / "loop").is_symlink()


def test_the_end_of_run_clean_up_survives_a_link_loop(tmp_path):
    from pipeline import cleanup, factory
    from pipeline.config import StudyConfig

    output = run_directory(tmp_path)
    (output / "pipeline_root").mkdir()
    (output / "pipeline_root" / "loop").symlink_to(output / "pipeline_root")
    killed = half_pushed(output / "serving" / "1700000000")
    config = StudyConfig(output=str(output), keep="best-1")
    freed = cleanup.after_run(config, str(output), factory.metadata_connection_config(config))
    assert freed is not None, "the clean-up ran to its end"
    assert freed["freed"]["serving"]["count"] == 1 and not killed.exists()
