"""One measured `model-search run`: wall time, where the time went, memory.

`run_measured` runs the CLI in a subprocess (as a user would), samples the
resident memory of its whole process tree while it runs, then reads back the
study's trials, its leaderboard and ML Metadata's execution times and splits
the wall time into

- fitting: at least one trial training (`train_seconds` intervals of the
  trials, concurrent ones counted once) or the Distiller training its student;
- evaluation: the Ensembler, SearchEvaluator and TFX Evaluator (ModelValidator) nodes;
- overhead, the rest, by cause: start-up (process start to the first node:
  Python, TFX and TensorFlow imports, compiling the pipeline), data ingestion
  (DataIngest), trainer nodes outside their trials (loading the examples once
  per node, writing trial artifacts), other nodes (StudyHistory, Proposer, Pusher),
  and orchestration (launching nodes, ML Metadata, scheduling: wall time in no
  node at all).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import psutil

# One definition of the interval arithmetic: the run's own summary splits its time the same way
# (union_seconds is this module's API too).
from pipeline.time_spent import epoch_seconds, split_wall_time, union_seconds  # noqa: F401

FITTING_NODES = ("Distiller",)
# ModelValidator is the TFX Evaluator (node id `Evaluator`) checking the winner against the blessed baseline.
EVALUATION_NODES = ("Ensembler", "SearchEvaluator", "ModelValidator")
OTHER_NODES = ("StudyHistory", "Proposer", "StudyPusher")


def machine() -> str:
    """The label every absolute figure carries. The CPU model and whether it has
    AVX-512 are in it because TensorFlow's kernels round differently by
    instruction set: the same seeded study trains to different figures on
    another CPU, not only at another speed."""
    return f"{platform.machine()} {_cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            lines = cpuinfo.read().splitlines()
    except OSError:  # not Linux
        return f"({platform.processor() or 'CPU unknown'})"
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "(CPU unknown)")
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return f"({model}, {'AVX-512' if 'avx512f' in flags else 'no AVX-512'})"


def write_report(out: str, report: dict, markdown: str) -> None:
    """OUT.json (everything measured) and OUT.md (the tables); the tables also go to stdout."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    path.with_suffix(".md").write_text(markdown)
    print(markdown)


def rerender(out: str, markdown) -> None:
    """OUT.md again from OUT.json (a benchmark's `--report-only`), nothing re-measured."""
    report = json.loads(Path(out).with_suffix(".json").read_text())
    Path(out).with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def git_commit() -> str:
    """HEAD, marked `+changes` when the work tree differs from it: a measured
    run imports the code as it is on disk."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


# Benchmark test scores on mnist1d (issue 33) are on a fresh draw per seed, so
# that seeds are independent evidence and no setting was chosen on them: the
# generator is seeded with FRESH_TEST_SEED_OFFSET + the run's seed, a seed
# nothing else uses (study and split seeds are small; the standard set's is
# 42), and 4,000 examples make one example 0.025 points.
FRESH_TEST_SEED_OFFSET = 10_000
FRESH_TEST_SIZE = 4000


def fresh_mnist1d(seed: int) -> str:
    """The built-in mnist1d source with seed `seed`'s own fresh test examples (train and eval the standard ones)."""
    return f"mnist1d?test_seed={FRESH_TEST_SEED_OFFSET + seed}&test_size={FRESH_TEST_SIZE}"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


class MemorySampler(threading.Thread):
    """Resident memory (MiB) of a process and all its descendants, every `interval` seconds.

    The peak is the largest sample (`memory_report`), so a spike shorter than
    `interval` can be missed. The kernel's high-water marks would not do better:
    VmHWM (which psutil does not read for other processes) is one process's own
    peak, and `getrusage(RUSAGE_CHILDREN).ru_maxrss` the peak of the largest
    single descendant that has been waited for. The runner and its workers peak
    at different moments; what is reported is their sum at one moment."""

    def __init__(self, pid: int, interval: float = 2.0):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []
        # Wall time (epoch seconds) of offset 0, to place samples in ML Metadata's node intervals.
        self.started_wall: Optional[float] = None
        self._finished = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        self.started_wall = time.time()
        while not self._finished.wait(self.interval):
            self.samples.append((round(time.monotonic() - started, 1), round(tree_rss_mib(self.pid), 1)))

    def stop(self) -> None:
        self._finished.set()
        self.join()


def tree_rss_mib(root: int) -> float:
    """Resident memory of `root` and its descendants now (0 once it is gone)."""
    try:
        process = psutil.Process(root)
        tree = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for member in tree:
        try:
            total += member.memory_info().rss
        except psutil.Error:  # ended between the listing and the reading
            pass
    return total / 2**20


def peak_within(samples: list[tuple[float, float]], started_wall: float,
                intervals: list[tuple[float, float]]) -> Optional[float]:
    """The largest memory sample taken inside any of `intervals` (epoch seconds);
    samples are (seconds since `started_wall`, MiB). None if none falls inside."""
    inside = [mib for offset, mib in samples
              if any(start <= started_wall + offset <= end for start, end in intervals)]
    return max(inside, default=None)


def measured_process(command: list[str], sample_interval: float = 2.0, cwd: Optional[Path] = None,
                     ) -> tuple[str, str, MemorySampler, float]:
    """Runs `command` to its end, sampling its process tree's memory:
    (stdout, stderr, the sampler, wall seconds). A failure raises with its stderr's end."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    sampler = MemorySampler(process.pid, sample_interval)
    sampler.start()
    stdout, stderr = process.communicate()
    sampler.stop()
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {process.returncode}:\n{stderr[-3000:]}")
    return stdout, stderr, sampler, wall


def run_measured(args: list[str], output: Path, sample_interval: float = 2.0, product: Optional[Path] = None) -> dict:
    """Runs `model-search run ARGS --output OUTPUT --json` in a fresh OUTPUT and
    measures it, sampling memory every `sample_interval` seconds. `product`: the
    checkout whose `model-search` runs (its `pipeline` package is imported from
    there: `python -m` puts the working directory first); default this one."""
    if output.exists():
        raise FileExistsError(f"{output}: the measured run needs a fresh output directory")
    command = cli("run", *args, "--output", str(output), "--json")
    started_wall = time.time()
    stdout, stderr, sampler, wall = measured_process(command, sample_interval, cwd=product)
    summary = json.loads(stdout)
    trials = json.loads(subprocess.run(cli("trials", "--output", str(output), "--json"),
                                       capture_output=True, text=True, check=True, cwd=product).stdout)
    leaderboard = json.loads(Path(summary["leaderboard"]).read_text())
    nodes = node_intervals(output / "metadata.sqlite")
    return {
        "command": "model-search " + " ".join(["run", *args, "--output", "DIR"]),
        "wall_seconds": round(wall, 1),
        "summary": {**{k: summary[k] for k in ("study", "run_id", "chosen", "num_params", "chosen_metrics", "trials")},
                    # Under `--time-budget`: the budget kept or not, and the run's own split of its time.
                    **{k: summary[k] for k in ("time_budget", "time_spent") if summary.get(k)}},
        "trials": trials,
        "leaderboard": leaderboard,
        "time": breakdown(started_wall, started_wall + wall, trials, nodes),
        "span": [started_wall, started_wall + wall],
        "nodes": nodes,
        "memory": {**memory_report(sampler.samples),
                   # pipeline/parallel_runner.py logs each time it replaces its workers for memory.
                   "worker_replacements": stderr.count("replacing the worker processes"),
                   "sample_interval": sample_interval,
                   "peak_mib_by_node": {
                       name: peak_within(sampler.samples, sampler.started_wall,
                                         [(n["start"], n["end"]) for n in nodes if n["node"] == name])
                       for name in sorted({n["node"] for n in nodes})}},
    }


def node_intervals(metadata_path: Path) -> list[dict]:
    """(node kind, start, end) of every execution, from ML Metadata (epoch
    seconds); the output directory is fresh, so that is this run."""
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(str(metadata_path)))
    types = {t.id: t.name for t in store.get_execution_types()}
    return [
        {"node": types.get(e.type_id, "?").rsplit(".", 1)[-1],
         "start": e.create_time_since_epoch / 1000, "end": e.last_update_time_since_epoch / 1000}
        for e in store.get_executions()
    ]


def breakdown(start: float, end: float, trials: list[dict], nodes: list[dict]) -> dict:
    """Wall time by cause; every category leaves out what the ones before it cover."""
    def of(names) -> list[tuple[float, float]]:
        return [(n["start"], n["end"]) for n in nodes if n["node"] in names]

    trial_spans = [(epoch_seconds(t.get("started_at")), epoch_seconds(t.get("finished_at"))) for t in trials]
    trial_spans = [(a, b) for a, b in trial_spans if a is not None and b is not None]
    first_node = min((n["start"] for n in nodes), default=end)
    seconds = split_wall_time(start, end, [
        ("fitting", trial_spans + of(FITTING_NODES)),
        ("evaluation", of(EVALUATION_NODES)),
        ("startup", [(start, first_node)]),
        ("data_ingest", of(("DataIngest",))),
        ("trainer_nodes_outside_trials", of(("TrialTrainer",))),
        ("other_nodes", of(OTHER_NODES)),
    ])
    wall = end - start
    overhead = wall - seconds["fitting"] - seconds["evaluation"]
    return {
        "seconds": seconds,
        "wall_seconds": round(wall, 1),
        "overhead_seconds": round(overhead, 1),
        "overhead_share": round(overhead / wall, 3),
        "trial_train_seconds_sum": round(sum(t.get("train_seconds") or 0 for t in trials), 1),
        "node_seconds": {name: round(sum(n["end"] - n["start"] for n in nodes if n["node"] == name), 1)
                         for name in sorted({n["node"] for n in nodes})},
    }


def memory_report(samples: list[tuple[float, float]]) -> dict:
    """Peak resident memory, and whether it grows: the median of the last
    quarter of the samples against the second quarter's (after start-up)."""
    if len(samples) < 8:
        return {"peak_mib": max((m for _, m in samples), default=None), "samples": samples}
    values = [m for _, m in samples]
    quarter = len(values) // 4
    second = sorted(values[quarter:2 * quarter])[quarter // 2]
    last = sorted(values[-quarter:])[quarter // 2]
    return {"peak_mib": max(values), "median_second_quarter_mib": second, "median_last_quarter_mib": last,
            "growth_mib": round(last - second, 1), "samples": samples[:: max(1, len(samples) // 200)]}
