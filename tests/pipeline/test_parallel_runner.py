"""The parallel runner replaces its worker processes once they outgrow the
memory limit, and its workers never outlive it."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tfx.orchestration import metadata, pipeline as tfx_pipeline

from pipeline.parallel_runner import WORKER_MEMORY_ENV, ParallelDagRunner
from search_algo.errors import UserError
from tests.pipeline.worker_pid_components import FirstPid, SecondPid

REPO = Path(__file__).resolve().parents[2]


def run_two_nodes(root) -> tuple[ParallelDagRunner, dict[str, int]]:
    first = FirstPid()
    second = SecondPid(previous=first.outputs["pid"])
    pipeline = tfx_pipeline.Pipeline(
        pipeline_name="pids", pipeline_root=str(root / "root"), components=[first, second],
        metadata_connection_config=metadata.sqlite_metadata_connection_config(str(root / "mlmd.sqlite")),
    )
    runner = ParallelDagRunner(max_workers=1)
    runner.run(pipeline)
    pids = {}
    for node in ("FirstPid", "SecondPid"):
        (path,) = glob.glob(str(root / "root" / node / "pid" / "*" / "pid"))
        pids[node] = int(open(path).read())
    return runner, pids


@pytest.mark.integration  # a two-node pipeline in worker processes
def test_workers_over_the_limit_are_replaced_between_nodes(tmp_path, monkeypatch):
    monkeypatch.setenv(WORKER_MEMORY_ENV, "1")  # every worker is over 1 MiB
    runner, pids = run_two_nodes(tmp_path)
    assert runner.worker_replacements == 1  # between the nodes, not after the last
    assert pids["FirstPid"] != pids["SecondPid"] and os.getpid() not in pids.values()


@pytest.mark.integration  # a two-node pipeline in worker processes
def test_workers_are_reused_under_the_limit(tmp_path, monkeypatch):
    monkeypatch.delenv(WORKER_MEMORY_ENV, raising=False)
    runner, pids = run_two_nodes(tmp_path)
    assert runner.worker_replacements == 0
    assert pids["FirstPid"] == pids["SecondPid"]


def test_a_malformed_limit_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv(WORKER_MEMORY_ENV, "lots")
    with pytest.raises(UserError, match=WORKER_MEMORY_ENV):
        run_two_nodes(tmp_path)


ORPHAN = """
import sys
from pipeline import parallel_runner

parallel_runner._die_with_parent(int(sys.argv[1]))
print("alive")
"""


@pytest.mark.integration  # a fresh process importing the runner (TFX), as a worker does
def test_a_worker_whose_runner_died_before_its_start_up_ended_exits_at_once():
    """A runner killed while a new worker still imports has already sent it a
    node; the worker, whose parent is then no longer the runner, must not run it."""
    def worker(runner_pid: int):
        return subprocess.run([sys.executable, "-c", ORPHAN, str(runner_pid)], capture_output=True, text=True,
                              timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})

    alive = worker(os.getpid())
    assert alive.returncode == 0 and alive.stdout.strip() == "alive", alive.stderr[-3000:]
    orphan = worker(os.getpid() + 1)  # any pid but its parent's
    assert orphan.returncode == 1 and "alive" not in orphan.stdout


KILLED_RUNNER = """
import sys
from pathlib import Path
from tests.pipeline.test_parallel_runner import run_two_nodes

run_two_nodes(Path(sys.argv[1]))
"""


@pytest.mark.integration  # a two-node pipeline whose runner kills itself, in a fresh process
def test_a_runner_killed_with_a_node_ready_leaves_it_unstarted(tmp_path):
    """`runner@<node>:ready` kills the runner before any worker has the node:
    unlike `start`, no worker can finish it while the runner is torn down."""
    done = subprocess.run([sys.executable, "-c", KILLED_RUNNER, str(tmp_path)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(REPO),
                                            "MODEL_SEARCH_FAILPOINTS": "runner@SecondPid:ready"})
    assert done.returncode == -9, done.stderr[-3000:]
    assert glob.glob(str(tmp_path / "root" / "FirstPid" / "pid" / "*" / "pid"))
    assert not glob.glob(str(tmp_path / "root" / "SecondPid" / "*")), "the node was never started"
