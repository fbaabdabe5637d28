"""A local TFX runner that runs independent nodes side by side.

TFX's LocalDagRunner launches the nodes of the compiled pipeline IR one after
another. This runner does the same per-node work with TFX's own portable
`Launcher` (driver, cache lookup, executor, publishing to ML Metadata) but
starts every node whose upstream nodes have finished, up to `max_workers` at a
time, each in a worker process with its own ML Metadata connection (TFX's
`Metadata` is not thread-safe). Workers are started once and reused, so TFX is
imported once per worker, not once per node.

TensorFlow keeps about 25 MiB of every model a process builds and fits, even
after `clear_session()` (tensorflow/tensorflow#61791), so a long study's workers
grow trial after trial. When no node is running and a worker has grown past
`worker_memory_limit_mib` (default 2048, or MODEL_SEARCH_WORKER_MEMORY_MIB),
the workers are replaced by fresh ones: memory stays bounded for the price of
one worker start-up (about 20 s here) per replacement.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import datetime
import logging
import multiprocessing
import os
import signal
import time
import traceback
from typing import Callable, Optional

from tfx.dsl.compiler import constants
from tfx.orchestration import metadata
from tfx.orchestration.local import runner_utils
from tfx.orchestration.portable import launcher, runtime_parameter_utils, tfx_runner
from tfx.proto.orchestration import pipeline_pb2

from search_algo.errors import UserError

log = logging.getLogger(__name__)

NodeCallback = Callable[[str, float], None]
DEFAULT_WORKER_MEMORY_LIMIT_MIB = 2048
WORKER_MEMORY_ENV = "MODEL_SEARCH_WORKER_MEMORY_MIB"


def resident_mib(pid: int) -> float:
    """Resident memory of a process in MiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def worker_memory_limit_mib() -> float:
    value = os.environ.get(WORKER_MEMORY_ENV, "")
    try:
        return float(value) if value else DEFAULT_WORKER_MEMORY_LIMIT_MIB
    except ValueError:
        raise UserError(f"{WORKER_MEMORY_ENV}={value!r}: expected a number of MiB") from None


class NodeFailed(Exception):
    """A node failed inside a worker; carries the worker's traceback as text."""

    def __init__(self, node_id: str, summary: str, details: str):
        super().__init__(f"{node_id}: {summary}")
        self.node_id = node_id
        self.summary = summary
        self.details = details

    def __reduce__(self):
        return (NodeFailed, (self.node_id, self.summary, self.details))


def _die_with_parent() -> None:
    """A worker must not outlive a killed runner (kill -9): it would keep
    training and writing to ML Metadata behind the back of the next run."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: best effort only
        pass


def _worker_init(debug: bool, environment: dict[str, str], intra_op_threads: int) -> None:
    _die_with_parent()
    os.environ.update(environment)
    import tensorflow as tf

    # Concurrent trainers share the cores: one TensorFlow thread pool per
    # worker sized to its share beats every worker fighting for all cores.
    tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
    from pipeline import local_runner

    local_runner.quiet_libraries(debug)
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


class ParallelDagRunner(tfx_runner.IrBasedRunner):
    """Runs ready nodes concurrently in `max_workers` worker processes."""

    def __init__(
        self,
        max_workers: int = 2,
        debug: bool = False,
        on_node_started: Optional[Callable[[str], None]] = None,
        on_node_finished: Optional[NodeCallback] = None,
        run_id: Optional[str] = None,
    ):
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._debug = debug
        self._on_node_started = on_node_started or (lambda node_id: None)
        self._on_node_finished = on_node_finished or (lambda node_id, seconds: None)
        self._run_id = run_id

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

        done: set[str] = set()
        running: dict[concurrent.futures.Future, str] = {}
        context = multiprocessing.get_context("spawn")
        memory_limit = worker_memory_limit_mib()
        self.worker_replacements = 0

        def new_pool() -> concurrent.futures.ProcessPoolExecutor:
            return concurrent.futures.ProcessPoolExecutor(
                max_workers=self._max_workers,
                mp_context=context,
                initializer=_worker_init,
                initargs=(self._debug, environment, max(1, (os.cpu_count() or 1) // self._max_workers)),
            )

        pool = new_pool()
        try:
            while len(done) < len(order):
                started = set(running.values())
                for node_id in order:
                    if node_id in done or node_id in started or not upstream[node_id] <= done:
                        continue
                    if len(running) >= self._max_workers:
                        break
                    self._on_node_started(node_id)
                    running[pool.submit(_launch_node, pipeline_bytes, node_id)] = node_id
                finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in finished:
                    node_id = running.pop(future)
                    seconds = future.result()  # re-raises the node's failure
                    done.add(node_id)
                    self._on_node_finished(node_id, seconds)
                idle = not running and len(done) < len(order)
                largest = max((resident_mib(p.pid) for p in _workers(pool)), default=0.0) if idle else 0.0
                if largest > memory_limit:
                    log.info("replacing the worker processes: one uses %.0f MiB (limit %.0f MiB, %s)",
                             largest, memory_limit, WORKER_MEMORY_ENV)
                    pool.shutdown(wait=True)
                    pool = new_pool()
                    self.worker_replacements += 1
        except BaseException:
            # Do not wait for siblings of a failed node (a trainer may run
            # for minutes); what they finished is in ML Metadata already.
            processes = _workers(pool)
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            raise
        pool.shutdown(wait=True)


def _workers(pool: concurrent.futures.ProcessPoolExecutor) -> list:
    return list((getattr(pool, "_processes", None) or {}).values())
