"""ML Metadata on MySQL: a tiny study against a real MariaDB server on
loopback (Debian's mariadbd, installed in CI by .ci/install_mariadb.sh), its
trials read back with `model-search trials`."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests import mariadb

pytestmark = pytest.mark.e2e

MODEL_SEARCH = "/work/main/.venv/bin/model-search"


@pytest.fixture(scope="module")
def mysql_uri(tmp_path_factory):
    if mariadb.find_server() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("mariadbd is missing in CI: .ci/run must install it (.ci/install_mariadb.sh)")
        pytest.skip("mariadbd not installed (bash .ci/install_mariadb.sh installs Debian's MariaDB)")
    with mariadb.mariadb_server(str(tmp_path_factory.mktemp("mariadb"))) as uri:
        yield uri


def _model_search(*argv, status=0, **environment):
    import shutil
    import sys

    executable = shutil.which("model-search") or os.path.join(os.path.dirname(sys.executable), "model-search")
    done = subprocess.run([executable, *argv], capture_output=True, text=True, timeout=900,
                          env={**os.environ, **environment})
    assert done.returncode == status, done.stderr[-3000:]
    return done


def test_a_study_on_mysql_reads_back_its_trials(mysql_uri, tmp_path):
    output = tmp_path / "run"
    done = _model_search("run", "--dataset", "digits", "--study", "on-mysql", "--rounds", "1", "--trainers", "1",
                         "--trials-per-trainer", "2", "--epochs", "1", "--distill-epochs", "1",
                         "--metadata", mysql_uri, "--output", str(output), "--json")
    assert mariadb.PASSWORD not in done.stdout + done.stderr
    assert json.loads(done.stdout)["metadata"] == mysql_uri.replace(f":{mariadb.PASSWORD}@", ":***@")
    assert not (output / "metadata.sqlite").exists(), "the run must not fall back to SQLite"
    trials = json.loads(_model_search("trials", "--output", str(output), "--metadata", mysql_uri, "--json").stdout)
    assert len(trials) == 2
    assert {t["status"] for t in trials} <= {"completed", "failed"}
    assert all(t["trial_id"].endswith(("-r1-00", "-r1-01")) for t in trials)

    # The password off the command line: from the environment, or from a file.
    without_password = mysql_uri.replace(f":{mariadb.PASSWORD}@", "@")
    password_file = tmp_path / "password"
    password_file.write_text(mariadb.PASSWORD + "\n")
    for environment in ({"MODEL_SEARCH_MYSQL_PASSWORD": mariadb.PASSWORD},
                        {"MODEL_SEARCH_MYSQL_PASSWORD_FILE": str(password_file)}):
        done = _model_search("trials", "--output", str(output), "--metadata", without_password, "--json",
                             **environment)
        assert [t["trial_id"] for t in json.loads(done.stdout)] == [t["trial_id"] for t in trials]


def test_a_wrong_password_is_one_line_without_it(mysql_uri, tmp_path):
    wrong = mysql_uri.replace(f":{mariadb.PASSWORD}@", ":not-the-password@")
    done = _model_search("trials", "--output", str(tmp_path), "--metadata", wrong, "--json", status=2)
    server = wrong.split("@")[1].split("/")[0]
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"model-search: error: ML Metadata at {wrong.replace(':not-the-password@', ':***@')} could not be opened: "
        f"the server at {server} accepts connections but not this login: check the user and password (and that "
        "the server offers mysql_native_password, which ML Metadata uses)"]
