"""Reading and writing trial records and their files inside artifacts."""

from __future__ import annotations

import json
import os
from typing import Iterable

from tfx.types import artifact

from components.files import read_text, write_text
from components.keys import RUN_ID_PROPERTY, TRIALS_PROPERTY
from search_algo.trial import Trial, trials_from_json, trials_to_json

TRIAL_FILE = "trial.json"
WEIGHTS_FILE = "model.weights.h5"
HISTORY_FILE = "history.json"
# A TrialHistory artifact: its trials in a file (a long study holds thousands,
# too many for a property) and this run's id as a property.
TRIAL_HISTORY_FILE = "trials.json"


def trials_of(artifacts: Iterable[artifact.Artifact]) -> list[Trial]:
    """Every trial recorded in these TrialResults or Proposals artifacts, with
    `path` made absolute (the artifact's URI joined with the trial's folder)."""
    return [trial.located_in(item.uri) for item in artifacts
            for trial in trials_from_json(item.get_string_custom_property(TRIALS_PROPERTY) or "[]")]


def record_trials(item: artifact.Artifact, trials: list[Trial], file_name: str) -> None:
    """Writes the trials to `{uri}/{file_name}` and to the artifact's
    `trials_json` property, so ML Metadata alone answers queries."""
    item.set_string_custom_property(TRIALS_PROPERTY, _write_trials(item, file_name, trials))


def write_history(item: artifact.Artifact, run_id: str, trials: list[Trial]) -> None:
    _write_trials(item, TRIAL_HISTORY_FILE, trials)
    item.set_string_custom_property(RUN_ID_PROPERTY, run_id)


def _write_trials(item: artifact.Artifact, file_name: str, trials: list[Trial]) -> str:
    text = trials_to_json(trials)
    write_text(os.path.join(item.uri, file_name), json.dumps(json.loads(text), indent=1))
    return text


def read_history(item: artifact.Artifact) -> list[Trial]:
    return trials_from_json(read_text(os.path.join(item.uri, TRIAL_HISTORY_FILE)))


def consecutive_failures(trials: list[Trial]) -> int:
    """How many trials failed in a row at the end (in the order they finished)."""
    count = 0
    for trial in sorted(trials, key=lambda t: (t.finished_at or "", t.trial_id)):
        count = 0 if trial.completed else count + 1
    return count
