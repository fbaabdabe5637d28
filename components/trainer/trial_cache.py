"""The trial cache: what a trainer finished, kept for the re-run of a run that
died, and what it started and never finished.

`<root>/<key>/` holds, for one trial (the key identifies the trial, its
settings, the code and the data):
- `attempt-<n>.json`, written before attempt n starts: the trial, the process
  running it, when it started, and - written by the watchdog before it stops
  the process - why it was stopped (`reason`; `final` when retrying cannot
  help, such as the time limit), or that the run was stopped while it ran
  (`interrupted`: SIGINT, SIGTERM);
- `files/` (a completed trial's files), then `result.json` (its record),
  written last: only a complete entry has a result.

A re-run reuses a result only after checking it: a result that does not
parse, or a completed trial whose files are missing, is discarded and the
trial trained again. An attempt without a result is an attempt whose process
died: the trial is tried again at most `max_retries` times, then recorded
failed with the reason. An attempt the run's stop interrupted does not count.

`model-search run --retry-failed` trains failed trials again: their result
and attempts move to `retried-<request>/` (one request per command), so the
trial starts afresh with every retry; a trial that fails again within the same
request keeps its new result.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import posixpath
import socket
from typing import Any, Optional

from tfx.dsl.io import fileio

from components import files, trial_files
from search_algo.trial import COMPLETED, FAILED, Trial

log = logging.getLogger(__name__)

RESULT_FILE = "result.json"
FILES_DIR = "files"
ATTEMPT_PREFIX = "attempt-"
RETRIED_PREFIX = "retried-"
# Files a completed trial cannot be used without (its SavedModel is exported
# only when a post-search node picks it: components/trial_model.py).
REQUIRED_FILES = (trial_files.TRIAL_FILE, trial_files.WEIGHTS_FILE)
# Set by the local runner when it relaunches a node whose worker process died.
WORKER_DEATH_ENV = "MODEL_SEARCH_WORKER_DEATH"
# Set by `model-search run --retry-failed`: the request's id (one per command).
RETRY_FAILED_ENV = "MODEL_SEARCH_RETRY_FAILED"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


@dataclasses.dataclass
class Attempt:
    path: str
    number: int
    record: dict[str, Any]

    @property
    def reason(self) -> Optional[str]:
        return self.record.get("reason")

    @property
    def final(self) -> bool:
        return bool(self.record.get("final"))

    @property
    def interrupted(self) -> bool:
        """The run was stopped while this attempt ran: the trial did not fail."""
        return bool(self.record.get("interrupted"))


def missing_files(trial_dir: str) -> list[str]:
    return [name for name in REQUIRED_FILES if not fileio.exists(posixpath.join(trial_dir, name))]


class TrialCache:
    def __init__(self, root: str):
        self.root = root.rstrip("/")

    def _entry(self, key: str) -> str:
        return posixpath.join(self.root, key)

    def files_dir(self, key: str) -> str:
        return posixpath.join(self._entry(key), FILES_DIR)

    def lookup(self, key: str) -> Optional[Trial]:
        """The finished trial of `key`, checked; None if there is none (or it
        was unusable, then it is removed so the trial trains again)."""
        record = posixpath.join(self._entry(key), RESULT_FILE)
        if not fileio.exists(record):
            return None
        try:
            trial = Trial.from_json(files.read_text(record))
        except (ValueError, KeyError, TypeError) as error:
            log.warning("trial cache %s: unreadable result (%s); training the trial again", record, error)
            self._discard(key)
            return None
        if trial.status == COMPLETED:
            missing = missing_files(self.files_dir(key))
            if missing:
                log.warning("trial cache %s: %s is missing; training trial %s again", self._entry(key),
                            ", ".join(missing), trial.trial_id)
                self._discard(key)
                return None
        return trial

    def store(self, key: str, trial: Trial, trial_dir: str) -> None:
        """Keeps a finished trial: its files, then its result (written last)."""
        if trial.status == COMPLETED:
            files.copy_tree(trial_dir, self.files_dir(key))
        files.write_text(posixpath.join(self._entry(key), RESULT_FILE), trial.to_json())

    def attempts(self, key: str) -> list[Attempt]:
        """The attempts of `key` so far, oldest first."""
        entry = self._entry(key)
        if not fileio.isdir(entry):
            return []
        found = []
        for name in fileio.listdir(entry):
            name = name.rstrip("/")
            if name.startswith(ATTEMPT_PREFIX) and name.endswith(".json"):
                path = posixpath.join(entry, name)
                try:
                    record = json.loads(files.read_text(path))
                except ValueError:
                    record = {}
                found.append(Attempt(path, int(name[len(ATTEMPT_PREFIX):-len(".json")]), record))
        return sorted(found, key=lambda attempt: attempt.number)

    def begin_attempt(self, key: str, trial: Trial, deadline_seconds: Optional[float]) -> Attempt:
        number = len(self.attempts(key)) + 1
        record = {"trial_id": trial.trial_id, "run_id": trial.run_id, "pid": os.getpid(),
                  "host": socket.gethostname(), "started_at": _now(), "time_limit": deadline_seconds}
        path = posixpath.join(self._entry(key), f"{ATTEMPT_PREFIX}{number}.json")
        files.write_text(path, json.dumps(record))
        return Attempt(path, number, record)

    def counted_attempts(self, key: str) -> list[Attempt]:
        """The attempts that count against `max_retries`: not those the run's
        stop interrupted."""
        return [attempt for attempt in self.attempts(key) if not attempt.interrupted]

    def retry(self, key: str, request: str) -> bool:
        """Sets a failed trial's result and attempts aside (`retried-<request>/`)
        so that it trains afresh; False if this request has done so already
        (the trial failed again within it: its new result stands)."""
        aside = posixpath.join(self._entry(key), f"{RETRIED_PREFIX}{request}")
        if self.retried(key, request):
            return False
        fileio.makedirs(aside)
        for attempt in self.attempts(key):
            fileio.rename(attempt.path, posixpath.join(aside, posixpath.basename(attempt.path)), overwrite=True)
        # Last: until the result has moved, the request has not retried the trial.
        fileio.rename(posixpath.join(self._entry(key), RESULT_FILE), posixpath.join(aside, RESULT_FILE), overwrite=True)
        return True

    def retried(self, key: str, request: str) -> bool:
        return fileio.exists(posixpath.join(self._entry(key), f"{RETRIED_PREFIX}{request}", RESULT_FILE))

    def _discard(self, key: str) -> None:
        try:
            fileio.rmtree(self._entry(key))
        except Exception:  # noqa: BLE001 - a later store() overwrites what is left
            log.debug("could not remove %s", self._entry(key), exc_info=True)


def stop_reason(attempt: Attempt, reason: str, final: bool) -> None:
    """Says in the attempt's file why its process is being stopped (the
    watchdog, just before it stops the process)."""
    files.write_text(attempt.path, json.dumps({**attempt.record, "reason": reason, "final": final}))


def mark_interrupted(attempt: Attempt, signal_name: str) -> None:
    """Says in the attempt's file that the run was stopped while it ran, so
    the attempt is not counted against the trial."""
    files.write_text(attempt.path, json.dumps({**attempt.record, "interrupted": True,
                                               "reason": f"the run was stopped ({signal_name})"}))


def describe_death(attempt: Attempt) -> str:
    """Why an attempt ended without a result, as well as is known."""
    if attempt.reason:
        return attempt.reason
    death = os.environ.get(WORKER_DEATH_ENV)
    if death:
        info = json.loads(death)
        if info.get("pid") == attempt.record.get("pid"):
            return f"the process training it died: {info.get('description')}"
    return ("the process training it died without a word (out of memory, a crash in native code, "
            "or the run was stopped)")


def failed_after_attempts(proposal: Trial, attempts: list[Attempt]) -> Trial:
    last = describe_death(attempts[-1])
    if attempts[-1].final:
        error = last
    else:
        error = f"{last} ({len(attempts)} attempts)"
    return dataclasses.replace(proposal, status=FAILED, error=error, started_at=attempts[0].record.get("started_at"),
                               finished_at=_now())
