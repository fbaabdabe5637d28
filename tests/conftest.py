"""Shared fixtures: small real data sets of every supported kind, made once per session."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from tests import datagen


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def csv_file(data_dir):
    return datagen.write_tabular_csv(data_dir / "customers data.csv", rows=60, seed=1)


@pytest.fixture(scope="session")
def regression_csv(data_dir):
    return datagen.write_regression_csv(data_dir / "houses.csv", rows=50, seed=2)


@pytest.fixture(scope="session")
def image_folder(data_dir):
    return datagen.write_image_folder(data_dir / "shapes", per_class=8, seed=3)


@pytest.fixture(scope="session")
def audio_folder(data_dir):
    return datagen.write_audio_folder(data_dir / "tones", per_class=8, seed=4)


@pytest.fixture(scope="session")
def tfrecord_file(data_dir):
    return datagen.write_tfrecord(data_dir / "flowers.tfrecord.gz", count=60, seed=5)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
