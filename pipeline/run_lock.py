"""One `model-search` command at a time writes to a run directory.

Two `run`s of one study at once would both take the same run id, train the
same trial ids and race on each other's files; `gc` must not delete what a
run is writing. The lock is an advisory `flock` on `DIR/.model-search.lock`:
the kernel releases it when its holder dies, however it dies (kill -9
included), so a killed run never leaves it stuck. The file names the holder
(command, pid, host, since when) for the message the second command gets.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
from typing import Iterator

from search_algo.errors import UserError

LOCK_FILE = ".model-search.lock"


class RunDirectoryBusy(UserError):
    """Another model-search command holds the run directory."""


def _holder(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
        return (f"`model-search {info.get('command', '?')}` (pid {info.get('pid')} on {info.get('host')}, "
                f"since {info.get('since')})")
    except (OSError, ValueError):
        return "another model-search command"


@contextlib.contextmanager
def run_directory_lock(output_dir: str, command: str) -> Iterator[None]:
    """Holds the run directory's lock for the duration; RunDirectoryBusy
    (exit status 2) at once if another command holds it."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, LOCK_FILE)
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirectoryBusy(f"{output_dir} is in use by {_holder(path)}; wait for it to finish "
                                   "or stop it, then run again (a stopped run resumes)") from None
        handle.seek(0)
        handle.truncate()
        # No argv: it may hold a --metadata password.
        json.dump({"command": command, "pid": os.getpid(), "host": socket.gethostname(),
                   "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}, handle)
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the flock
