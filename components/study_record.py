"""The study record: what a study's runs leave for the runs after them.

A study outlives its runs, and on Vertex AI no component can open an ML
Metadata connection, so the facts later runs need are kept as plain objects
under the study's pipeline root, where every component of every run can read
them - local directories and Cloud Storage alike:

    <pipeline root>/StudyRecord/<study>/
        trials/<trial id>.json                    one trained trial (completed or failed), by its Trainer
        leaderboards/<run id>/<written>-<id>.json  a run's candidates and its chosen model, by the SearchEvaluator
        validations/<run id>/<written>-<id>.json   whether the chosen model was blessed and pushed, by the Pusher
        removed/<trial id>.json                   a trial whose files were removed, by `model-search gc`
        retention/<run id>/<written>-<id>.json     the retention setting (`keep`) a run ran with, by `model-search run`

Every object is written once and never edited: it is created only where no
object of its name exists, complete or not at all (components/write_once.py:
an exclusive, fsynced create on local disk, `ifGenerationMatch=0` on Cloud
Storage), so two writers never edit the same object, even two that collide.
A reader skips an object that is damaged all the same (empty, cut short, not
JSON, a field missing - a disk that lost it, a hand that edited it) with a
warning naming it: one bad object must not stop the study. A trial is
trained once (its id is unique, and a resumed run reuses it), so its object
keeps its first version; leaderboards and validations are named by the
execution that wrote them, and readers take the newest per run. A trial whose files were removed (by the retention setting)
keeps its record; its `removed` object tells later runs not to use its files.
ML Metadata stays the experiment database of local runs; this record is what
the Proposer (through the StudyHistory node), the baseline of the Evaluator
and `model-search trials/leaderboard/report --pipeline-root` read, locally
and on a cluster alike.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import posixpath
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Optional, TypeVar

from tfx.dsl.io import fileio

from components import write_once
from search_algo.trial import Trial, is_absolute

log = logging.getLogger(__name__)
Parsed = TypeVar("Parsed")

RECORD_DIR = "StudyRecord"
TRIALS_DIR = "trials"
LEADERBOARDS_DIR = "leaderboards"
VALIDATIONS_DIR = "validations"
REMOVED_DIR = "removed"
RETENTION_DIR = "retention"
# Reading many small objects from Cloud Storage is latency-bound.
READ_THREADS = 16


def record_root(pipeline_root: str, study: str) -> str:
    return posixpath.join(pipeline_root.rstrip("/"), RECORD_DIR, study)


def studies(pipeline_root: str) -> list[str]:
    """The studies that have a record under this pipeline root."""
    directory = posixpath.join(pipeline_root.rstrip("/"), RECORD_DIR)
    if not fileio.isdir(directory):
        return []
    return sorted(name.rstrip("/") for name in fileio.listdir(directory))


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def _write_once(path: str, payload: dict[str, Any]) -> bool:
    """Writes a new object; False (and nothing written) if it exists already."""
    return write_once.create(path, json.dumps(payload, indent=1, sort_keys=True))


class DamagedObject(ValueError):
    """An object that does not hold what its kind needs."""


# The damaged objects this process has warned about: a study is read several
# times per command, and one warning per object says it all.
_warned: set[str] = set()
_warned_lock = threading.Lock()


def _read_all(paths: Iterable[str], parse: Callable[[Any], Parsed]) -> list[Parsed]:
    """Every object, parsed by `parse` (which raises DamagedObject, KeyError,
    TypeError, ValueError or AttributeError on what it cannot use); a damaged
    one is left out, with a warning naming it. Failing to read at all
    (permissions, an unreachable bucket) is not damage, and is raised."""
    def read(path: str) -> Optional[Parsed]:
        with fileio.open(path, "rb") as handle:
            data = handle.read()
        try:
            if not data.strip():
                raise DamagedObject("empty")
            return parse(json.loads(data))
        except json.JSONDecodeError as error:
            _warn_damaged(path, f"not JSON: {error}")
        except UnicodeDecodeError:
            _warn_damaged(path, "not UTF-8 text")
        except KeyError as error:
            _warn_damaged(path, f"no {error}")
        except (ValueError, TypeError, AttributeError) as error:
            _warn_damaged(path, str(error) or type(error).__name__)
        return None

    paths = list(paths)
    if len(paths) <= 1:
        found = [read(p) for p in paths]
    else:
        with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(paths))) as pool:
            found = list(pool.map(read, paths))
    return [parsed for parsed in found if parsed is not None]


def _warn_damaged(path: str, why: str) -> None:
    with _warned_lock:
        if path in _warned:
            return
        _warned.add(path)
    log.warning("study record: skipped the damaged object %s (%s); the study goes on without it", path, why)


def _fields(data: Any, optional: Optional[dict[str, Any]] = None, **required: Any) -> dict[str, Any]:
    """`data` if it is a JSON object with the `required` fields, each of its
    kind (a type or a tuple of types), and the `optional` ones of theirs if there."""
    if not isinstance(data, dict):
        raise DamagedObject(f"a JSON {type(data).__name__}, not an object")
    for name, kind in {**required, **(optional or {})}.items():
        if name not in data:
            if name in required:
                raise DamagedObject(f"no {name!r}")
        elif not isinstance(data[name], kind):
            raise DamagedObject(f"{name!r} is a {type(data[name]).__name__}")
    return data


NOTHING = type(None)


def _trial(data: Any) -> Trial:
    _fields(data, trial_id=str, run_id=str, architecture=dict, optional={"started_at": (str, NOTHING)})
    return Trial.from_dict(data)


def _leaderboard(data: Any) -> dict[str, Any]:
    return _fields(data, run_id=str, written_at=str, leaderboard=dict, optional={"dataset_spec": (dict, NOTHING)})


def _validation(data: Any) -> dict[str, Any]:
    return _fields(data, run_id=str, written_at=str)


def _retention(data: Any) -> dict[str, Any]:
    return _fields(data, run_id=str, keep=str, written_at=str)


def _objects(directory: str) -> list[str]:
    """Every finished object (`*.json`) under `directory`, at any depth."""
    if not fileio.isdir(directory):
        return []
    found = []
    for folder, _, names in fileio.walk(directory):
        found += [posixpath.join(str(folder), name) for name in names if name.endswith(".json")]
    return sorted(found)


class StudyRecord:
    """The record of one study (`root` = <pipeline root>/StudyRecord/<study>)."""

    def __init__(self, root: str):
        self.root = root.rstrip("/")

    @classmethod
    def of(cls, pipeline_root: str, study: str) -> "StudyRecord":
        return cls(record_root(pipeline_root, study))

    def exists(self) -> bool:
        return fileio.isdir(self.root)

    # ---------------------------------------------------------------- trials

    def add_trial(self, trial: Trial) -> bool:
        """Records a trained trial; `trial.path` must be absolute (or None for a
        failed trial). A trial already recorded keeps its first record."""
        if trial.path and not is_absolute(trial.path):
            raise ValueError(f"trial {trial.trial_id}: the record needs an absolute path, not {trial.path!r}")
        payload = {**trial.to_dict(), "recorded_at": utc_now()}
        return _write_once(posixpath.join(self.root, TRIALS_DIR, f"{trial.trial_id}.json"), payload)

    def trials(self) -> list[Trial]:
        """Every recorded trial of the study, oldest first (by start time)."""
        trials = _read_all(_objects(posixpath.join(self.root, TRIALS_DIR)), _trial)
        return sorted(trials, key=lambda t: (t.started_at or "", t.trial_id))

    def new_trials(self, seen: set[str]) -> list[Trial]:
        """The trials recorded since the objects in `seen` were read (which it
        then names too): a watcher of a run reads each trial once."""
        paths = [p for p in _objects(posixpath.join(self.root, TRIALS_DIR)) if p not in seen]
        seen.update(paths)
        return _read_all(paths, _trial)

    def run_ids(self) -> list[str]:
        """The study's runs, in the order their first trial started."""
        runs: dict[str, None] = {}
        for trial in self.trials():
            runs.setdefault(trial.run_id, None)
        for run_id in self.leaderboards():
            runs.setdefault(run_id, None)
        return list(runs)

    def mark_removed(self, trial: Trial, details: dict[str, Any]) -> bool:
        """Records that a trial's files are being removed - before they are,
        so no later run picks a half-removed trial. False if already recorded."""
        payload = {"trial_id": trial.trial_id, "run_id": trial.run_id, "path": trial.path, "removed_at": utc_now(),
                   **details}
        return _write_once(posixpath.join(self.root, REMOVED_DIR, f"{trial.trial_id}.json"), payload)

    def removed_trial_ids(self) -> set[str]:
        """The trials whose files were removed: their records stay, their files
        are not to be used."""
        directory = posixpath.join(self.root, REMOVED_DIR)
        if not fileio.isdir(directory):
            return set()
        return {name.rstrip("/")[: -len(".json")] for name in fileio.listdir(directory)
                if name.rstrip("/").endswith(".json")}

    # ---------------------------------------------------------- leaderboards

    def add_leaderboard(self, run_id: str, leaderboard: dict[str, Any], writer: str,
                        dataset_spec: Optional[dict[str, Any]] = None) -> str:
        """Records a run's leaderboard; `writer` (the artifact URI of the
        execution) names the object, so a re-executed node adds a new one."""
        payload = {"run_id": run_id, "written_at": utc_now(), "leaderboard": leaderboard,
                   "dataset_spec": dataset_spec}
        return self._add_per_run(LEADERBOARDS_DIR, run_id, writer, payload)

    def leaderboards(self) -> dict[str, dict[str, Any]]:
        """The newest leaderboard record of each run (`run_id` -> record), oldest run first."""
        return _newest_per_run(_read_all(_objects(posixpath.join(self.root, LEADERBOARDS_DIR)), _leaderboard))

    def leaderboard(self, run_id: Optional[str] = None) -> Optional[dict[str, Any]]:
        """A run's leaderboard (default: the latest run's), or None."""
        boards = self.leaderboards()
        if run_id is None:
            return next(reversed(boards.values()))["leaderboard"] if boards else None
        return boards[run_id]["leaderboard"] if run_id in boards else None

    def run_leaderboards(self) -> dict[str, dict[str, Any]]:
        """Each run's newest leaderboard (run id -> leaderboard), oldest run first."""
        return {run_id: record["leaderboard"] for run_id, record in self.leaderboards().items()}

    def dataset_spec(self):
        from search_algo.dataset_spec import DatasetSpec

        records = [r for r in self.leaderboards().values() if r.get("dataset_spec")]
        return DatasetSpec.from_dict(records[-1]["dataset_spec"]) if records else None

    # ------------------------------------------------------------- retention

    def add_retention(self, run_id: str, keep: str, writer: str) -> str:
        """Records the retention setting a run runs with, so that `model-search
        gc` applies the study's own setting, not its default."""
        return self._add_per_run(RETENTION_DIR, run_id, writer, {"run_id": run_id, "keep": keep,
                                                                 "written_at": utc_now()})

    def retention(self) -> Optional[dict[str, Any]]:
        """The retention record written last (its `keep`, `run_id`), or None."""
        records = _read_all(_objects(posixpath.join(self.root, RETENTION_DIR)), _retention)
        return max(records, key=lambda r: r["written_at"]) if records else None

    # ----------------------------------------------------------- validations

    def add_validation(self, validation: dict[str, Any], writer: str) -> str:
        """Records whether a run's chosen model was blessed and pushed."""
        payload = {**validation, "written_at": utc_now()}
        return self._add_per_run(VALIDATIONS_DIR, validation["run_id"], writer, payload)

    def validations(self) -> list[dict[str, Any]]:
        """The newest validation of each run, oldest first: the study's blessing history."""
        return list(_newest_per_run(_read_all(_objects(posixpath.join(self.root, VALIDATIONS_DIR)),
                                              _validation)).values())

    def validation(self, run_id: str) -> Optional[dict[str, Any]]:
        return next((v for v in self.validations() if v["run_id"] == run_id), None)

    def production_model(self) -> Optional[dict[str, Any]]:
        """The validation of the model in production: the latest one pushed."""
        pushed = [v for v in self.validations() if v.get("pushed")]
        return max(pushed, key=lambda v: v["written_at"]) if pushed else None

    def _add_per_run(self, kind: str, run_id: str, writer: str, payload: dict[str, Any]) -> str:
        stamp = datetime.datetime.fromisoformat(payload["written_at"]).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{hashlib.sha256(writer.encode()).hexdigest()[:10]}.json"
        path = posixpath.join(self.root, kind, _safe_name(run_id), name)
        _write_once(path, payload)
        return path


def _newest_per_run(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    newest: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: r["written_at"]):
        newest.pop(record["run_id"], None)  # re-inserted: runs stay in the order of their newest record
        newest[record["run_id"]] = record
    return newest


def _safe_name(run_id: str) -> str:
    """A run id as one path segment (KFP macros and user input may hold anything)."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return cleaned or "_"
