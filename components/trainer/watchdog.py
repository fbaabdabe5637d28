"""The per-trial time limit, enforced from outside the trial.

Training stops itself at the limit between batches (a callback), but building
the model, transferring weights, the teacher's predictions, evaluating and
exporting are outside any batch, and a hung batch never ends. A watchdog
thread in the trainer process watches the whole trial: past the limit plus a
grace of a few seconds it records why in the trial's attempt file and stops
the process (SIGKILL: a hung native call cannot be interrupted otherwise).
The local runner then starts the node again, and the re-run records the trial
as failed with that reason and goes on with the next one; on a cluster the
task fails and its retry (or the next submission) does the same.

So the trainer must have a process of its own - a worker of the local runner,
a cluster's task. Under TFX's BeamDagRunner it runs inside the `model-search`
command, which stopping it would kill: `run` refuses `--time-limit` with
`--runner beam` (pipeline/commands/run.py).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Callable, Optional

# Past the limit, how long the trial may take to stop by itself (between batches).
GRACE_SECONDS = 5.0


def kill_this_process() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class TrialWatchdog:
    """`with TrialWatchdog(limit, on_expire) as watchdog:` around a trial;
    `watchdog.phase = "…"` says what the trial is doing, for the reason."""

    def __init__(self, limit_seconds: Optional[float], on_expire: Callable[[str], None],
                 stop: Callable[[], None] = kill_this_process, grace_seconds: float = GRACE_SECONDS):
        self._limit = limit_seconds
        self._on_expire = on_expire
        self._stop = stop
        self._grace = grace_seconds
        self._done = threading.Event()
        self.phase = "starting"
        self.expired = False

    def __enter__(self) -> "TrialWatchdog":
        if self._limit:
            self._started = time.monotonic()
            threading.Thread(target=self._watch, name="trial-watchdog", daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()

    def _watch(self) -> None:
        if self._done.wait(self._limit + self._grace):
            return
        self.expired = True
        self._on_expire(f"exceeded the per-trial time limit of {self._limit:g} s: stopped from outside after "
                        f"{time.monotonic() - self._started:.0f} s, while {self.phase}")
        self._stop()
