"""Reading and writing trial records and their files inside artifacts."""

from __future__ import annotations

import json
import os
import posixpath
from typing import Iterable

from tfx.dsl.io import fileio
from tfx.types import artifact

from search_algo.trial import Trial, trials_from_json, trials_to_json

TRIAL_FILE = "trial.json"
WEIGHTS_FILE = "model.weights.h5"
HISTORY_FILE = "history.json"
TRIALS_PROPERTY = "trials_json"


def write_text(path: str, text: str) -> None:
    """Writes through a temporary name: a reader never sees half a file."""
    fileio.makedirs(os.path.dirname(path))
    with fileio.open(path + ".tmp", "w") as handle:
        handle.write(text)
    fileio.rename(path + ".tmp", path, overwrite=True)


def read_text(path: str) -> str:
    with fileio.open(path) as handle:
        return handle.read()


def copy_tree(source: str, destination: str) -> None:
    for directory, _, files in fileio.walk(source):
        relative = os.path.relpath(directory, source)
        target_dir = destination if relative == "." else os.path.join(destination, relative)
        fileio.makedirs(target_dir)
        for name in files:
            fileio.copy(os.path.join(directory, name), os.path.join(target_dir, name), overwrite=True)


def trials_of(artifacts: Iterable[artifact.Artifact]) -> list[Trial]:
    """Every trial recorded in these TrialResults or Proposals artifacts, with
    `path` made absolute (the artifact's URI joined with the trial's folder)."""
    trials = []
    for item in artifacts:
        for trial in trials_from_json(item.get_string_custom_property(TRIALS_PROPERTY) or "[]"):
            if trial.path and not _is_absolute(trial.path):
                trial.path = posixpath.join(item.uri, trial.path)
            trials.append(trial)
    return trials


def _is_absolute(path: str) -> bool:
    return path.startswith("/") or "://" in path


def record_trials(item: artifact.Artifact, trials: list[Trial], file_name: str) -> None:
    """Writes the trials to `{uri}/{file_name}` and to the artifact's
    `trials_json` property, so ML Metadata alone answers queries."""
    text = trials_to_json(trials)
    write_text(os.path.join(item.uri, file_name), json.dumps(json.loads(text), indent=1))
    item.set_string_custom_property(TRIALS_PROPERTY, text)
