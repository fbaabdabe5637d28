"""Freeing a local run directory's disk: the study's retention setting (`keep`)
applied, and what no run will use again removed (`model-search gc`, and the
end of every `model-search run` unless `keep` is `all`). Each run records its
setting in the study record; `gc` applies it unless `--keep` says otherwise.

What may go, by category:
- `trials`: the folders of trials of finished runs that the retention does
  not keep (search_algo/retention.py says which are always kept). Their
  records stay; the study record marks them `removed` first, so no later run
  uses their files (StudyHistory hands them on without a path).
- `trial_cache`: `pipeline_root/TrialCache/<study>/<key>/`, kept only so that a
  run that died resumes without training again: useless once its run has
  finished, as trial ids are never reused.
- `run_models`: the Ensembler's, Distiller's, SearchEvaluator's and Pusher's
  models of finished runs whose model never was in production and that are
  not the latest run.
- `orphans`: `pipeline_root/<node id>/<output key>/<execution id>/` folders
  that are no LIVE artifact published by a COMPLETE or CACHED execution: what
  executions that were killed (or failed) left behind.
- `serving`: versions under `DIR/serving/` without `saved_model.pb` (or
  `saved_model.pbtxt`, the text form TensorFlow also loads), which TFX's
  Pusher copies last: a push that was killed. Nothing ever serves or
  completes one (a resumed Pusher pushes a new version), so it goes even while
  its run is unfinished.

Never touched: anything of a run that has not finished (its trials, their
cache entries, its executions' folders), the trials an unfinished run's
history lists, the models of runs whose model is or was in production and of
the latest run, every file the study record points to (kept trials, models in
production), complete serving versions, and anything outside the run
directory. Symbolic links are never followed, neither when sizing nor when
removing: a link, and whatever lies behind one, stays, and nothing is removed
whose real path is not inside the run directory's real path. ML Metadata is
left as it is: a trial's TrialResults artifact holds other trials too, and
whether a run finished is read from its models' artifacts.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import posixpath
import shutil
import stat
from typing import Any, Iterable, Optional

from tfx.dsl.io import fileio

from components import keys
from components.keys import RUN_ID_PROPERTY
from search_algo.errors import UserError
from search_algo.objective import Objective, resolve
from search_algo.retention import ALL, Retention, kept_trials, parse_retention
from search_algo.trial import Trial, trials_from_json

log = logging.getLogger(__name__)

TRIALS, TRIAL_CACHE, RUN_MODELS, ORPHANS, SERVING = "trials", "trial_cache", "run_models", "orphans", "serving"
CATEGORIES = (TRIALS, TRIAL_CACHE, RUN_MODELS, ORPHANS, SERVING)
TITLES = {
    TRIALS: "trial folders not kept",
    TRIAL_CACHE: "trial-cache entries of finished runs",
    RUN_MODELS: "models of runs never in production",
    ORPHANS: "folders of killed or failed executions",
    SERVING: "half-pushed serving versions",
}
TRIAL_CACHE_DIR = "TrialCache"
# Folders of a pipeline root that are no node's.
NOT_NODES = {"StudyRecord", TRIAL_CACHE_DIR, "tensorboard", "serving"}
# The two names TensorFlow's loader accepts (tensorflow/python/saved_model/constants.py).
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
# What gc applies to a study that recorded no retention setting (its runs predate
# the record): it cannot know, so no trial's files go.
UNRECORDED_RETENTION = Retention(ALL)
MODEL_TYPES = ("Model", "PushedModel")
TRIAL_RESULTS_TYPE = "components.TrialResults"
TRIAL_HISTORY_TYPE = "components.TrialHistory"


@dataclasses.dataclass
class Removal:
    category: str
    path: str
    bytes: int
    subject: str  # what it is: a trial id, a run id, an execution, a version


@dataclasses.dataclass
class StudyPlan:
    study: str  # the pipeline name
    finished_runs: list[str]
    unfinished_runs: list[str]
    trials: int
    retention: Retention  # what was applied to its trials
    retention_from: str  # where that came from: "--keep", the run that recorded it, or "nothing recorded"
    kept: dict[str, str]  # trial id -> why its files stay
    to_mark: list[Trial]  # completed trials whose files go: recorded `removed` first
    already_removed: int


@dataclasses.dataclass
class Plan:
    output_dir: str
    retention: Optional[Retention]  # the explicit one; None: each study's recorded one
    studies: list[StudyPlan]
    removals: list[Removal]
    linked: list[str] = dataclasses.field(default_factory=list)  # left: symbolic links, or behind one

    def freed(self) -> dict[str, dict[str, int]]:
        return {category: {"count": sum(r.category == category for r in self.removals),
                           "bytes": sum(r.bytes for r in self.removals if r.category == category)}
                for category in CATEGORIES}


# ------------------------------------------------------------------ file helpers

def _is_local(path: str) -> bool:
    return "://" not in path


def _lstat(path: str) -> Optional[os.stat_result]:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _is_directory(path: str) -> bool:
    """A directory - locally, not a symbolic link to one."""
    if not _is_local(path):
        return fileio.isdir(path)
    found = _lstat(path)
    return found is not None and stat.S_ISDIR(found.st_mode)


def _exists(path: str) -> bool:
    """Exists - locally, a symbolic link exists even when what it names does not."""
    return _lstat(path) is not None if _is_local(path) else fileio.exists(path)


def size_of(path: str) -> int:
    """Bytes of the files under `path` (or of the file). Locally, symbolic
    links are not followed: what one names is not the directory's."""
    if _is_local(path):
        return _local_size(path)
    if not fileio.exists(path):
        return 0
    if not fileio.isdir(path):
        return int(fileio.stat(path).length)
    total = 0
    for directory, _, names in fileio.walk(path):
        for name in names:
            try:
                total += int(fileio.stat(posixpath.join(str(directory), name)).length)
            except fileio.NotFoundError:
                pass
    return total


def _local_size(path: str) -> int:
    found = _lstat(path)
    if found is None or stat.S_ISLNK(found.st_mode):
        return 0
    if not stat.S_ISDIR(found.st_mode):
        return found.st_size
    total = 0
    # os.walk enters no linked directory (followlinks=False), so a link loop ends.
    for directory, _, names in os.walk(path):
        for name in names:
            entry = _lstat(os.path.join(directory, name))
            if entry is not None and stat.S_ISREG(entry.st_mode):
                total += entry.st_size
    return total


def _children(directory: str) -> list[str]:
    if not _is_directory(directory):
        return []
    if _is_local(directory):
        try:
            return sorted(os.listdir(directory))
        except OSError:
            return []
    return sorted(name.rstrip("/") for name in fileio.listdir(directory))


def _removable(path: str, output_dir: str) -> bool:
    """`path` lies strictly inside the run directory's real path, and neither it
    nor a folder between the two is a symbolic link: removing it removes only
    the run directory's own files."""
    if not _is_local(path) or not _inside(path, output_dir):
        return False
    relative = os.path.relpath(os.path.normpath(path), os.path.normpath(output_dir))
    return os.path.realpath(path) == os.path.join(os.path.realpath(output_dir), relative)


def _remove(path: str) -> None:
    """Removes a local file or folder; shutil.rmtree unlinks the links inside
    a folder without following them (and refuses a link itself)."""
    if stat.S_ISDIR(os.lstat(path).st_mode):
        shutil.rmtree(path)
    else:
        os.remove(path)


def _inside(path: str, root: str) -> bool:
    """`path` is strictly below `root` (both absolute local paths)."""
    path, root = os.path.normpath(path), os.path.normpath(root)
    return path.startswith(root.rstrip(os.sep) + os.sep)


def _at_or_inside(path: str, root: str) -> bool:
    return os.path.normpath(path) == os.path.normpath(root) or _inside(path, root)


def _read_json(path: str) -> Optional[dict[str, Any]]:
    try:
        with fileio.open(path) as handle:
            value = json.loads(handle.read())
        return value if isinstance(value, dict) else None
    except Exception:  # noqa: BLE001 - missing, half-written or not JSON: no answer
        return None


# ----------------------------------------------------------------- ML Metadata

class _Metadata:
    """What gc needs of ML Metadata, read once: artifacts, the executions that
    published them, and which run each execution belongs to."""

    def __init__(self, store):
        from ml_metadata.proto import metadata_store_pb2 as pb

        self.artifact_types = {t.id: t.name for t in store.get_artifact_types()}
        self.artifacts = {a.id: a for a in store.get_artifacts()}
        executions = store.get_executions()
        self.executions = {e.id: e for e in executions}
        events = store.get_events_by_execution_ids(list(self.executions)) if executions else []
        self.producers: dict[int, set[int]] = {}  # artifact -> executions that published it
        touched: dict[int, set[int]] = {}  # execution -> every artifact it read or published
        for event in events:
            touched.setdefault(event.execution_id, set()).add(event.artifact_id)
            if event.type == pb.Event.OUTPUT:
                self.producers.setdefault(event.artifact_id, set()).add(event.execution_id)
        self.succeeded = {pb.Execution.COMPLETE, pb.Execution.CACHED}
        self.live_uris = {
            os.path.normpath(artifact.uri) for artifact in self.artifacts.values()
            if artifact.state == pb.Artifact.LIVE and artifact.uri
            and any(self.executions[e].last_known_state in self.succeeded for e in self.producers.get(artifact.id, ()))
        }
        self.pipeline_of: dict[int, str] = {}  # execution -> pipeline name
        self.pipeline_artifacts: dict[str, list[Any]] = {}
        for context in store.get_contexts_by_type("pipeline"):
            for execution in store.get_executions_by_context(context.id):
                self.pipeline_of[execution.id] = context.name
            self.pipeline_artifacts[context.name] = sorted(store.get_artifacts_by_context(context.id),
                                                           key=lambda a: a.id)
        self.node_ids = {c.name.split(".", 1)[1] for c in store.get_contexts_by_type("node") if "." in c.name}
        # One `model-search run` is one TFX pipeline run: an execution without a
        # run id of its own (DataIngest) belongs to the run its siblings name.
        own_runs = {e: {r for r in (self.run_id(a) for a in touched.get(e, ())) if r} for e in self.executions}
        self.runs_of: dict[int, set[str]] = {e: set(runs) for e, runs in own_runs.items()}
        self.newest_pipeline_run: dict[str, set[int]] = {}  # pipeline -> executions of its latest TFX run
        newest_context: dict[str, int] = {}
        for context in store.get_contexts_by_type("pipeline_run"):
            members = [e.id for e in store.get_executions_by_context(context.id)]
            siblings = set().union(*(own_runs.get(e, set()) for e in members)) if members else set()
            for execution_id in members:
                self.runs_of[execution_id] |= siblings
                pipeline = self.pipeline_of.get(execution_id)
                if pipeline is not None and context.id >= newest_context.get(pipeline, -1):
                    newest_context[pipeline] = context.id
                    self.newest_pipeline_run[pipeline] = set(members)

    def run_id(self, artifact_id: int) -> Optional[str]:
        artifact = self.artifacts.get(artifact_id)
        value = artifact.custom_properties.get(RUN_ID_PROPERTY) if artifact is not None else None
        return value.string_value if value is not None and value.HasField("string_value") else None

    def live(self, pipeline: str, type_name: str) -> list[Any]:
        from ml_metadata.proto import metadata_store_pb2 as pb

        return [a for a in self.pipeline_artifacts.get(pipeline, ())
                if self.artifact_types.get(a.type_id) == type_name and a.state == pb.Artifact.LIVE]


# ----------------------------------------------------------------------- plan

@dataclasses.dataclass
class _Study:
    """One study of the run directory, as gc sees it."""

    name: str
    finished: set[str]
    unfinished: set[str]
    latest_run: Optional[str]
    pushed_runs: set[str]
    plan: StudyPlan
    protected_paths: set[str]  # files the study record points to that must stay


def plan_cleanup(output_dir: str, connection_config, retention: Optional[Retention],
                 studies: Optional[Iterable[str]] = None) -> Plan:
    """What `apply` would remove from the run directory, and why the rest stays.
    `retention` overrides the one each study recorded (None: the recorded one).
    `studies` (pipeline names) limits the per-study categories to those."""
    from components.study_record import StudyRecord
    from pipeline import factory, metadata_uri

    output_dir = os.path.abspath(output_dir)
    root = factory.pipeline_root(output_dir)
    metadata = _Metadata(metadata_uri.connect(connection_config))
    if metadata.artifacts and not any(_inside(a.uri, root) for a in metadata.artifacts.values() if a.uri):
        raise UserError(f"the ML Metadata of {output_dir} names no artifact under {root}: was the directory moved "
                        "or copied, or is --metadata another directory's? gc removes nothing it cannot match")
    wanted = set(studies) if studies is not None else None
    known = [name for name in metadata.pipeline_artifacts if wanted is None or name in wanted]
    views = [_study_view(connection_config, name, StudyRecord.of(root, name), metadata, retention) for name in known]
    removals: list[Removal] = []
    for view in views:
        removals += _trial_folders(view, metadata, root)
    removals += _trial_cache_entries(root, {v.name: v for v in views})
    for view in views:
        removals += _run_models(view, metadata, root)
    protected = set().union(*(v.protected_paths for v in views)) if views else set()
    removals += _orphans(root, metadata, {v.name: v for v in views}, protected, wanted)
    removals += _half_pushed(os.path.join(output_dir, factory.SERVING_DIR))
    unsafe = [r.path for r in removals if not _inside(r.path, output_dir)]
    if unsafe:
        raise RuntimeError(f"gc planned to remove {unsafe[0]}, outside {output_dir}")
    linked = [r for r in removals if not _removable(r.path, output_dir)]
    for removal in linked:
        log.warning("gc leaves %s: it is a symbolic link or lies behind one", removal.path)
    refused_trials = {r.subject for r in linked if r.category == TRIALS}
    for view in views:  # a trial whose files stay is not marked removed
        view.plan.to_mark = [t for t in view.plan.to_mark if t.trial_id not in refused_trials]
    return Plan(output_dir, retention, [v.plan for v in views], [r for r in removals if r not in linked],
                [r.path for r in linked])


def record_retention(record, run_id: str, keep: str) -> None:
    """Records the retention setting a run runs with, unless the study's latest
    record says the same for that run already."""
    latest = record.retention()
    if latest is None or (latest.get("run_id"), latest.get("keep")) != (run_id, keep):
        record.add_retention(run_id, keep, writer=f"model-search run {run_id} {os.getpid()}")


def study_retention(record, explicit: Optional[Retention]) -> tuple[Retention, str]:
    """The retention to apply to a study, and where it comes from."""
    if explicit is not None:
        return explicit, "--keep"
    recorded = record.retention() if record.exists() else None
    if recorded is None:
        return UNRECORDED_RETENTION, "nothing recorded"
    return parse_retention(recorded["keep"]), f"recorded by {recorded['run_id']}"


def _study_view(connection_config, name: str, record, metadata: _Metadata, explicit: Optional[Retention]) -> _Study:
    from pipeline.study_store import StudyStore

    store = StudyStore(connection_config, name, record=record)
    by_id: dict[str, Trial] = {t.trial_id: t for t in (record.trials() if record.exists() else [])}
    for trial in store.trials():
        by_id.setdefault(trial.trial_id, trial)
    trials = list(by_id.values())
    finished = store.finished_run_ids()
    runs = list(store.run_ids())
    recorded_runs = record.run_ids() if record.exists() else []
    known_runs = set(runs) | set(recorded_runs) | {t.run_id for t in trials} | {
        r for r in (metadata.run_id(a.id) for a in metadata.pipeline_artifacts.get(name, ())) if r}
    unfinished = known_runs - finished
    boards = {run_id: entry["leaderboard"] for run_id, entry in
              (record.leaderboards() if record.exists() else {}).items()}
    for run_id in finished - set(boards):
        board = store.leaderboard(run_id)
        if board is not None:
            boards[run_id] = board
    validations = record.validations() if record.exists() else []
    pushed_runs = {v["run_id"] for v in validations if v.get("pushed")}
    for run_id in finished - {v["run_id"] for v in validations}:
        validation = store.validation(run_id)
        if validation and validation.get("pushed"):
            pushed_runs.add(run_id)
    retention, retention_from = study_retention(record, explicit)
    in_use = _histories_in_use(metadata, name, unfinished, trials)
    removed = record.removed_trial_ids() if record.exists() else set()
    kept = kept_trials(trials, retention, _objective(record, store, trials, boards, runs), finished, boards,
                       in_use, removed)
    to_mark = [t for t in trials if t.completed and t.run_id in finished and t.trial_id not in kept
               and t.trial_id not in removed]
    protected = {t.path for t in trials if t.path and t.trial_id in kept and t.trial_id not in removed}
    for validation in validations:
        protected |= {validation.get("model_uri"), validation.get("baseline_model")}
    protected = {os.path.normpath(p) for p in protected if p and not ("://" in p)}
    ordered = sorted(known_runs, key=lambda r: (runs.index(r) if r in runs else len(runs), r))
    plan = StudyPlan(name, [r for r in ordered if r in finished], [r for r in ordered if r in unfinished],
                     len(trials), retention, retention_from,
                     {t.trial_id: kept[t.trial_id] for t in trials if t.trial_id in kept}, to_mark, len(removed))
    return _Study(name, finished, unfinished, runs[-1] if runs else None, pushed_runs, plan, protected)


def _objective(record, store, trials: list[Trial], boards: dict[str, dict], runs: list[str]) -> Objective:
    """The objective the study's latest finished run was chosen by."""
    spec = (record.dataset_spec() if record.exists() else None) or store.dataset_spec()
    if spec is not None:
        task = spec.task
    else:
        completed = [t for t in trials if t.completed]
        task = "classification" if any("accuracy" in t.metrics for t in completed) else "regression"
    latest = sorted(boards, key=lambda r: (runs.index(r) if r in runs else -1, r))
    name = (boards[latest[-1]].get("objective") or {}).get("metric") if latest else None
    return resolve(name, task)


def _histories_in_use(metadata: _Metadata, pipeline: str, unfinished: set[str],
                      trials: list[Trial]) -> dict[str, set[str]]:
    """An unfinished run -> the trials its history lists: when it resumes, its
    nodes may pick any of them (its StudyHistory is served from TFX's cache)."""
    from components import trial_files

    in_use: dict[str, set[str]] = {}
    for artifact in metadata.live(pipeline, TRIAL_HISTORY_TYPE):
        run_id = metadata.run_id(artifact.id)
        if run_id not in unfinished:
            continue
        try:
            with fileio.open(posixpath.join(artifact.uri, trial_files.TRIAL_HISTORY_FILE)) as handle:
                listed = {t.trial_id for t in trials_from_json(handle.read())}
        except Exception:  # noqa: BLE001 - unreadable: it may use any trial
            listed = {t.trial_id for t in trials}
        in_use.setdefault(run_id, set()).update(listed)
    return in_use


def _trial_folders(view: _Study, metadata: _Metadata, root: str) -> list[Removal]:
    removals = []
    for artifact in metadata.live(view.name, TRIAL_RESULTS_TYPE):
        if not _inside(artifact.uri, root) or metadata.run_id(artifact.id) not in view.finished:
            continue
        value = artifact.custom_properties.get(keys.TRIALS_PROPERTY)
        listed = {t.trial_id for t in trials_from_json(value.string_value if value is not None else "[]")}
        for name in _children(artifact.uri):
            path = posixpath.join(artifact.uri, name)
            if name in listed and name not in view.plan.kept and _is_directory(path):
                removals.append(Removal(TRIALS, path, size_of(path), name))
    return removals


def _trial_cache_entries(root: str, views: dict[str, _Study]) -> list[Removal]:
    from components import trial_files
    from components.trainer import trial_cache
    from pipeline.config import StudyConfig

    removals = []
    cache_root = posixpath.join(root, TRIAL_CACHE_DIR)
    for study in _children(cache_root):
        view = views.get(StudyConfig(study=study).pipeline_name)
        if view is None:
            continue
        for key in _children(posixpath.join(cache_root, study)):
            entry = posixpath.join(cache_root, study, key)
            run_id = _cache_entry_run(entry, trial_cache, trial_files.TRIAL_FILE)
            if run_id in view.finished:
                removals.append(Removal(TRIAL_CACHE, entry, size_of(entry), run_id))
    return removals


def _cache_entry_run(entry: str, trial_cache, trial_file: str) -> Optional[str]:
    """The run whose trial a cache entry holds: from its result, an attempt
    marker, or the trial's own file; None when nothing says."""
    candidates = [trial_cache.RESULT_FILE]
    candidates += [n for n in _children(entry) if n.startswith(trial_cache.ATTEMPT_PREFIX) and n.endswith(".json")]
    candidates.append(posixpath.join(trial_cache.FILES_DIR, trial_file))
    for name in candidates:
        found = _read_json(posixpath.join(entry, name))
        if found and isinstance(found.get("run_id"), str):
            return found["run_id"]
    return None


def _run_models(view: _Study, metadata: _Metadata, root: str) -> list[Removal]:
    keep_runs = view.pushed_runs | view.unfinished | {view.latest_run}
    if view.plan.finished_runs:
        # While the latest run is unfinished, the latest finished one is what DIR/leaderboard.json shows.
        keep_runs.add(view.plan.finished_runs[-1])
    removals = []
    for type_name in MODEL_TYPES:
        for artifact in metadata.live(view.name, type_name):
            runs = set().union(*(metadata.runs_of.get(e, set()) for e in metadata.producers.get(artifact.id, ())))
            if (not runs or not runs <= view.finished or runs & keep_runs or not _inside(artifact.uri, root)
                    or any(_at_or_inside(p, artifact.uri) for p in view.protected_paths)
                    or not _exists(artifact.uri)):
                continue
            size = size_of(artifact.uri)
            if size:
                removals.append(Removal(RUN_MODELS, artifact.uri, size, ", ".join(sorted(runs))))
    return removals


def _orphans(root: str, metadata: _Metadata, views: dict[str, _Study], protected: set[str],
             wanted: Optional[set[str]]) -> list[Removal]:
    removals = []
    for node in _children(root):
        if node.startswith(".") or node in NOT_NODES or node not in metadata.node_ids:
            continue
        for key in _children(posixpath.join(root, node)):
            if key.startswith("."):  # TFX's own .system folder
                continue
            for name in _children(posixpath.join(root, node, key)):
                folder = posixpath.join(root, node, key, name)
                if not name.isdigit() or os.path.normpath(folder) in metadata.live_uris or not _is_directory(folder):
                    continue
                execution = metadata.executions.get(int(name))
                # A succeeded execution's outputs are LIVE: if this folder is not
                # one of them, they are elsewhere - the directory was copied.
                if execution is not None and (execution.last_known_state in metadata.succeeded
                                              or _still_needed(execution.id, metadata, views, wanted)):
                    continue
                subject = f"execution {name}"
                inner = [p for p in protected if _inside(p, folder)]
                if not inner:
                    removals.append(Removal(ORPHANS, folder, size_of(folder), subject))
                    continue
                # A trial recorded by an execution that was killed is found at its first
                # path (the record is written once): that part stays.
                for child in _children(folder):
                    path = posixpath.join(folder, child)
                    if not any(_at_or_inside(p, path) for p in inner):
                        removals.append(Removal(ORPHANS, path, size_of(path), subject))
    return removals


def _still_needed(execution_id: int, metadata: _Metadata, views: dict[str, _Study],
                  wanted: Optional[set[str]]) -> bool:
    """An execution's folders stay while a run they may belong to is unfinished."""
    pipeline = metadata.pipeline_of.get(execution_id)
    if pipeline is None:
        return True
    if wanted is not None and pipeline not in wanted:
        return True
    view = views.get(pipeline)
    if view is None:
        return True
    runs = metadata.runs_of.get(execution_id, set())
    if runs:
        return bool(runs - view.finished)
    return bool(view.unfinished) or execution_id in metadata.newest_pipeline_run.get(pipeline, set())


def _half_pushed(serving_dir: str) -> list[Removal]:
    removals = []
    for version in _children(serving_dir):
        path = posixpath.join(serving_dir, version)
        if _is_directory(path) and not any(_exists(posixpath.join(path, name)) for name in SAVED_MODEL_FILES):
            removals.append(Removal(SERVING, path, size_of(path), f"version {version}"))
    return removals


# ---------------------------------------------------------------------- apply

def apply(plan: Plan) -> None:
    """Records the removed trials in their study record, then removes."""
    from components.study_record import StudyRecord
    from pipeline import factory

    root = factory.pipeline_root(plan.output_dir)
    for study in plan.studies:
        record = StudyRecord.of(root, study.study)
        for trial in study.to_mark:
            record.mark_removed(trial, {"keep": str(study.retention)})
    for category in CATEGORIES:
        for removal in plan.removals:
            # Checked again: nothing may have become a link since the plan.
            if (removal.category == category and _exists(removal.path)
                    and _removable(removal.path, plan.output_dir)):
                _remove(removal.path)


def collect_garbage(output_dir: str, connection_config, retention: Optional[Retention], dry_run: bool = False,
                    studies: Optional[Iterable[str]] = None) -> dict[str, Any]:
    """Plans, applies (unless `dry_run`) and reports: what was (or would be)
    freed per category and the run directory's size before and after.
    `retention` overrides each study's recorded one (None: the recorded one)."""
    output_dir = os.path.abspath(output_dir)
    # The run directory itself may be reached through a link; nothing inside it is followed.
    before = size_of(os.path.realpath(output_dir))
    plan = plan_cleanup(output_dir, connection_config, retention, studies)
    if not dry_run:
        apply(plan)
    freed = plan.freed()
    planned = sum(entry["bytes"] for entry in freed.values())
    return {
        "output": output_dir,
        # Without --keep, each study's own: listed per study.
        "keep": str(retention) if retention is not None else (
            ", ".join(sorted({str(s.retention) for s in plan.studies})) or "recorded per study"),
        "dry_run": dry_run,
        "bytes_before": before,
        # A dry run's "after" is what the plan would leave.
        "bytes_after": before - planned if dry_run else size_of(os.path.realpath(output_dir)),
        "freed_bytes": planned,
        "freed": freed,
        "studies": [{
            "study": s.study,
            "finished_runs": s.finished_runs,
            "unfinished_runs": s.unfinished_runs,
            "trials": s.trials,
            "keep": str(s.retention),
            "keep_from": s.retention_from,
            "kept": s.kept,
            "removed_trials": sorted(t.trial_id for t in s.to_mark),
            "removed_before": s.already_removed,
        } for s in plan.studies],
        "removals": [dataclasses.asdict(r) for r in plan.removals],
        "left_linked": plan.linked,
    }


def after_run(config, output_dir: str, connection_config) -> Optional[dict[str, Any]]:
    """The study's retention applied at the end of `model-search run` (nothing
    with `keep: all`); what it freed per category, or None. The run's result
    stands whatever happens here: a failure is a warning."""
    retention = parse_retention(config.keep)
    if retention.keeps_everything:
        return None
    try:
        report = collect_garbage(output_dir, connection_config, retention, studies=[config.pipeline_name])
    except Exception as error:  # noqa: BLE001 - the run itself succeeded
        log.warning("could not free disk space after the run (%s: %s); `model-search gc --output %s` tries again",
                    type(error).__name__, error, output_dir)
        return None
    if report["freed_bytes"]:
        shown = ", ".join(f"{TITLES[category]} {entry['count']}" for category, entry in report["freed"].items()
                          if entry["count"])
        log.info("freed %s (keep %s): %s", human_bytes(report["freed_bytes"]), report["keep"], shown)
    return {"keep": report["keep"], "freed_bytes": report["freed_bytes"], "freed": report["freed"]}


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"
