"""The DataIngest executor on every source: written splits, dataset spec, decoded values.

The tests on `ingested` data are in the integration tier (docs/testing.md): the
fixture runs the executor's Beam pipeline on six sources."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils

from components.ingest import sources
from components.ingest.sources import SourceConfig
from search_algo.errors import DataError
from tests.tfx_helpers import run_ingest


def read_split(examples, split):
    files = tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*.gz"))
    return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def values_of(example, key):
    feature = example.features.feature[key]
    return list(getattr(feature, feature.WhichOneof("kind")).value)


@pytest.fixture(scope="session")
def ingested(tmp_path_factory, csv_file, image_folder, audio_folder, tfrecord_file):
    configs = {
        "csv": SourceConfig(data=str(csv_file), label="churned?"),
        "images": SourceConfig(data=str(image_folder)),
        "audio": SourceConfig(data=str(audio_folder)),
        "tfrecord": SourceConfig(data=str(tfrecord_file), label="species"),
        "digits": SourceConfig(dataset="digits"),
        "diabetes": SourceConfig(dataset="diabetes"),
    }
    return {name: (config, *run_ingest(config, tmp_path_factory.mktemp(name))) for name, config in configs.items()}


@pytest.mark.integration
@pytest.mark.parametrize("name", ["csv", "images", "audio", "tfrecord", "digits", "diabetes"])
def test_splits_are_written_and_match_the_plan(ingested, name):
    config, examples, _, spec = ingested[name]
    plan, splits = sources.read_splits(config)
    assert json.loads(examples.split_names) == ["train", "eval", "test"]
    for split in ("train", "eval", "test"):
        assert len(read_split(examples, split)) == len(splits[split]) == spec.split_sizes[split]
    # Exact stratified split on small data: the plan's sizes are the written ones.
    assert plan.split_sizes() == spec.split_sizes


@pytest.mark.integration
def test_csv_values_spec_and_statistics(ingested, csv_file):
    config, examples, spec_artifact, spec = ingested["csv"]
    assert spec_artifact.get_string_custom_property("task") == "classification"
    assert spec.label == "churned" and spec.class_names == ["no", "yes"]
    age, spend, plan_type = spec.features
    assert (plan_type.kind, plan_type.dtype, sorted(plan_type.vocabulary)) == (
        "categorical", "string", ["basic", "family", "premium"])
    train = read_split(examples, "train")
    ages = np.array([values_of(e, "age_years")[0] for e in train])
    assert age.mean == pytest.approx([ages.mean()], rel=1e-5)
    assert age.std == pytest.approx([ages.std()], rel=1e-4)
    # A decoded example is a row of the file.
    rows = {tuple(line.split(",")[:3]) for line in csv_file.read_text().splitlines()[1:]}
    sample = train[0]
    assert (
        str(int(values_of(sample, "age_years")[0])),
        values_of(sample, "plan_type")[0].decode(),
    ) in {(r[0], r[2]) for r in rows}
    assert values_of(sample, "churned")[0] in (0, 1)
    assert sum(spec.class_counts["train"].values()) == spec.split_sizes["train"]


@pytest.mark.integration
def test_image_values(ingested, image_folder):
    config, examples, _, spec = ingested["images"]
    feature = spec.feature("image")
    assert feature.shape == [16, 16, 3] and len(feature.mean) == 3
    _, splits = sources.read_splits(config)
    expected = splits["eval"].features["image"][0]
    decoded = [np.array(values_of(e, "image")).reshape(16, 16, 3) for e in read_split(examples, "eval")]
    assert any(np.allclose(d, expected) for d in decoded)
    assert spec.class_names == ["circle", "square", "stripes"]


@pytest.mark.integration
def test_audio_values(ingested):
    _, examples, _, spec = ingested["audio"]
    feature = spec.feature("audio")
    assert spec.input_kind == "sequence" and feature.shape == [48, 40] and len(feature.mean) == 40
    example = read_split(examples, "train")[0]
    spectrogram = np.array(values_of(example, "audio")).reshape(48, 40)
    assert np.isfinite(spectrogram).all() and spectrogram.std() > 0.1


@pytest.mark.integration
def test_tfrecord_values(ingested):
    _, examples, _, spec = ingested["tfrecord"]
    assert spec.class_names == ["setosa", "versicolor", "virginica"]
    assert spec.feature("petal_length").display_name == "petal length"
    for example in read_split(examples, "train")[:10]:
        label = values_of(example, "species")[0]
        # The generator centres petal length on the class index.
        assert abs(values_of(example, "petal_length")[0] - label) < 1.5


@pytest.mark.integration
def test_builtin_spec(ingested):
    _, examples, _, digits = ingested["digits"]
    assert digits.input_kind == "image" and digits.feature("image").shape == [8, 8, 1]
    pixels = np.array(values_of(read_split(examples, "test")[0], "image"))
    assert pixels.min() >= 0 and pixels.max() <= 1
    _, _, _, diabetes = ingested["diabetes"]
    assert diabetes.task == "regression" and diabetes.label_mean > 100 and diabetes.label_std > 10


@pytest.mark.integration
def test_ingest_writes_shards_without_a_scratch_folder(ingested):
    _, examples, _, _ = ingested["csv"]
    assert sorted(os.listdir(examples.uri)) == ["Split-eval", "Split-test", "Split-train"]
    assert examples.get_string_custom_property("payload_format") == "FORMAT_TF_EXAMPLE"


@pytest.mark.integration
def test_bad_data_found_by_the_survey_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,label\n" + "".join(f"{i},{'x' if i % 2 else 'y'}\n" for i in range(40)) + "zz,x\n")
    with pytest.raises(DataError, match=r"bad.csv: column 'a' is numeric but lines 42 hold text \('zz'\)"):
        run_ingest(SourceConfig(data=str(bad)), tmp_path / "out")
    examples = tmp_path / "out" / "examples"
    assert not examples.exists() or not any(examples.rglob("*.gz"))


def test_bad_input_raises_before_writing(tmp_path):
    missing = SourceConfig(data=str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="nope.csv: no such file"):
        run_ingest(missing, tmp_path)
    assert not (tmp_path / "examples").exists()
