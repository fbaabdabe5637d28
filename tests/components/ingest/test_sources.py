"""Planning every source: schema, splits and validation (no TFX, no Beam)."""

from __future__ import annotations

import numpy as np
import pytest

from components.ingest import builtin, paths, sources
from components.ingest.sources import SourceConfig
from search_algo.errors import DataError
from tests import datagen


def test_csv_schema_detects_kinds_label_and_sanitises_names(csv_file):
    plan = sources.make_plan(SourceConfig(data=str(csv_file), label="churned?"))
    assert plan.task == "classification"
    assert plan.input_kind == "tabular"
    assert plan.class_names == ["no", "yes"]
    assert plan.label_key == "churned"
    assert [(f.name, f.display_name, f.kind) for f in plan.features] == [
        ("age_years", "Age (years)", "numeric"),
        ("monthly_spend", "monthly spend, $", "numeric"),
        ("plan_type", "plan type", "categorical"),
    ]
    assert plan.split_sizes() == {"train": 48, "eval": 6, "test": 6}
    values, label = plan.splits["train"][0]
    assert isinstance(values[0], float) and isinstance(values[2], str) and label in (0, 1)


def test_splits_are_deterministic_for_a_seed_and_stratified(csv_file):
    first = sources.make_plan(SourceConfig(data=str(csv_file), label="churned?", seed=7))
    again = sources.make_plan(SourceConfig(data=str(csv_file), label="churned?", seed=7))
    other = sources.make_plan(SourceConfig(data=str(csv_file), label="churned?", seed=8))
    assert first.splits == again.splits
    assert first.splits["test"] != other.splits["test"]
    for split in ("train", "eval", "test"):
        labels = {label for _, label in first.splits[split]}
        assert labels == {0, 1}, f"{split} split misses a class"


def test_split_ratios_are_configurable(csv_file):
    plan = sources.make_plan(SourceConfig(data=str(csv_file), label="churned?", split_ratios=(0.5, 0.25, 0.25)))
    assert plan.split_sizes() == {"train": 30, "eval": 15, "test": 15}


def test_separate_test_file_is_the_test_split(csv_file, tmp_path):
    test_file = datagen.write_tabular_csv(tmp_path / "holdout.csv", rows=9, seed=11)
    plan = sources.make_plan(SourceConfig(data=str(csv_file), label="churned?", test_data=str(test_file)))
    assert plan.split_sizes() == {"train": 53, "eval": 7, "test": 9}
    expected_first_age = float(open(test_file).read().splitlines()[1].split(",")[0])
    assert plan.splits["test"][0][0][0] == expected_first_age


def test_continuous_label_is_regression_and_task_flag_overrides(regression_csv, csv_file):
    plan = sources.make_plan(SourceConfig(data=str(regression_csv), label="price"))
    assert plan.task == "regression" and plan.class_names == []
    assert isinstance(plan.splits["train"][0][1], float)
    rooms = sources.make_plan(SourceConfig(data=str(regression_csv), label="rooms"))
    assert rooms.task == "classification" and rooms.class_names == ["1", "2", "3", "4", "5"]
    forced = sources.make_plan(SourceConfig(data=str(regression_csv), label="rooms", task="regression"))
    assert forced.task == "regression"
    with pytest.raises(DataError, match="needs a numeric label"):
        sources.make_plan(SourceConfig(data=str(csv_file), label="churned?", task="regression"))


def test_numeric_class_names_sort_numerically():
    assert sources.class_order(["10", "2", "1"]) == ["1", "2", "10"]
    assert sources.class_order(["b", "a", "10"]) == ["10", "a", "b"]


def test_image_folder_plan(image_folder):
    plan = sources.make_plan(SourceConfig(data=str(image_folder)))
    assert plan.source_kind == "images" and plan.input_kind == "image"
    assert plan.class_names == list(datagen.SHAPE_CLASSES)
    # Mixed 16 and 20 pixel images: the most common size wins; some are RGB.
    assert plan.features[0].shape == [16, 16, 3]
    assert any("different sizes" in w for w in plan.warnings)
    assert sum(plan.split_sizes().values()) == 24


def test_image_size_and_color_mode_are_configurable(image_folder):
    plan = sources.make_plan(SourceConfig(data=str(image_folder), image_size=(12, 10), color_mode="grayscale"))
    assert plan.features[0].shape == [12, 10, 1]
    values = sources.encode_record(sources.plan_meta(plan), plan.splits["train"][0])
    assert values["image"].shape == (12, 10, 1)
    assert 0.0 <= values["image"].min() and values["image"].max() <= 1.0


def test_audio_folder_plan_and_log_mel(audio_folder):
    plan = sources.make_plan(SourceConfig(data=str(audio_folder)))
    assert plan.source_kind == "audio" and plan.input_kind == "sequence"
    assert plan.class_names == ["high", "low"]
    # The longest clip is 0.5 s: 16 kHz, 25 ms frames every 10 ms -> 48 frames of 40 mel bands.
    assert plan.features[0].shape == [48, 40]
    meta = sources.plan_meta(plan)
    by_label = {}
    for record in plan.splits["train"]:
        by_label.setdefault(record[1], sources.encode_record(meta, record)["audio"])
    high, low = by_label[0], by_label[1]
    assert high.shape == low.shape == (48, 40)
    # A 3 kHz tone puts its energy in higher mel bands than a 300 Hz tone.
    assert np.argmax(high[5]) > np.argmax(low[5])


def test_tfrecord_plan(tfrecord_file):
    plan = sources.make_plan(SourceConfig(data=str(tfrecord_file), label="species"))
    assert plan.source_kind == "tfrecord" and plan.input_kind == "tabular"
    assert plan.class_names == ["setosa", "versicolor", "virginica"]
    assert [f.name for f in plan.features] == ["petal_length", "petal_width", "stems"]
    assert sum(plan.split_sizes().values()) == 60


def test_builtin_datasets_plan():
    mnist = sources.make_plan(SourceConfig(dataset="mnist1d"))
    sizes = mnist.split_sizes()
    assert sizes["test"] == 1000 and sizes["train"] + sizes["eval"] == 4000
    assert mnist.features[0].shape == [40, 1] and mnist.input_kind == "sequence"
    diabetes = sources.make_plan(SourceConfig(dataset="diabetes"))
    assert diabetes.task == "regression" and len(diabetes.features) == 10
    digits = sources.make_plan(SourceConfig(dataset="digits"))
    assert digits.features[0].shape == [8, 8, 1] and len(digits.class_names) == 10
    assert set(builtin.DATASETS) == {"mnist1d", "digits", "wine", "breast_cancer", "diabetes"}


def test_mnist1d_does_not_disturb_global_random_state():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    builtin.get("mnist1d").loader()
    assert np.random.random() == expected


# --------------------------------------------------------------------------
# Data at a URI: ram:// (TensorFlow's in-memory file system) stands in for gs://.


def _same_plan(at_uri: sources.Plan, local: sources.Plan) -> None:
    assert (at_uri.name, at_uri.source_kind, at_uri.task, at_uri.input_kind) == (
        local.name, local.source_kind, local.task, local.input_kind)
    assert (at_uri.label_key, at_uri.class_names, at_uri.features, at_uri.options) == (
        local.label_key, local.class_names, local.features, local.options)


def _relative_records(plan: sources.Plan, root: str) -> dict[str, list[tuple]]:
    """Image / audio records with their file named relative to the data folder."""
    return {split: [(file[len(root) + 1:], label) for file, label in records] for split, records in plan.splits.items()}


def test_csv_at_a_uri_reads_as_the_local_file(csv_file, ram_root):
    uri = datagen.copy_to_uri(csv_file, f"{ram_root}/tables/{csv_file.name}")
    assert sources.detect_kind(uri) == "csv"
    at_uri = sources.make_plan(SourceConfig(data=uri, label="churned?"))
    local = sources.make_plan(SourceConfig(data=str(csv_file), label="churned?"))
    _same_plan(at_uri, local)
    assert at_uri.name == "customers data"
    assert at_uri.splits == local.splits


def test_image_folder_at_a_uri_reads_as_the_local_folder(image_folder, ram_root):
    root = datagen.copy_to_uri(image_folder, f"{ram_root}/{image_folder.name}")
    at_uri = sources.make_plan(SourceConfig(data=root))
    local = sources.make_plan(SourceConfig(data=str(image_folder)))
    _same_plan(at_uri, local)
    assert at_uri.class_names == list(datagen.SHAPE_CLASSES) and at_uri.features[0].shape == [16, 16, 3]
    assert _relative_records(at_uri, root) == _relative_records(local, str(image_folder))
    meta = sources.plan_meta(at_uri)
    for uri_record, local_record in zip(at_uri.splits["train"], local.splits["train"]):
        np.testing.assert_array_equal(
            sources.encode_record(meta, uri_record)["image"], sources.encode_record(meta, local_record)["image"])


def test_audio_folder_at_a_uri_reads_as_the_local_folder(audio_folder, ram_root):
    root = datagen.copy_to_uri(audio_folder, f"{ram_root}/{audio_folder.name}")
    at_uri = sources.make_plan(SourceConfig(data=root))
    local = sources.make_plan(SourceConfig(data=str(audio_folder)))
    _same_plan(at_uri, local)
    assert at_uri.class_names == list(datagen.TONE_CLASSES) and at_uri.features[0].shape == [48, 40]
    assert _relative_records(at_uri, root) == _relative_records(local, str(audio_folder))
    meta = sources.plan_meta(at_uri)
    for uri_record, local_record in zip(at_uri.splits["test"], local.splits["test"]):
        np.testing.assert_array_equal(
            sources.encode_record(meta, uri_record)["audio"], sources.encode_record(meta, local_record)["audio"])


def test_unreadable_image_at_a_uri_is_skipped_and_named(image_folder, tmp_path, ram_root):
    broken = tmp_path / "shapes"
    datagen.write_image_folder(broken, per_class=8, seed=3, corrupt=True)
    root = datagen.copy_to_uri(broken, f"{ram_root}/shapes")
    plan = sources.make_plan(SourceConfig(data=root))
    assert plan.warnings[0] == f"{root}: skipped 1 unreadable file(s): circle/broken.png"
    assert sum(plan.split_sizes().values()) == 24


def test_tfrecord_glob_at_a_uri_reads_as_the_local_file_and_skips_hidden_names(tfrecord_file, ram_root):
    datagen.copy_to_uri(tfrecord_file, f"{ram_root}/records/{tfrecord_file.name}")
    # Python's glob leaves out names starting with "."; an empty file would be refused if it were read.
    datagen.copy_to_uri(tfrecord_file.parent / "customers data.csv", f"{ram_root}/records/.partial.tfrecord.gz")
    pattern = f"{ram_root}/records/*.tfrecord.gz"
    assert sources.detect_kind(pattern) == "tfrecord"
    at_uri = sources.make_plan(SourceConfig(data=pattern, label="species"))
    local = sources.make_plan(SourceConfig(data=str(tfrecord_file), label="species"))
    _same_plan(at_uri, local)
    assert at_uri.name == "flowers" and at_uri.splits == local.splits


def test_local_globs_match_as_pythons_glob(tmp_path, monkeypatch):
    import glob

    for name in ("a.tfrecord", "b.tfrecord", ".hidden.tfrecord", "sub/c.tfrecord", ".dot/d.tfrecord", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    patterns = ("*.tfrecord", "./*.tfrecord", "?.tfrecord", ".*.tfrecord", "*/*.tfrecord", ".*/*.tfrecord",
                "sub/*.tfrecord", "[ab].tfrecord", "../*/*.tfrecord", f"{tmp_path}/*")
    for pattern in patterns:
        assert paths.glob_paths(pattern) == sorted(glob.glob(pattern)), pattern


@pytest.mark.parametrize("path", [
    "data/train.csv", "./data//train.csv", "data/", "/abs/x.tar.gz", ".", "", "/", "//host/x", "a/.hidden", "x.",
    "../up/y.png",
])
def test_path_names_are_pathlibs_for_local_paths(path):
    from pathlib import Path

    assert sources.clean_path(path) == str(Path(path))
    assert (sources.path_name(path), sources.path_stem(path), sources.path_suffix(path)) == (
        Path(path).name, Path(path).stem, Path(path).suffix)


def test_path_names_keep_a_uris_scheme():
    assert sources.clean_path("gs://bucket/data/") == "gs://bucket/data"
    assert sources.path_name("gs://bucket/data/train.csv") == "train.csv"
    assert sources.path_stem("gs://bucket/data/train.csv") == "train"
    assert sources.path_name("gs://bucket") == "bucket"


def test_missing_data_at_a_uri_is_one_line(ram_root):
    with pytest.raises(DataError, match=rf"^{ram_root}/nothing.csv: no such file or directory$"):
        sources.make_plan(SourceConfig(data=f"{ram_root}/nothing.csv"))
    with pytest.raises(DataError, match=rf"^no file matches {ram_root}/\*.tfrecord$"):
        sources.make_plan(SourceConfig(data=f"{ram_root}/*.tfrecord"))
    with pytest.raises(DataError, match=r"^nowhere://b/x.csv: cannot read it \(UnimplementedError: .*'nowhere'"):
        sources.make_plan(SourceConfig(data="nowhere://b/x.csv"))
