"""The dataset spec file: written atomically, read back equal, locally and at a URI."""

from __future__ import annotations

import json

import tensorflow as tf

from search_algo import testing
from search_algo.dataset_spec import SPEC_FILE_NAME, DatasetSpec


def test_save_and_load_at_a_uri(ram_root):
    spec = testing.tabular_spec()
    directory = f"{ram_root}/artifacts/DatasetSpec/1"  # created by save
    path = spec.save(directory)
    assert path == f"{directory}/{SPEC_FILE_NAME}"
    # The temporary file it went through is gone: only the finished spec is there.
    assert tf.io.gfile.listdir(directory) == [SPEC_FILE_NAME]
    assert DatasetSpec.load(directory) == spec
    assert DatasetSpec.load(path) == spec
    # Saving again replaces the spec.
    spec.split_sizes = {"train": 8, "eval": 1, "test": 1}
    spec.save(directory)
    assert DatasetSpec.load(directory).split_sizes == {"train": 8, "eval": 1, "test": 1}


def test_save_and_load_locally(tmp_path):
    spec = testing.image_spec()
    path = spec.save(tmp_path / "spec")  # a Path works too; the result is a str
    assert path == str(tmp_path / "spec" / SPEC_FILE_NAME)
    assert sorted(p.name for p in (tmp_path / "spec").iterdir()) == [SPEC_FILE_NAME]
    assert json.loads((tmp_path / "spec" / SPEC_FILE_NAME).read_text())["num_classes"] == 2
    assert DatasetSpec.load(str(tmp_path / "spec")) == spec
