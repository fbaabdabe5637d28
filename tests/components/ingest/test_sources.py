"""Planning and reading every source: schema, splits and validation, both
passes run in this process (`read_splits`; no TFX, no Beam)."""

from __future__ import annotations

import numpy as np
import pytest

from components.ingest import builtin, csv_source, paths, sources, tfrecord_source
from components.ingest.sources import SourceConfig
from search_algo.errors import DataError
from tests import datagen


def sizes(splits) -> dict[str, int]:
    return {split: len(batch) for split, batch in splits.items()}


def test_csv_schema_detects_kinds_label_and_sanitises_names(csv_file):
    plan, splits = sources.read_splits(SourceConfig(data=str(csv_file), label="churned?"))
    assert plan.task == "classification"
    assert plan.input_kind == "tabular"
    assert plan.class_names == ["no", "yes"]
    assert plan.label_key == "churned"
    assert [(f.name, f.display_name, f.kind) for f in plan.features] == [
        ("age_years", "Age (years)", "numeric"),
        ("monthly_spend", "monthly spend, $", "numeric"),
        ("plan_type", "plan type", "categorical"),
    ]
    assert plan.split_sizes() == sizes(splits) == {"train": 48, "eval": 6, "test": 6}
    train = splits["train"]
    assert train.features["age_years"].dtype == np.float32 and isinstance(train.features["plan_type"][0], str)
    assert set(train.labels) <= {0, 1}


def test_splits_are_deterministic_for_a_seed_and_stratified(csv_file):
    _, first = sources.read_splits(SourceConfig(data=str(csv_file), label="churned?", seed=7))
    _, again = sources.read_splits(SourceConfig(data=str(csv_file), label="churned?", seed=7))
    _, other = sources.read_splits(SourceConfig(data=str(csv_file), label="churned?", seed=8))
    for split in ("train", "eval", "test"):
        np.testing.assert_array_equal(first[split].keys, again[split].keys)
        assert set(first[split].labels) == {0, 1}, f"{split} split misses a class"
    assert set(first["test"].keys) != set(other["test"].keys)


def test_split_ratios_are_configurable(csv_file):
    plan, splits = sources.read_splits(
        SourceConfig(data=str(csv_file), label="churned?", split_ratios=(0.5, 0.25, 0.25)))
    assert plan.split_sizes() == sizes(splits) == {"train": 30, "eval": 15, "test": 15}


def test_separate_test_file_is_the_test_split(csv_file, tmp_path):
    test_file = datagen.write_tabular_csv(tmp_path / "holdout.csv", rows=9, seed=11)
    plan, splits = sources.read_splits(SourceConfig(data=str(csv_file), label="churned?", test_data=str(test_file)))
    assert plan.split_sizes() == sizes(splits) == {"train": 53, "eval": 7, "test": 9}
    expected_first_age = float(open(test_file).read().splitlines()[1].split(",")[0])
    assert splits["test"].features["age_years"][0] == expected_first_age


def test_continuous_label_is_regression_and_task_flag_overrides(regression_csv, csv_file):
    plan, splits = sources.read_splits(SourceConfig(data=str(regression_csv), label="price"))
    assert plan.task == "regression" and plan.class_names == []
    assert splits["train"].labels.dtype == np.float64
    rooms = sources.make_plan(SourceConfig(data=str(regression_csv), label="rooms"))
    assert rooms.task == "classification" and rooms.class_names == ["1", "2", "3", "4", "5"]
    forced = sources.make_plan(SourceConfig(data=str(regression_csv), label="rooms", task="regression"))
    assert forced.task == "regression"
    with pytest.raises(DataError, match="needs a numeric label"):
        sources.make_plan(SourceConfig(data=str(csv_file), label="churned?", task="regression"))


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    return path


def test_csv_read_in_small_chunks_is_the_same_data(csv_file, monkeypatch):
    config = SourceConfig(data=str(csv_file), label="churned?")
    plan, whole = sources.read_splits(config)
    monkeypatch.setattr(csv_source, "CHUNK_BYTES", 97)  # a few lines a chunk, cut mid-line
    source = sources.open_source(config)
    assert len(source.units()) > 10
    chunked_plan, chunked = sources.read_splits(config)
    assert chunked_plan.features == plan.features and chunked_plan.split_sizes() == plan.split_sizes()
    for split in whole:
        order, chunked_order = np.argsort(whole[split].keys), np.argsort(chunked[split].keys)
        np.testing.assert_array_equal(whole[split].keys[order], chunked[split].keys[chunked_order])
        np.testing.assert_array_equal(whole[split].features["monthly_spend"][order],
                                      chunked[split].features["monthly_spend"][chunked_order])


@pytest.mark.parametrize("chunk_bytes", [97, csv_source.CHUNK_BYTES])
def test_csv_errors_name_the_line_across_chunks(tmp_path, monkeypatch, chunk_bytes):
    monkeypatch.setattr(csv_source, "CHUNK_BYTES", chunk_bytes)
    rows = [[i, i * 2.5, "yes" if i % 2 else "no"] for i in range(60)]
    rows[41][1] = "oops"
    path = write_csv(tmp_path / "bad.csv", ["a", "b", "label"], rows)
    with pytest.raises(DataError, match=r"bad.csv: column 'b' is numeric but lines 43 hold text \('oops'\)$"):
        sources.make_plan(SourceConfig(data=str(path)))
    rows[41][1] = 3.0
    rows[50][2] = ""
    write_csv(path, ["a", "b", "label"], rows)
    with pytest.raises(DataError, match=r"bad.csv: label 'label' is empty on lines 52$"):
        sources.make_plan(SourceConfig(data=str(path)))
    rows[50][2] = "no"
    lines = path.read_text().splitlines()
    lines[30] += ",extra"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"bad.csv: line 31 has 4 fields, the header has 3$"):
        sources.make_plan(SourceConfig(data=str(path)))


def test_missing_cells_are_imputed_with_the_median_and_named(tmp_path):
    rows = [[i, float(i), "yes" if i % 2 else "no"] for i in range(1, 41)]
    rows[4][1] = "NA"
    rows[9][1] = "?"
    path = write_csv(tmp_path / "gaps.csv", ["a", "b", "label"], rows)
    plan, splits = sources.read_splits(SourceConfig(data=str(path)))
    expected = float(np.median([r[1] for r in rows if not isinstance(r[1], str)]))
    assert any(f"column 'b': 2 empty cell(s) imputed with the median {expected:g} (lines 6, 11)" in w
               for w in plan.warnings)
    every = np.concatenate([b.features["b"] for b in splits.values()])
    assert np.sum(every == np.float32(expected)) >= 2


def test_duplicate_records_land_in_one_split(tmp_path):
    rows = [[i % 7, "yes" if i % 2 else "no"] for i in range(200)]  # 14 distinct rows, each many times
    path = write_csv(tmp_path / "dups.csv", ["a", "label"], rows)
    _, splits = sources.read_splits(SourceConfig(data=str(path)))
    homes = {}
    for split, batch in splits.items():
        for a, label in zip(batch.features["a"], batch.labels):
            homes.setdefault((float(a), int(label)), set()).add(split)
    assert all(len(places) == 1 for places in homes.values())


def test_large_classes_split_by_ratio_small_ones_exactly(monkeypatch):
    from components.ingest import splits as split_rules

    rng = np.random.default_rng(0)
    keys = np.sort(rng.integers(0, 2**63, size=5000, dtype=np.uint64) * np.uint64(2))
    exact = split_rules.group_cut(5000, keys, (0.8, 0.1, 0.1))
    assert exact.exact and exact.sizes == (4000, 500, 500)
    sampled = split_rules.group_cut(50000, keys[:1000], (0.8, 0.1, 0.1))
    assert not sampled.exact
    rule = split_rules.SplitRule([sampled], stratified=False)
    many = rng.integers(0, 2**63, size=200000, dtype=np.uint64) * np.uint64(2)
    counts = np.bincount(rule.assign(many, None, False), minlength=3) / many.size
    np.testing.assert_allclose(counts, [0.8, 0.1, 0.1], atol=0.005)


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
    plan, splits = sources.read_splits(SourceConfig(data=str(image_folder), image_size=(12, 10), color_mode="grayscale"))
    assert plan.features[0].shape == [12, 10, 1]
    images = splits["train"].features["image"]
    assert images.shape[1:] == (12, 10, 1)
    assert 0.0 <= images.min() and images.max() <= 1.0


def test_audio_folder_plan_and_log_mel(audio_folder):
    plan, splits = sources.read_splits(SourceConfig(data=str(audio_folder)))
    assert plan.source_kind == "audio" and plan.input_kind == "sequence"
    assert plan.class_names == ["high", "low"]
    # The longest clip is 0.5 s: 16 kHz, 25 ms frames every 10 ms -> 48 frames of 40 mel bands.
    assert plan.features[0].shape == [48, 40]
    train = splits["train"]
    high, low = (train.features["audio"][list(train.labels).index(label)] for label in (0, 1))
    assert high.shape == low.shape == (48, 40)
    # A 3 kHz tone puts its energy in higher mel bands than a 300 Hz tone.
    assert np.argmax(high[5]) > np.argmax(low[5])


def test_tfrecord_plan(tfrecord_file):
    plan = sources.make_plan(SourceConfig(data=str(tfrecord_file), label="species"))
    assert plan.source_kind == "tfrecord" and plan.input_kind == "tabular"
    assert plan.class_names == ["setosa", "versicolor", "virginica"]
    assert [f.name for f in plan.features] == ["petal_length", "petal_width", "stems"]
    assert sum(plan.split_sizes().values()) == 60


def test_tfrecord_records_are_written_in_batches_of_write_bytes(tfrecord_file, monkeypatch):
    config = SourceConfig(data=str(tfrecord_file), label="species")
    source = sources.open_source(config)
    plan = source.plan(sources.survey_in_process(source, source.units()))
    (unit,) = source.units()
    whole = list(source.batches(unit, plan))
    # The 60 records parse 8 at a time (8 parse batches) and are handed on
    # once 1,000 bytes of them are in: more than one record batch, fewer than 8.
    monkeypatch.setattr(tfrecord_source, "PARSE_BATCH", 8)
    monkeypatch.setattr(tfrecord_source, "WRITE_BYTES", 1000)
    parts = list(source.batches(unit, plan))
    assert len(whole) == 1 and len(whole[0]) == 60
    assert 1 < len(parts) < 8 and all(len(part) % 8 == 0 for part in parts[:-1])
    assert len({part.shard for part in parts}) == len(parts)
    joined = np.concatenate([part.keys for part in parts])
    np.testing.assert_array_equal(joined, whole[0].keys)
    np.testing.assert_array_equal(np.concatenate([part.features["stems"] for part in parts]),
                                  whole[0].features["stems"])


@pytest.mark.slow
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


@pytest.mark.slow
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


def _same_splits(at_uri: dict, local: dict, feature: str) -> None:
    for split, batch in local.items():
        np.testing.assert_array_equal(at_uri[split].keys, batch.keys)
        np.testing.assert_array_equal(at_uri[split].labels, batch.labels)
        np.testing.assert_array_equal(at_uri[split].features[feature], batch.features[feature])


def test_csv_at_a_uri_reads_as_the_local_file(csv_file, ram_root):
    uri = datagen.copy_to_uri(csv_file, f"{ram_root}/tables/{csv_file.name}")
    assert sources.detect_kind(uri) == "csv"
    at_uri, uri_splits = sources.read_splits(SourceConfig(data=uri, label="churned?"))
    local, local_splits = sources.read_splits(SourceConfig(data=str(csv_file), label="churned?"))
    _same_plan(at_uri, local)
    assert at_uri.name == "customers data"
    _same_splits(uri_splits, local_splits, "plan_type")


def test_image_folder_at_a_uri_reads_as_the_local_folder(image_folder, ram_root):
    root = datagen.copy_to_uri(image_folder, f"{ram_root}/{image_folder.name}")
    at_uri, uri_splits = sources.read_splits(SourceConfig(data=root))
    local, local_splits = sources.read_splits(SourceConfig(data=str(image_folder)))
    _same_plan(at_uri, local)
    assert at_uri.class_names == list(datagen.SHAPE_CLASSES) and at_uri.features[0].shape == [16, 16, 3]
    _same_splits(uri_splits, local_splits, "image")


def test_audio_folder_at_a_uri_reads_as_the_local_folder(audio_folder, ram_root):
    root = datagen.copy_to_uri(audio_folder, f"{ram_root}/{audio_folder.name}")
    at_uri, uri_splits = sources.read_splits(SourceConfig(data=root))
    local, local_splits = sources.read_splits(SourceConfig(data=str(audio_folder)))
    _same_plan(at_uri, local)
    assert at_uri.class_names == list(datagen.TONE_CLASSES) and at_uri.features[0].shape == [48, 40]
    _same_splits(uri_splits, local_splits, "audio")


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
    at_uri, uri_splits = sources.read_splits(SourceConfig(data=pattern, label="species"))
    local, local_splits = sources.read_splits(SourceConfig(data=str(tfrecord_file), label="species"))
    _same_plan(at_uri, local)
    assert at_uri.name == "flowers"
    _same_splits(uri_splits, local_splits, "petal_length")


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


def test_a_tfrecord_key_missing_past_the_first_records_is_named(tmp_path):
    import tensorflow as tf

    path = tmp_path / "late.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for index in range(3000):
            feature = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=[index * 0.5])),
                       "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[index % 2]))}
            if index != 2800:
                feature["y"] = tf.train.Feature(float_list=tf.train.FloatList(value=[1.0]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    with pytest.raises(DataError, match=rf"feature 'y' is missing from record\(s\) {path}#2800$"):
        sources.make_plan(SourceConfig(data=str(path)))
