"""One model-search command at a time per run directory; a killed holder
leaves nothing stuck; concurrent writers never share a temporary file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from components.files import temporary_name
from pipeline.cli import main
from pipeline.run_lock import RunDirectoryBusy, run_directory_lock


def test_a_second_run_on_a_busy_directory_is_refused_naming_the_holder(tmp_path, capsys):
    with run_directory_lock(str(tmp_path), "run"):
        status = main(["run", "--dataset", "digits", "--output", str(tmp_path), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert f"{tmp_path} is in use by `model-search run` (pid {os.getpid()} on " in err[0]
    with run_directory_lock(str(tmp_path), "gc"):
        pass  # released: free again


def test_a_killed_holder_leaves_no_stuck_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pipeline.run_lock import run_directory_lock\n"
         f"with run_directory_lock({str(tmp_path)!r}, 'run'):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunDirectoryBusy, match=f"pid {holder.pid}"):
        with run_directory_lock(str(tmp_path), "run"):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with run_directory_lock(str(tmp_path), "run"):
        pass


def test_writers_of_one_file_use_their_own_temporary_names(tmp_path):
    target = str(tmp_path / "leaderboard.json")
    names = {temporary_name(target) for _ in range(100)}
    assert len(names) == 100 and all(name.startswith(target + ".tmp-") for name in names)
