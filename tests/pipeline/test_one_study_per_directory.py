"""A run directory holds one study: its serving/, leaderboard.json and
report.html name no study, so a second study would replace the first one's."""

from __future__ import annotations

import pytest

from components.study_record import StudyRecord
from pipeline import factory, local_runner
from pipeline.cli import main
from pipeline.config import build_config
from search_algo.architecture import Architecture
from search_algo.trial import FAILED, Trial


class PipelineStarted(Exception):
    """Raised in place of building the pipeline: the run got past its checks."""


@pytest.fixture
def no_pipeline(monkeypatch):
    def refuse(*args, **kwargs):
        raise PipelineStarted

    monkeypatch.setattr(factory, "create_pipeline", refuse)


def _record_a_trial(output, study: str) -> None:
    """What the first trial of a study leaves in the run directory."""
    trial = Trial(trial_id="run1-r1-00", round=1, trainer=0, architecture=Architecture.from_dict({"blocks": [{"name": "dense"}]}),
                  seed=0, algorithm="random", run_id="run1", study=study, status=FAILED)
    StudyRecord.of(factory.pipeline_root(str(output)), study).add_trial(trial)


def test_a_second_study_in_a_run_directory_is_refused_naming_the_first(tmp_path, capsys, no_pipeline):
    _record_a_trial(tmp_path, "digits-a")
    status = main(["run", "--dataset", "digits", "--study", "digits-b", "--output", str(tmp_path), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and err == [
        f"model-search: error: {tmp_path} holds study 'digits-a', and a run directory holds one study: run study 'digits-b' "
        "with another --output, or continue 'digits-a' with --study digits-a"
    ]


def test_the_directorys_own_study_goes_on(tmp_path, no_pipeline):
    _record_a_trial(tmp_path, "digits-a")
    # "Digits A" is recorded as digits-a: the same study.
    config = build_config({}, {"dataset": "digits", "study": "Digits A", "output": str(tmp_path)})
    with pytest.raises(PipelineStarted):
        local_runner.run_study(config)
