"""A local TFX runner that runs independent nodes side by side, and survives
its workers dying.

TFX's LocalDagRunner launches the nodes of the compiled pipeline IR one after
another. This runner does the same per-node work with TFX's own portable
`Launcher` (driver, cache lookup, executor, publishing to ML Metadata) but
starts every node whose upstream nodes have finished, up to `max_workers` at
a time, each in a worker process with its own ML Metadata connection (TFX's
`Metadata` is not thread-safe). Workers are started once and reused, so TFX is
imported once per worker, not once per node.

Each worker is a process of its own with a pipe to the runner (not a process
pool: in one, a single dead worker breaks every running node). When a worker
dies - the out-of-memory killer, a crash in native code, a trainer's watchdog
stopping a trial past its time limit - the runner says why (signal, exit
code, memory, the cgroup's OOM-kill counter), starts a fresh worker and runs
the node again: TFX's cache and the trial cache give back what it had
finished, and the trainer records the trial that died as failed once it has
died `max_retries` + 1 times (components/trainer/trial_cache.py). A node that
runs past `node_timeout` is stopped and the run ends with a clear message.

Stopping the run (SIGINT, SIGTERM; `Stopped` raised in the runner) is not a
death: the runner passes SIGTERM on to its busy workers and gives them
`STOP_GRACE_SECONDS` to end their nodes (a trainer marks its trial in flight
interrupted, which does not count as an attempt), then stops every worker.
Workers ignore SIGINT themselves: a Ctrl-C reaches the whole process group,
and the runner alone decides what it means.

TensorFlow keeps about 25 MiB of every model a process builds and fits, even
after `clear_session()` (tensorflow/tensorflow#61791), so a long study's workers
grow trial after trial. A worker that is idle and has grown past
`worker_memory_limit_mib` (default 2048, or MODEL_SEARCH_WORKER_MEMORY_MIB) is
replaced by a fresh one, for the price of one start-up (about 20 s here).
What a node freed goes back to the system when it ends (`freed_memory.release`):
otherwise glibc keeps the heap a node grew, and the ingest's buffers would
count in every later node's memory in the same worker.
"""

from __future__ import annotations

import ctypes
import datetime
import json
import logging
import multiprocessing
import os
import signal
import time
import traceback
from multiprocessing import connection
from typing import Callable, Optional

import psutil
from tfx.dsl.compiler import constants
from tfx.orchestration import metadata
from tfx.orchestration.local import runner_utils
from tfx.orchestration.portable import launcher, runtime_parameter_utils, tfx_runner
from tfx.proto.orchestration import pipeline_pb2

from components import failpoints
from components.trainer.trial_cache import WORKER_DEATH_ENV
from pipeline import freed_memory
from pipeline.config_schema import default_of
from search_algo.errors import Stopped, UserError

log = logging.getLogger(__name__)

NodeCallback = Callable[[str, float], None]
DEFAULT_WORKER_MEMORY_LIMIT_MIB = 2048
WORKER_MEMORY_ENV = "MODEL_SEARCH_WORKER_MEMORY_MIB"
# How often the runner looks at its workers (deaths, time-outs, memory).
POLL_SECONDS = 1.0
# How long busy workers have to end their nodes when the run is stopped.
STOP_GRACE_SECONDS = 30.0


def resident_mib(pid: int) -> float:
    """Resident memory of a process in MiB (0 if it is gone)."""
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return 0.0


def worker_memory_limit_mib() -> float:
    value = os.environ.get(WORKER_MEMORY_ENV, "")
    try:
        return float(value) if value else DEFAULT_WORKER_MEMORY_LIMIT_MIB
    except ValueError:
        raise UserError(f"{WORKER_MEMORY_ENV}={value!r}: expected a number of MiB") from None


def oom_kills() -> Optional[int]:
    """The kernel's count of out-of-memory kills in this process's memory
    cgroup (v2 `memory.events`, v1 `memory.oom_control`), if it tells."""
    try:
        for line in _cgroup_memory_counters():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _cgroup_memory_counters() -> list[str]:
    # Files of the kernel, not data: always local.
    with open("/proc/self/cgroup") as cgroups:
        entries = [line.strip().split(":", 2) for line in cgroups if line.strip()]
    for hierarchy, controllers, path in entries:
        if hierarchy == "0" and not controllers:
            candidate = f"/sys/fs/cgroup{path.rstrip('/')}/memory.events"
        elif "memory" in controllers.split(","):
            candidate = f"/sys/fs/cgroup/memory{path.rstrip('/')}/memory.oom_control"
        else:
            continue
        if os.path.exists(candidate):
            with open(candidate) as counters:
                return counters.read().splitlines()
    return []


class NodeFailed(Exception):
    """A node failed inside a worker; carries the worker's traceback as text."""

    def __init__(self, node_id: str, summary: str, details: str):
        super().__init__(f"{node_id}: {summary}")
        self.node_id = node_id
        self.summary = summary
        self.details = details

    def __reduce__(self):
        return (NodeFailed, (self.node_id, self.summary, self.details))


class NodeTimedOut(UserError):
    """A node ran past --node-timeout."""


def _die_with_parent(runner_pid: int) -> None:
    """A worker must not outlive a killed runner (kill -9): it would keep
    training and writing to ML Metadata behind the back of the next run.
    The kernel's parent-death signal only covers a parent that dies after it
    is asked for, and a spawned worker asks only once its imports are done
    (TensorFlow: many seconds); a runner killed before that has already
    handed the worker its node, so a worker whose runner is gone exits here."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: best effort only
        pass
    if os.getppid() != runner_pid:
        os._exit(1)


def _worker_init(runner_pid: int, debug: bool, environment: dict[str, str], intra_op_threads: int) -> None:
    _die_with_parent(runner_pid)
    # The runner passes a stop on (SIGTERM) to the workers that have a node.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(environment)
    from pipeline import quiet, run_view

    # Under the live view, this worker's output goes to the run's log file.
    run_view.send_worker_output_to_log_file()

    # After this module's imports of TFX and Beam, whose deprecation-warning
    # filter went in front of the PYTHONWARNINGS this worker inherited.
    quiet.quiet_libraries(debug)
    import tensorflow as tf

    # Concurrent trainers share the cores: one TensorFlow thread pool per
    # worker sized to its share beats every worker fighting for all cores.
    tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
    # TFX maps artifact type names to classes among those imported.
    import components.artifacts  # noqa: F401
    from pipeline.cli import OWN_LOGGERS

    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s: %(message)s", force=True)
    if not debug:
        for name in OWN_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)


def _launch_node(pipeline_bytes: bytes, node_id: str) -> float:
    """Runs one node of the pipeline IR in this worker; returns its seconds."""
    started = time.monotonic()
    pipeline = pipeline_pb2.Pipeline.FromString(pipeline_bytes)
    deployment_config = runner_utils.extract_local_deployment_config(pipeline)
    connection_config = getattr(
        deployment_config.metadata_connection_config,
        deployment_config.metadata_connection_config.WhichOneof("connection_config"),
    )
    node = next(n.pipeline_node for n in pipeline.nodes if n.pipeline_node.node_info.id == node_id)
    try:
        launcher.Launcher(
            pipeline_node=node,
            mlmd_connection=metadata.Metadata(connection_config),
            pipeline_info=pipeline.pipeline_info,
            pipeline_runtime_spec=pipeline.runtime_spec,
            executor_spec=runner_utils.extract_executor_spec(deployment_config, node_id),
            custom_driver_spec=runner_utils.extract_custom_driver_spec(deployment_config, node_id),
        ).launch()
    except UserError:
        raise  # picklable, and the CLI turns it into one line with exit status 2
    except BaseException as error:  # noqa: BLE001 - re-raised in the parent with the details
        raise NodeFailed(node_id, f"{type(error).__name__}: {error}", traceback.format_exc()) from None
    return time.monotonic() - started


def _worker_main(conn, runner_pid: int, debug: bool, environment: dict[str, str], intra_op_threads: int) -> None:
    """A worker's life: initialise once, then run the nodes it is sent."""
    _worker_init(runner_pid, debug, environment, intra_op_threads)
    while True:
        task = conn.recv()
        if task is None:
            return
        pipeline_bytes, node_id, launch_environment = task
        saved = {key: os.environ.get(key) for key in launch_environment}
        os.environ.update(launch_environment)
        try:
            seconds = _launch_node(pipeline_bytes, node_id)
            freed_memory.release()
            conn.send(("done", node_id, seconds))
        except BaseException as error:  # noqa: BLE001 - UserError or NodeFailed, both picklable
            freed_memory.release()
            conn.send(("failed", node_id, error))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class _Worker:
    def __init__(self, context, initargs: tuple):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, os.getpid(), *initargs), daemon=True)
        self.process.start()
        child.close()
        self.node: Optional[str] = None
        self.started = 0.0
        self.peak_mib = 0.0
        self.oom_kills_before: Optional[int] = None

    @property
    def busy(self) -> bool:
        return self.node is not None

    def send(self, pipeline_bytes: bytes, node_id: str, environment: dict[str, str]) -> None:
        self.node, self.started, self.peak_mib = node_id, time.monotonic(), 0.0
        self.oom_kills_before = oom_kills()
        self.conn.send((pipeline_bytes, node_id, environment))

    def sample_memory(self) -> float:
        mib = resident_mib(self.process.pid)
        self.peak_mib = max(self.peak_mib, mib)
        return mib

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.process.join(timeout=10)
        except (OSError, ValueError):
            pass
        if self.process.is_alive():
            self.kill()

    def death(self) -> str:
        """What is known of why this worker's process ended."""
        code = self.process.exitcode
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
            text = f"killed by {name}"
        else:
            text = f"exited with status {code}"
        after = oom_kills()
        if self.oom_kills_before is not None and after is not None and after > self.oom_kills_before:
            text += " by the kernel's out-of-memory killer"
        elif code == -signal.SIGKILL:
            text += " (out of memory, a watchdog, or kill -9)"
        if self.peak_mib:
            text += f", {self.peak_mib:,.0f} MiB resident at the last look"
        return text


class ParallelDagRunner(tfx_runner.IrBasedRunner):
    """Runs ready nodes concurrently in `max_workers` worker processes.

    A node whose worker dies is run again on a fresh worker: a trainer up to
    `trainer_relaunches` times (its trials are retried one by one, see the
    module docstring), any other node up to `max_retries` times. A node
    running longer than `node_timeout` seconds ends the run (NodeTimedOut).
    """

    def __init__(
        self,
        max_workers: int = 2,
        debug: bool = False,
        on_node_started: Optional[Callable[[str], None]] = None,
        on_node_finished: Optional[NodeCallback] = None,
        run_id: Optional[str] = None,
        node_timeout: Optional[float] = None,
        max_retries: int = default_of("max_retries"),
        trainer_relaunches: int = 10,
    ):
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._debug = debug
        self._on_node_started = on_node_started or (lambda node_id: None)
        self._on_node_finished = on_node_finished or (lambda node_id, seconds: None)
        self._run_id = run_id
        self._node_timeout = node_timeout
        self._max_retries = max_retries
        self._trainer_relaunches = trainer_relaunches
        self.worker_replacements = 0
        self.relaunches: dict[str, list[str]] = {}

    def run_with_ir(
        self,
        pipeline: pipeline_pb2.Pipeline,
        run_options: Optional[pipeline_pb2.RunOptions] = None,
    ) -> None:
        if run_options is not None:
            raise NotImplementedError("partial runs are not supported by ParallelDagRunner")
        runtime_parameter_utils.substitute_runtime_parameter(
            pipeline,
            {constants.PIPELINE_RUN_ID_PARAMETER_NAME: self._run_id or datetime.datetime.now().isoformat()},
        )
        deployment_config = runner_utils.extract_local_deployment_config(pipeline)
        connection_config = getattr(
            deployment_config.metadata_connection_config,
            deployment_config.metadata_connection_config.WhichOneof("connection_config"),
        )
        # Create the schema here, once: concurrent first connections race on it.
        with metadata.Metadata(connection_config):
            pass

        nodes = [n.pipeline_node for n in pipeline.nodes]
        skipped = {n.node_info.id for n in nodes if n.execution_options.HasField("skip")}
        upstream = {n.node_info.id: set(n.upstream_nodes) - skipped for n in nodes if n.node_info.id not in skipped}
        order = [n.node_info.id for n in nodes if n.node_info.id not in skipped]  # topological
        pipeline_bytes = pipeline.SerializeToString()
        environment = {k: v for k, v in os.environ.items() if k.startswith(("TF_", "MODEL_SEARCH_"))}
        initargs = (self._debug, environment, max(1, (os.cpu_count() or 1) // self._max_workers))
        context = multiprocessing.get_context("spawn")
        memory_limit = worker_memory_limit_mib()

        done: set[str] = set()
        relaunch_environment: dict[str, dict[str, str]] = {}
        workers = [_Worker(context, initargs) for _ in range(self._max_workers)]
        try:
            while len(done) < len(order):
                running = {w.node for w in workers if w.busy}
                for node_id in order:
                    if node_id in done or node_id in running or not upstream[node_id] <= done:
                        continue
                    idle = next((w for w in workers if not w.busy), None)
                    if idle is None:
                        break
                    failpoints.reach(f"runner@{node_id}:ready")
                    self._on_node_started(node_id)
                    idle.send(pipeline_bytes, node_id,
                              {failpoints.NODE_ENV: node_id, **relaunch_environment.get(node_id, {})})
                    running.add(node_id)
                    failpoints.reach(f"runner@{node_id}:start")
                    if failpoints.fires(f"worker@{node_id}:start"):
                        os.kill(idle.process.pid, signal.SIGKILL)
                busy = [w for w in workers if w.busy]
                ready = connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy],
                                        timeout=POLL_SECONDS)
                for worker in busy:
                    worker.sample_memory()
                    if worker.conn in ready or worker.conn.poll():
                        message = self._receive(worker)
                        if message is not None:
                            self._finish(worker, message, done)
                            continue
                    if not worker.process.is_alive():
                        replacement = self._died(worker, context, initargs, relaunch_environment)
                        workers[workers.index(worker)] = replacement
                    elif self._node_timeout and time.monotonic() - worker.started > self._node_timeout:
                        node_id = worker.node
                        worker.kill()
                        raise NodeTimedOut(
                            f"{node_id} ran longer than --node-timeout {self._node_timeout:g} s and was stopped; "
                            "run the same command again to resume, or raise the time-out")
                for index, worker in enumerate(workers):
                    if not worker.busy and len(done) < len(order) and worker.sample_memory() > memory_limit:
                        log.info("replacing a worker process: it uses %.0f MiB (limit %.0f MiB, %s)",
                                 worker.peak_mib, memory_limit, WORKER_MEMORY_ENV)
                        worker.stop()
                        workers[index] = _Worker(context, initargs)
                        self.worker_replacements += 1
        except Stopped:
            self._stop(workers)
            raise
        except BaseException:
            # Do not wait for siblings of a failed node (a trainer may run
            # for minutes); what they finished is in ML Metadata already.
            for worker in workers:
                worker.kill()
            raise
        for worker in workers:
            worker.stop()

    @staticmethod
    def _stop(workers: list[_Worker]) -> None:
        """The run was stopped: each busy worker ends its node (SIGTERM), within
        the grace; then every worker goes."""
        busy = [w for w in workers if w.busy and w.process.is_alive()]
        if busy:
            log.warning("stopping: waiting up to %.0f s for %s to stop", STOP_GRACE_SECONDS,
                        ", ".join(w.node for w in busy))
        for worker in busy:
            os.kill(worker.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while busy and time.monotonic() < deadline:
            connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy],
                            timeout=deadline - time.monotonic())
            busy = [w for w in busy if w.process.is_alive() and not w.conn.poll()]
        for worker in workers:
            worker.kill()

    @staticmethod
    def _receive(worker: _Worker):
        try:
            return worker.conn.recv()
        except (EOFError, OSError):  # the worker died while sending
            return None

    def _finish(self, worker: _Worker, message, done: set[str]) -> None:
        kind, node_id, payload = message
        worker.node = None
        if kind == "failed":
            raise payload
        done.add(node_id)
        self._on_node_finished(node_id, payload)
        failpoints.reach(f"runner@{node_id}:done")

    def _died(self, worker: _Worker, context, initargs: tuple, relaunch_environment: dict) -> _Worker:
        """A fresh worker in place of a dead one, and its node queued again (or the run ends)."""
        node_id, description = worker.node, worker.death()
        worker.kill()
        deaths = self.relaunches.setdefault(node_id, [])
        deaths.append(description)
        budget = self._trainer_relaunches if node_id.startswith("Trainer_") else self._max_retries
        if len(deaths) > budget:
            raise NodeFailed(node_id, f"its worker process died {len(deaths)} times; the last time it was "
                             f"{description}", "\n".join(deaths))
        log.warning("%s: its worker process was %s; starting it again (%d of %d)", node_id, description,
                    len(deaths), budget)
        relaunch_environment[node_id] = {
            WORKER_DEATH_ENV: json.dumps({"pid": worker.process.pid, "description": description})}
        return _Worker(context, initargs)
