"""The live view of a local run on stderr, drawn by rich.

It shows rounds and trials done out of planned, the trials running now, the
best eval score of the run so far and its trial, the failed trials, the time
elapsed and, under a time budget, the time left. It reads the run's progress
from two places and never from the trainers themselves, so it cannot slow
them: the runner's callbacks (a node started, a node finished: rounds, trials
running) and the study record, where each trial is written the moment it
finishes (components/study_record.py), polled from a thread every
POLL_SECONDS (trials done, failures, the best).

While the view is on - or under `--quiet` - the INFO lines go to DIR/run.log
instead of the terminal, the worker processes' output too; warnings and errors
still reach the terminal. The view is off when stderr is not a terminal (CI,
a pipe), with `--json`, `--quiet` and `--debug`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from typing import Iterator, Optional

log = logging.getLogger(__name__)

LOG_FILE_NAME = "run.log"
# Set for the worker processes (the runner passes MODEL_SEARCH_* on): where their output goes.
LOG_FILE_ENV = "MODEL_SEARCH_LOG_FILE"
POLL_SECONDS = 2.0
REFRESHES_PER_SECOND = 2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def view_wanted(stream, json_output: bool, quiet: bool, debug: bool) -> bool:
    """On a terminal, unless the output is for a program (--json), or asked
    away (--quiet), or the logs are what is wanted (--debug)."""
    if json_output or quiet or debug:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or foreign stream
        return False


def clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class RunView:
    """What a run has done so far, and (when `live`) its view on `console`.

    `time_budget` (seconds): when given, the view shows the time left, counted
    from `budget_started_at` (epoch seconds; default: now). A resumed run's
    budget counts from its first attempt's start, as the search's deadline
    does, so its view is given that start."""

    def __init__(self, config, run_id: str, record=None, live: bool = False, console=None,
                 time_budget: Optional[float] = None, budget_started_at: Optional[float] = None):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.study, self.run_id = config.study_name, run_id
        self.rounds, self.trainers = config.rounds, config.trainers
        self.objective_name = config.objective
        self.time_budget = time_budget
        self._record, self._live_wanted, self._console = record, live, console
        self._lock = threading.Lock()
        self._started = time.monotonic()
        # Wall time, not monotonic: the start may be another process's, on another day.
        self._budget_started_at = budget_started_at if budget_started_at is not None else time.time()
        self._running: dict[str, None] = {}  # node ids, in the order they started
        self._finished_trainers: set[str] = set()
        self._trials: dict[str, object] = {}  # this run's recorded trials by id
        self._seen: set[str] = set()
        self._progress = Progress(TextColumn("{task.description:>7}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                                  console=console, auto_refresh=False)
        self._rounds_task = self._progress.add_task("rounds", total=config.rounds)
        planned = config.rounds * config.trainers * config.trials_per_trainer
        self._trials_task = self._progress.add_task("trials", total=planned)
        self._live = None
        self._stop = threading.Event()
        self._poller: Optional[threading.Thread] = None

    # ------------------------------------------------------------ what happens

    def node_started(self, node_id: str) -> None:
        with self._lock:
            self._running[node_id] = None

    def node_finished(self, node_id: str, seconds: float = 0.0) -> None:
        with self._lock:
            self._running.pop(node_id, None)
            if node_id.startswith("Trainer_"):
                self._finished_trainers.add(node_id)

    def add_trials(self, trials) -> None:
        """Trials read from the study record; those of other runs are ignored."""
        with self._lock:
            for trial in trials:
                if trial.run_id == self.run_id:
                    self._trials[trial.trial_id] = trial

    def poll(self) -> None:
        """Reads the trials recorded since the last poll."""
        if self._record is not None:
            self.add_trials(self._record.new_trials(self._seen))

    # ------------------------------------------------------------ what it shows

    def rounds_done(self) -> int:
        per_round: dict[str, int] = {}
        for node_id in self._finished_trainers:
            round_part = node_id[len("Trainer_r"):].split("_t")[0]
            per_round[round_part] = per_round.get(round_part, 0) + 1
        return sum(count >= self.trainers for count in per_round.values())

    def best(self) -> Optional[tuple[str, str]]:
        """(score as people write it, trial id) of the run's best completed trial."""
        from search_algo.objective import for_metrics
        from search_algo.trial import best_trial

        completed = [t for t in self._trials.values() if t.completed]
        if not completed:
            return None
        objective = for_metrics(completed[0].metrics, self.objective_name)
        trial = best_trial(completed, objective)
        value = objective.value(trial.metrics) if trial else None
        if value is None:
            return None
        score = f"{value:.4f}" if objective.bounded else f"{value:.4g}"
        return f"{objective.label} {score}", trial.trial_id

    def time_left(self) -> Optional[float]:
        """Seconds of the time budget left (negative once over), None without one."""
        if self.time_budget is None:
            return None
        return self.time_budget - (time.time() - self._budget_started_at)

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            elapsed = time.monotonic() - self._started
            running = [_label(node_id, self.rounds, self.trainers) for node_id in self._running]
            trials_running = sum(node_id.startswith("Trainer_") for node_id in self._running)
            failed = sum(not t.completed for t in self._trials.values())
            best = self.best()
            self._progress.update(self._rounds_task, completed=self.rounds_done())
            self._progress.update(self._trials_task, completed=len(self._trials))
        status = Table.grid(padding=(0, 3))
        cells = [f"running {trials_running} trial{'s' if trials_running != 1 else ''}",
                 f"failed {failed}",
                 f"best {best[0]} ({best[1]})" if best else "best -",
                 f"elapsed {clock(elapsed)}"]
        if self.time_budget is not None:
            cells.append(f"left {clock(self.time_left())}")
        status.add_row(*cells)
        header = Text(f"{self.study} {self.run_id}", style="bold")
        header.append(f"  {', '.join(running) if running else 'waiting'}", style="dim")
        return Group(header, self._progress.get_renderable(), status)

    # ------------------------------------------------------------ on and off

    def __enter__(self) -> "RunView":
        if self._live_wanted:
            from rich.live import Live

            self._live = Live(self, console=self._console, refresh_per_second=REFRESHES_PER_SECOND,
                              redirect_stdout=False, redirect_stderr=True, transient=False)
            self._live.start()
            # The stderr handlers write through rich while the view is drawn, so
            # that a warning prints above the view instead of through it.
            self._terminal = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
            self._streams = [h.stream for h in self._terminal]
            for handler in self._terminal:
                handler.setStream(sys.stderr)
            self._poller = threading.Thread(target=self._poll_until_stopped, name="run-view", daemon=True)
            self._poller.start()
        return self

    def close(self) -> None:
        self.__exit__(None, None, None)

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=POLL_SECONDS * 2)
        if self._live is not None:
            self._poll_quietly()
            for handler, stream in zip(self._terminal, self._streams):
                handler.setStream(stream)
            self._live.stop()

    def _poll_until_stopped(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self._poll_quietly()

    def _poll_quietly(self) -> None:
        try:
            self.poll()
        except Exception as error:  # noqa: BLE001 - a view must never stop a run
            log.debug("the run view could not read the study record: %s", error)


def _label(node_id: str, rounds: int, trainers: int) -> str:
    if node_id.startswith("Proposer_r"):
        return f"round {node_id.split('_r')[1]}/{rounds} proposer"
    if node_id.startswith("Trainer_r"):
        round_part, trainer_part = node_id[len("Trainer_r"):].split("_t")
        return f"round {round_part}/{rounds} trainer {int(trainer_part) + 1}/{trainers}"
    return node_id


def start(config, run_id: str, record, live: bool, budget_started_at: Optional[float] = None) -> "RunView":
    """The run's view, drawn on stderr when `live`; `close()` it at the end.
    `budget_started_at`: when the run's time budget started (epoch seconds)."""
    from rich.console import Console

    view = RunView(config, run_id, record, live=live, console=Console(stderr=True),
                   time_budget=getattr(config, "time_budget", None), budget_started_at=budget_started_at)
    return view.__enter__()


@contextlib.contextmanager
def logs_to_file(path: Optional[str]) -> Iterator[None]:
    """INFO lines to `path` (appended) instead of the terminal: the handlers
    on stderr keep warnings and errors only; worker processes started inside
    send their output to the file (LOG_FILE_ENV). Everything is put back
    after. Nothing changes when `path` is None."""
    if path is None:
        yield
        return
    root = logging.getLogger()
    terminal = [h for h in root.handlers if isinstance(h, logging.StreamHandler)
                and not isinstance(h, logging.FileHandler)]
    levels = [h.level for h in terminal]
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(file_handler)
    for handler in terminal:
        handler.setLevel(max(handler.level, logging.WARNING))
    previous = os.environ.get(LOG_FILE_ENV)
    os.environ[LOG_FILE_ENV] = path
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(LOG_FILE_ENV, None)
        else:
            os.environ[LOG_FILE_ENV] = previous
        for handler, level in zip(terminal, levels):
            handler.setLevel(level)
        root.removeHandler(file_handler)
        file_handler.close()


def send_worker_output_to_log_file() -> None:
    """In a worker process: stdout and stderr (its log lines, and anything a
    library prints) go to the run's log file when the view is on."""
    path = os.environ.get(LOG_FILE_ENV)
    if not path:
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
        os.dup2(descriptor, stream.fileno())
    os.close(descriptor)
