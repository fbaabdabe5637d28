"""Shared fixtures: small real data sets of every supported kind, made once per session."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from tests import datagen


# `make test` runs on two workers (pytest-xdist, `--dist loadfile`): each file goes whole to one worker,
# in the order collected, so that module- and session-scoped fixtures run once. The longest files go
# first: a worker that takes a 7-minute file last keeps the other idle until it ends.
LONGEST_FIRST = ("tests/contract/", "tests/faults/", "tests/e2e/")


def _file_rank(item) -> int:
    for rank, prefix in enumerate(LONGEST_FIRST):
        if item.nodeid.startswith(prefix):
            return rank
    if item.get_closest_marker("e2e"):
        return len(LONGEST_FIRST)
    return len(LONGEST_FIRST) + (1 if item.get_closest_marker("integration") else 2)


def pytest_collection_modifyitems(config, items):
    if not hasattr(config, "workerinput"):  # one process: the order of the files does not matter
        return
    ranks: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        ranks[path] = min(ranks.get(path, 99), _file_rank(item))
    items.sort(key=lambda item: ranks[item.nodeid.split("::")[0]])


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


@pytest.fixture
def ram_root(tmp_path):
    """A fresh folder on TensorFlow's in-memory file system (`ram://`), which
    stands in for gs:// in tests; named after the test's tmp_path, so unique."""
    import tensorflow as tf

    root = f"ram://{tmp_path.name}"
    yield root
    # ram:// cannot always remove a folder it never got a makedirs for, and its
    # listing of `a` also shows what is under `a.b` (as `.b`): free what is there.
    for directory, _, names in list(tf.io.gfile.walk(root)):
        for name in names:
            try:
                tf.io.gfile.remove(f"{directory.rstrip('/')}/{name}")
            except tf.errors.NotFoundError:
                pass


@pytest.fixture(scope="session")
def gcs():
    """Cloud Storage emulated on this machine (tests/cloud/gcs_emulator.py):
    `gcs.run(argv)` runs a program that reaches it as gs://; skipped where
    processes cannot get a private /etc/hosts, and a failure in CI."""
    from tests.cloud.gcs_emulator import GcsEmulator, sandbox_problem

    problem = sandbox_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"the Cloud Storage emulator cannot run here: {problem}")
        pytest.skip(f"the Cloud Storage emulator cannot run here: {problem}")
    emulator = GcsEmulator().start()
    yield emulator
    emulator.stop()
