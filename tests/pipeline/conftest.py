"""Small real runs shared by the leaderboard, report and predict tests (one of
each kind per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from tests import datagen

TINY_SEARCH = ["--rounds", "1", "--trials-per-trainer", "1", "--epochs", "1", "--distill-epochs", "1"]


def _run(data: Path, output: Path, trainers: int) -> Path:
    argv = ["run", "--data", str(data), *TINY_SEARCH, "--trainers", str(trainers), "--output", str(output), "--json"]
    assert main(argv) == 0, f"the run on {data} failed"
    return output


@pytest.fixture(scope="session")
def hostile_csv(data_dir) -> Path:
    return datagen.write_hostile_csv(data_dir / "hostile.csv", rows=60, seed=0)


@pytest.fixture(scope="session")
def csv_run(hostile_csv, tmp_path_factory) -> Path:
    """A CSV study whose class and column names are HTML; 2 trainers x 1 trial."""
    return _run(hostile_csv, tmp_path_factory.mktemp("csv_run"), trainers=2)


@pytest.fixture(scope="session")
def image_run(image_folder, tmp_path_factory) -> Path:
    return _run(image_folder, tmp_path_factory.mktemp("image_run"), trainers=1)


@pytest.fixture(scope="session")
def audio_run(audio_folder, tmp_path_factory) -> Path:
    return _run(audio_folder, tmp_path_factory.mktemp("audio_run"), trainers=1)
