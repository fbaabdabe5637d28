"""`model-search run` / `datasets` through the CLI: exit codes, messages, summaries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from tests import datagen

COMMANDS = ("run", "datasets", "blocks")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: model-search {command}" in capsys.readouterr().out


def test_unknown_flag_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--no-such-flag"])
    assert exit_info.value.code == 2


def test_datasets_json(capsys):
    assert main(["datasets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == {"mnist1d", "digits", "wine", "breast_cancer", "diabetes"}
    assert {r["name"]: r["task"] for r in rows}["diabetes"] == "regression"
    assert set({r["name"]: r["options"] for r in rows}["mnist1d"]) == {"test_seed", "test_size"}


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "empty.csv").write_bytes(b"")
    (root / "header_only.csv").write_text("a,b,label\n")
    (root / "one_class.csv").write_text("a,b,label\n1,2,x\n3,4,x\n5,6,x\n")
    rows = ["age,colour,label"] + [f"{i},red,{'yes' if i % 2 else 'no'}" for i in range(40)]
    rows[5], rows[9] = "abc,red,yes", "?x,red,no"
    (root / "text_in_numbers.csv").write_text("\n".join(rows) + "\n")
    (root / "latin1.csv").write_bytes("name,label\ncaf\xe9,1\nth\xe9,0\n".encode("latin-1"))
    empty_class = datagen.write_image_folder(root / "empty_class", per_class=4, seed=0)
    (empty_class / "empty").mkdir()
    all_corrupt = root / "all_corrupt"
    for name in ("a", "b"):
        (all_corrupt / name).mkdir(parents=True)
        (all_corrupt / name / "x.png").write_bytes(b"garbage")
    bad_wavs = root / "bad_wavs"
    for name in ("a", "b"):
        (bad_wavs / name).mkdir(parents=True)
        (bad_wavs / name / "x.wav").write_bytes(b"RIFF\x00\x00garbage")
    (root / "records").mkdir()
    (root / "records" / "bad.tfrecord").write_bytes(b"not a record")
    return root


def refused_by_the_ingest(args, message):
    """A case the DataIngest node refuses, inside a started pipeline: a worker
    process importing TFX, seconds each, hence the integration tier. The other
    cases are refused by `run`'s checks before TFX starts."""
    return pytest.param(args, message, marks=pytest.mark.integration)


BAD_INPUTS = [
    (["--data", "{root}/missing.csv"], "missing.csv: no such file"),
    refused_by_the_ingest(["--data", "{root}/empty.csv"], "empty.csv: the file is empty"),
    refused_by_the_ingest(["--data", "{root}/header_only.csv"], "header_only.csv: has a header but no data rows"),
    refused_by_the_ingest(["--data", "{root}/one_class.csv", "--label", "price"],
                          "no label column 'price'; the columns are: a, b, label"),
    refused_by_the_ingest(["--data", "{root}/one_class.csv"], "label 'label' has a single class ('x')"),
    refused_by_the_ingest(["--data", "{root}/text_in_numbers.csv"],
                          "column 'age' is numeric but lines 6, 10 hold text ('abc', '?x')"),
    refused_by_the_ingest(["--data", "{root}/latin1.csv"], "latin1.csv: not UTF-8 text (byte 0xe9 on line 2)"),
    refused_by_the_ingest(["--data", "{root}/empty_class"], "class folder 'empty' holds no images"),
    refused_by_the_ingest(["--data", "{root}/all_corrupt"], "none of the 2 images could be read"),
    refused_by_the_ingest(["--data", "{root}/bad_wavs"], "none of the 2 WAV files could be read"),
    (["--data", "ram://nowhere/missing.csv"], "ram://nowhere/missing.csv: no such file or directory"),
    (["--data", "nowhere://bucket/x.csv"], "nowhere://bucket/x.csv: cannot read it (UnimplementedError: "),
    (["--dataset", "cifar10"], "unknown built-in data set 'cifar10'"),
    (["--dataset", "mnist1d?test_seed=42"], "built-in data set 'mnist1d?test_seed=42': option test_seed must be an "
     "integer from 0 to 4294967295 other than 42 (the standard set's seed), got '42'"),
    (["--dataset", "mnist1d?test_size=4000"],
     "built-in data set 'mnist1d?test_size=4000': option test_size needs option test_seed"),
    (["--dataset", "wine", "--split", "0.5,0.1,0.1"],
     "--split: must be three non-negative numbers [train, eval, test] summing to 1"),
    # An absolute glob is expanded (the second fails on the file it found).
    refused_by_the_ingest(["--data", "{root}/nowhere/*.tfrecord"], "no file matches {root}/nowhere/*.tfrecord"),
    refused_by_the_ingest(["--data", "{root}/records/*.tfrecord"],
                          "{root}/records/bad.tfrecord: not a readable TFRecord file"),
    (["--dataset", "wine", "--seed", "-1"], "--seed: must be an integer from 0 to 2147483647, got -1"),
    (["--dataset", "wine", "--seed", "4294967296"], "--seed: must be an integer from 0 to 2147483647, got 4294967296"),
    (["--dataset", "wine", "--metadata", "mysql://u:SECRET@127.0.0.1:abc/db"],
     "--metadata mysql://u:***@127.0.0.1:abc/db: expected mysql://user:password@host:port/database, the port a number"),
    # Nothing listens on port 1.
    (["--dataset", "wine", "--metadata", "mysql://u:SECRET@127.0.0.1:1/db"],
     "ML Metadata at mysql://u:***@127.0.0.1:1/db could not be opened: nothing listens on 127.0.0.1:1 "
     "(connection refused)"),
]


@pytest.mark.parametrize("args,message", BAD_INPUTS, ids=[getattr(case, "values", case)[1][:30] for case in BAD_INPUTS])
def test_bad_input_exits_2_with_one_clear_line(args, message, bad_inputs, tmp_path, capsys):
    argv = ["run", *[a.format(root=bad_inputs) for a in args], "--output", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message.format(root=bad_inputs) in err
    assert "Traceback" not in err and "SECRET" not in err
    error_lines = [line for line in err.splitlines() if line.startswith("model-search: error:")]
    assert len(error_lines) == 1


@pytest.mark.parametrize("output, message", [
    ("empty.csv", "--output {root}/empty.csv: is a file, not a run directory"),
    ("empty.csv/run/here", "--output {root}/empty.csv/run/here: cannot create it, {root}/empty.csv is a file"),
])
def test_an_output_that_is_a_file_exits_2_with_one_line(output, message, bad_inputs, capsys):
    assert main(["run", "--dataset", "wine", "--output", str(bad_inputs / output)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"model-search: error: {message.format(root=bad_inputs)}"]


UNREACHABLE = "mysql://u:SECRET@127.0.0.1:1/db"  # nothing listens on port 1
CANNOT_CONNECT = ("ML Metadata at mysql://u:***@127.0.0.1:1/db could not be opened: "
                  "nothing listens on 127.0.0.1:1 (connection refused)")


@pytest.mark.parametrize("argv, metadata, message", [
    (["trials"], UNREACHABLE, CANNOT_CONNECT),
    (["trials", "--json"], UNREACHABLE, CANNOT_CONNECT),
    (["report", "--json"], UNREACHABLE, CANNOT_CONNECT),
    (["run", "--dataset", "wine", "--json"], UNREACHABLE, CANNOT_CONNECT),
    (["run", "--dataset", "wine"], "mysql://u:SECRET@127.0.0.1:abc/db",
     "--metadata mysql://u:***@127.0.0.1:abc/db: expected mysql://user:password@host:port/database, the port a "
     "number (percent-encode / # ? @ : in the password)"),
], ids=["trials", "trials --json", "report --json", "run --json", "run, port not a number"])
@pytest.mark.e2e  # the installed command, one process start each
def test_a_metadata_password_never_appears(argv, metadata, message, tmp_path):
    """The installed command, so that whatever ML Metadata's C++ writes to
    stderr counts: exactly one line, the password hidden, exit status 2."""
    script = shutil.which("model-search", path=os.path.dirname(sys.executable))
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GLOG_", "MODEL_SEARCH_MYSQL"))}
    result = subprocess.run([script, *argv, "--output", str(tmp_path / "run"), "--metadata", metadata],
                            capture_output=True, text=True, timeout=300, env=environment)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.splitlines() == [f"model-search: error: {message}"]
    assert "SECRET" not in result.stderr


@pytest.mark.parametrize("command", [["trials"], ["report", "--json"], ["gc", "--dry-run"]])
@pytest.mark.parametrize("metadata", ["mysql//u:SECRET@h/db", "mysql:/u:SECRET@h/db", "mysql:///u:SECRET@h/db",
                                      "mysql:u:SECRET@h/db", "missing/metadata.sqlite"])
def test_reading_a_study_never_creates_a_store_nor_shows_a_password(command, metadata, tmp_path, monkeypatch,
                                                                    capsys):
    """A mistyped `--metadata` once made `trials` create ./mysql/u:SECRET@h/db, a SQLite file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    assert main([*command, "--output", "run", "--metadata", metadata]) == 2
    out, err = capsys.readouterr()
    shown = metadata.replace("SECRET", "***")
    expected = (f"--metadata {shown}: expected mysql://" if metadata.startswith("mysql")
                else f"--metadata {metadata}: no such SQLite file")
    assert out == "" and len(err.splitlines()) == 1 and err.startswith(f"model-search: error: {expected}"), err
    assert "SECRET" not in err
    assert [p.name for p in tmp_path.rglob("*")] == ["run"], "nothing created"


@pytest.mark.parametrize("data,study", [
    ("gs://bucket/data/train.csv", "train"), ("gs://bucket/shapes/", "shapes"), ("gs://bucket/tf/*", "tf"),
    ("data/customers.csv", "customers"), ("./images/", "images"),
])
def test_the_study_is_named_after_the_data(data, study):
    from pipeline.config import build_config

    assert build_config({}, {"data": data}).study_name == study


@pytest.mark.integration  # two starts of the installed command
def test_bad_input_from_the_installed_command_and_debug_traceback(tmp_path):
    script = shutil.which("model-search", path=os.path.dirname(sys.executable))
    assert script, "the model-search console script is not installed"
    args = [script, "run", "--data", str(tmp_path / "nothing.csv"), "--output", str(tmp_path / "run")]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "nothing.csv: no such file" in result.stderr
    assert "Traceback" not in result.stderr
    debug = subprocess.run([*args, "--debug"], capture_output=True, text=True, timeout=300)
    assert debug.returncode == 2 and "Traceback" in debug.stderr


TINY = ["--rounds", "1", "--trainers", "1", "--trials-per-trainer", "1", "--epochs", "1", "--distill-epochs", "1"]


@pytest.mark.e2e
def test_warnings_for_imputed_cells_skipped_files_and_resized_images(tmp_path, capfd):
    rows = ["age,colour,label"] + [f"{i},{'red' if i % 3 else 'blue'},{'yes' if i % 2 else 'no'}" for i in range(40)]
    rows[3], rows[8] = ",red,yes", "7,,no"
    (tmp_path / "gaps.csv").write_text("\n".join(rows) + "\n")
    assert main(["run", "--data", str(tmp_path / "gaps.csv"), *TINY, "--output", str(tmp_path / "a"), "--json"]) == 0
    err = capfd.readouterr().err
    assert "column 'age': 1 empty cell(s) imputed with the median 20 (lines 4)" in err
    assert "column 'colour': 1 empty cell(s) imputed with the category '<missing>' (lines 9)" in err

    images = datagen.write_image_folder(tmp_path / "shapes", per_class=6, seed=1, corrupt=True)
    assert main(["run", "--data", str(images), *TINY, "--output", str(tmp_path / "b"), "--json"]) == 0
    captured = capfd.readouterr()
    assert "skipped 1 unreadable file(s): circle/broken.png" in captured.err
    assert "all are resized to 16x16" in captured.err
    summary = json.loads(captured.out)
    assert summary["trials"]["completed"] == 1


@pytest.mark.e2e
def test_rerun_reuses_the_ingested_data(tmp_path, capsys):
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    output = tmp_path / "wine"
    argv = ["run", "--dataset", "wine", *TINY, "--output", str(output), "--seed", "3", "--json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert Path(first["metadata"]).is_file()
    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out)
    assert (first["run_id"], second["run_id"]) == ("run1", "run2")
    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(first["metadata"]))
    assert len(store.get_artifacts_by_type("Examples")) == 1, "the second run must reuse the cached ingestion"
    spec = json.loads((Path(store.get_artifacts_by_type("components.DatasetSpec")[0].uri) / "dataset_spec.json").read_text())
    assert spec["class_names"] == ["class_0", "class_1", "class_2"]
    assert sum(spec["split_sizes"].values()) == 178


@pytest.mark.parametrize("setting, message", [
    ("early_stopping: sometimes", "key 'early_stopping': must be median or none, not 'sometimes'"),
    ("teacher_distillation: maybe", "key 'teacher_distillation': must be true or false, got 'maybe'"),
    ("seed: -3", "key 'seed': must be an integer from 0 to 2147483647, got -3"),
    ("seed: yes", "key 'seed': must be an integer from 0 to 2147483647, got True"),
    ("seed: 2147483648", "key 'seed': must be an integer from 0 to 2147483647, got 2147483648"),
])
def test_bad_search_options_in_a_config_file(setting, message, tmp_path, capsys):
    config = tmp_path / "study.yaml"
    config.write_text(f"dataset: wine\n{setting}\n")
    assert main(["run", str(config), "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"model-search: error: config {config}: {message}"]


def test_search_options_from_flags_override_the_config_file(tmp_path):
    from pipeline.commands.run import register, study_config_from_args
    import argparse

    config = tmp_path / "study.yaml"
    config.write_text("dataset: wine\nearly_stopping: none\nweight_sharing: true\nteacher_distillation: true\n")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    defaults = study_config_from_args(parser.parse_args(["run", "--dataset", "wine"]))
    assert (defaults.weight_sharing, defaults.teacher_distillation, defaults.early_stopping) == (True, False, "median")
    args = parser.parse_args(["run", str(config), "--no-weight-sharing", "--no-teacher-distillation"])
    chosen = study_config_from_args(args)
    assert (chosen.weight_sharing, chosen.teacher_distillation, chosen.early_stopping) == (False, False, "none")


def test_the_seed_reaches_the_search_and_the_split(tmp_path):
    from pipeline.config import build_config, load_config_file

    config_file = tmp_path / "study.yaml"
    config_file.write_text("dataset: wine\nseed: 7\n")
    from_file = build_config(load_config_file(str(config_file)), {})
    assert (from_file.seed, from_file.source.seed) == (7, 7)
    from_flag = build_config(load_config_file(str(config_file)), {"seed": 11})
    assert (from_flag.seed, from_flag.source.seed) == (11, 11)


def _fake_run_study(monkeypatch, outcome=None):
    """`run`'s work replaced: records how it was asked, then returns or raises `outcome`."""
    from pipeline import local_runner

    calls = []

    def run_study(config, **options):
        calls.append(options)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    monkeypatch.setattr(local_runner, "run_study", run_study)
    return calls


@pytest.mark.parametrize("flags", [["--time-limit", "5"], ["--time-budget", "5m"]])
def test_the_time_limit_with_the_beam_runner_is_refused_before_anything_runs(flags, tmp_path, monkeypatch, capsys):
    # Under TFX's BeamDagRunner the trials run in this process: the watchdog would kill the command.
    calls = _fake_run_study(monkeypatch, RuntimeError("must not run"))
    assert main(["run", "--dataset", "wine", "--runner", "beam", *flags, "--output", str(tmp_path / "run")]) == 2
    assert calls == []
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"model-search: error: {flags[0]} needs --runner local")


@pytest.mark.parametrize("value", ["20x", "0", "-5m"])
def test_a_bad_time_budget_is_one_line_naming_the_flag(value, tmp_path, monkeypatch, capsys):
    calls = _fake_run_study(monkeypatch, RuntimeError("must not run"))
    assert main(["run", "--dataset", "wine", f"--time-budget={value}", "--output", str(tmp_path / "run")]) == 2
    assert calls == []
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("model-search: error: --time-budget: must be")


def test_the_time_budget_reaches_the_run_in_seconds(tmp_path, monkeypatch):
    from pipeline import local_runner

    configs = []
    monkeypatch.setattr(local_runner, "run_study", lambda config, **options: configs.append(config) or 1 / 0)
    main(["run", "--dataset", "wine", "--time-budget", "1h30m", "--output", str(tmp_path / "run")])
    assert configs[0].time_budget == 5400.0


@pytest.mark.parametrize("name, status", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_stopped_run_exits_as_a_signal_says_with_one_line(name, status, tmp_path, monkeypatch, capsys):
    from search_algo.errors import Stopped

    _fake_run_study(monkeypatch, Stopped(name))
    assert main(["run", "--dataset", "wine", "--output", str(tmp_path / "run")]) == status
    assert capsys.readouterr().err.splitlines() == [
        f"model-search: stopped by {name}; nothing that was running counts as failed: run the same command "
        "again to resume"]


@pytest.mark.parametrize("flags, asked", [
    ([], {"retry_failed": False, "new_run": False}),
    (["--retry-failed"], {"retry_failed": True, "new_run": False}),
    (["--new-run"], {"retry_failed": False, "new_run": True}),
])
def test_retry_failed_and_new_run_reach_the_run(flags, asked, tmp_path, monkeypatch):
    calls = _fake_run_study(monkeypatch, KeyboardInterrupt())
    assert main(["run", "--dataset", "wine", "--output", str(tmp_path / "run"), *flags]) == 130
    assert [{k: call[k] for k in asked} for call in calls] == [asked]


def test_retry_failed_and_new_run_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--dataset", "wine", "--output", str(tmp_path / "run"), "--retry-failed", "--new-run"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
