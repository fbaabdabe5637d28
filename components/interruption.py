"""Stopping is not dying: SIGINT and SIGTERM become `Stopped`.

A run stopped by Ctrl-C or `kill` (or a pod deleted on a cluster) has not
failed: nothing in it went wrong, and running it again must resume it. Within
`stop_on_signals()`, the first SIGINT or SIGTERM calls `on_stop` (the trainer
marks the attempt in flight interrupted there, so it is not counted) and raises
`Stopped` in the main thread; a second signal while the stop is under way is
ignored, so that the clean-up is not cut short.

Python runs signal handlers in the main thread only, and a signal the kernel
hands to another thread (TensorFlow's, say) does not wake a main thread that
waits in a system call: its handler would run only when the call returns. So
`on_stop` runs at once on a thread of its own, woken by Python's wakeup file
descriptor, which then passes the signal on to the main thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Callable, Iterator, Optional

from search_algo.errors import Stopped

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(on_stop: Optional[Callable[[str], None]] = None) -> Iterator[None]:
    """SIGINT and SIGTERM raise `Stopped` within the block. Python takes
    signals in the main thread only: elsewhere (an executor in a runner's
    thread) this changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # The first stop signal's name, whether `on_stop` has returned, whether `Stopped` was raised.
    stop: dict = {"name": None, "noticed": False, "raised": False}
    # Reentrant: a second signal may come to the main thread while it runs `on_stop` itself.
    lock = threading.RLock()

    def notice(number: int) -> bool:
        """Calls `on_stop` for the first stop signal only (True then); a caller
        on another thread waits until it has returned."""
        with lock:
            if stop["name"]:
                return False
            stop["name"] = signal.Signals(number).name
            try:
                if on_stop is not None:
                    on_stop(stop["name"])
            finally:
                stop["noticed"] = True
            return True

    def handle(signum: int, frame) -> None:
        notice(signum)
        # Not from within `on_stop` (a second signal): it would cut it short.
        if stop["noticed"] and not stop["raised"]:
            stop["raised"] = True
            raise Stopped(stop["name"])

    def watch(wakeups: int) -> None:
        with os.fdopen(wakeups, "rb", buffering=0) as reader:
            while True:
                data = reader.read(1)
                if not data:
                    return
                if data[0] in STOP_SIGNALS and notice(data[0]):
                    # Wakes the main thread wherever it waits.
                    signal.pthread_kill(threading.main_thread().ident, data[0])

    previous = {number: signal.signal(number, handle) for number in STOP_SIGNALS}
    wakeups, writer = os.pipe()
    os.set_blocking(writer, False)
    previous_wakeup = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    threading.Thread(target=watch, args=(wakeups,), name="stop-signals", daemon=True).start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_wakeup)
        os.close(writer)  # the watcher reads the end of the pipe and goes
        for number, handler in previous.items():
            # None: a handler not installed from Python; the default is the closest.
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
