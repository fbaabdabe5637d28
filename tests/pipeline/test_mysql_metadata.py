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


def _model_search(*argv):
    import shutil
    import sys

    executable = shutil.which("model-search") or os.path.join(os.path.dirname(sys.executable), "model-search")
    done = subprocess.run([executable, *argv], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_study_on_mysql_reads_back_its_trials(mysql_uri, tmp_path):
    output = tmp_path / "run"
    _model_search("run", "--dataset", "digits", "--study", "on-mysql", "--rounds", "1", "--trainers", "1",
                  "--trials-per-trainer", "2", "--epochs", "1", "--distill-epochs", "1",
                  "--metadata", mysql_uri, "--output", str(output), "--json")
    assert not (output / "metadata.sqlite").exists(), "the run must not fall back to SQLite"
    trials = json.loads(_model_search("trials", "--output", str(output), "--metadata", mysql_uri, "--json"))
    assert len(trials) == 2
    assert {t["status"] for t in trials} <= {"completed", "failed"}
    assert all(t["trial_id"].endswith(("-r1-00", "-r1-01")) for t in trials)
