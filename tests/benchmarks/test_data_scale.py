"""The data-scale benchmark: its generated data, its tables from a hand-made
raw report, node peaks from memory samples, and a tiny run end to end (bench tier)."""

from __future__ import annotations

import copy
import csv
import json

import numpy as np
import pytest

from benchmarks import data_scale, data_scale_data, study_run
from tests.benchmarks.scripts import run_benchmark


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 500 rows in shards of 1,000, so small sets span several of each."""
    monkeypatch.setattr(data_scale_data, "CHUNK_ROWS", 500)
    monkeypatch.setattr(data_scale_data, "SHARD_ROWS", 1_000)


def test_a_smaller_set_is_the_first_rows_of_a_larger_one_and_the_classes_are_learnable(small_chunks):
    small = np.concatenate([f for f, _ in data_scale_data.row_chunks(1_200, seed=3)])
    features, labels = (np.concatenate(parts) for parts in zip(*data_scale_data.row_chunks(20_000, seed=3)))
    assert features.shape == (20_000, data_scale_data.FEATURES) and set(labels) == set(range(data_scale_data.CLASSES))
    np.testing.assert_array_equal(small, features[:1_200])
    assert not np.array_equal(small, np.concatenate([f for f, _ in data_scale_data.row_chunks(1_200, 4)]))
    # The nearest class mean is right far above chance (0.2), and not always.
    centres = np.stack([features[labels == c].mean(axis=0) for c in range(data_scale_data.CLASSES)])
    nearest = np.argmin(((features[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    assert 0.6 < (nearest == labels).mean() < 0.99


def test_csv_and_tfrecords_hold_the_same_rows_and_a_complete_set_is_reused(tmp_path, small_chunks):
    import tensorflow as tf

    path = data_scale_data.csv_file(tmp_path, 2_500, seed=0)
    with open(path) as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == data_scale_data.FEATURE_NAMES + ["label"] and len(rows) == 2_501
    folder = data_scale_data.tfrecord_folder(tmp_path, 2_500, seed=0)
    shards = sorted(str(p) for p in folder.glob("*.tfrecord.gz"))
    assert [s.rsplit("/", 1)[1] for s in shards] == [f"part-0000{i}-of-00003.tfrecord.gz" for i in range(3)]
    records = list(tf.data.TFRecordDataset(shards, compression_type="GZIP").as_numpy_iterator())
    assert len(records) == 2_500
    for index in (7, 1_234, 2_499):
        example = tf.train.Example.FromString(records[index])
        row = rows[index + 1]
        assert example.features.feature["label"].int64_list.value[0] == int(row[-1])
        np.testing.assert_allclose(example.features.feature["f03"].float_list.value[0], float(row[3]), rtol=1e-6)
    # Only the data is in the folder ExampleGen reads; the marker is beside it.
    assert [p.name for p in path.parent.iterdir()] == ["data.csv"]
    modified = path.stat().st_mtime_ns
    assert data_scale_data.csv_file(tmp_path, 2_500, seed=0) == path and path.stat().st_mtime_ns == modified
    data_scale_data.csv_file(tmp_path, 2_500, seed=1)  # another seed replaces it
    assert path.stat().st_mtime_ns != modified


def test_image_folders_hold_one_class_each(tmp_path):
    from PIL import Image

    folder = data_scale_data.image_folder(tmp_path, 12, seed=0)
    counts = {d.name: len(list(d.glob("*.png"))) for d in folder.iterdir()}
    assert counts == {"class_0": 3, "class_1": 3, "class_2": 2, "class_3": 2, "class_4": 2}
    assert Image.open(folder / "class_1" / "000006.png").size == (32, 32)


def test_peak_within_takes_the_samples_inside_the_intervals():
    samples = [(0.5, 100.0), (1.0, 900.0), (1.5, 300.0), (2.0, 400.0), (2.5, 800.0)]
    assert study_run.peak_within(samples, 1000.0, [(1001.2, 1002.2)]) == 400
    assert study_run.peak_within(samples, 1000.0, [(1001.2, 1002.2), (1000.0, 1000.6)]) == 400
    assert study_run.peak_within(samples, 1000.0, [(1002.6, 1003.0)]) is None


def _entry(source, size, ingest, ingest_peak, run_peak, trainer_peak, train_seconds, peer=None, epoch=None):
    entry = {
        "source": source, "size": size, "unit": "images" if source == "images" else "rows",
        "data": {"bytes": size * 225, "generate_seconds": 1.0},
        "ours": {"wall_seconds": 100.0, "ingest_seconds": ingest, "ingest_peak_mib": ingest_peak,
                 "run_peak_mib": run_peak, "train_seconds": train_seconds, "trainer_seconds": train_seconds + 5,
                 "trainer_peak_mib": trainer_peak, "trial": {"batch_size": 32},
                 "epoch_seconds": None if epoch is None else [epoch]},
        "keras": {"fit_seconds": train_seconds / 2, "trial_equivalent_seconds": train_seconds / 1.1, "peak_mib": 900.0},
    }
    if peer:
        entry["example_gen"] = {"component": data_scale.PEER_COMPONENT[source], "node_seconds": peer[0],
                                "peak_mib": peer[1] + 50, "node_peak_mib": peer[1]}
    return entry


def _report():
    return {
        "product_command": data_scale.PRODUCT_COMMAND, "peer_max_rows": 1_000_000, "seed": 0, "machine": "m",
        "threads": 2, "date": "d", "commit": "c", "sample_interval": 0.5,
        "measurements": [
            _entry("csv", 100_000, 10.0, 1000.0, 1500.0, 1200.0, 20.0, peer=(60.0, 1100.0)),
            _entry("csv", 1_000_000, 40.0, 1300.0, 2000.0, 1250.0, 150.0, peer=(500.0, 3000.0), epoch=81.0),
            _entry("csv", 10_000_000, 300.0, 1500.0, 2500.0, 1300.0, 1400.0),
            _entry("tfrecord", 1_000_000, 700.0, 1300.0, 2000.0, 1250.0, 150.0, peer=(500.0, 3000.0)),
            _entry("images", 20_000, 80.0, 1400.0, 2200.0, 1500.0, 60.0),
        ],
    }


def test_tables_have_a_row_per_measurement_and_judge_the_targets():
    text = data_scale.markdown(_report())
    assert "| csv | 1,000,000 | 225.0 | 40.0 | 500.0 | 0.08 | 1,300 | 3,000 | 100 | 2,000 |" in text
    assert "| images | 20,000 images | 4.5 | 80.0 | - | - | 1,400 | - |" in text
    assert "| csv | 10,000,000 | 1,300 | 1,405.0 | 32 | - | 700.0 | - | 1,400.0 | 1,272.7 | 1.10 | 900 |" in text
    assert "| csv | 1,000,000 | 1,250 | 155.0 | 32 | 81.0 | 75.0 | 1.08 | 150.0 | 136.4 | 1.10 | 900 |" in text
    targets = {name: (measured, met) for name, measured, met in data_scale.targets(_report())}
    assert targets["csv: ingest no slower than CsvExampleGen at every size compared"] == ("100,000: 0.17x, 1,000,000: 0.08x", True)
    assert targets["tfrecord: ingest no slower than ImportExampleGen at every size compared"][1] is False
    assert targets["csv: ingest peak growth 100K -> 1M rows no larger than CsvExampleGen's"] == (
        "ours 300 MiB, ExampleGen 1,900 MiB", True)
    assert targets["csv: run peak growth 1M -> 10M rows under 1024 MiB"] == ("500 MiB", True)
    assert targets["csv: trainer peak at 10M rows within 1.2x of 100K"] == ("1.08x", True)
    epoch_target = "the 1M-row trial's epoch within 1.2x of a Keras `fit` epoch on in-memory arrays"
    assert targets[f"csv: {epoch_target}"] == ("1.08x", True)
    assert targets[f"tfrecord: {epoch_target}"] == ("1.10x (whole trial: epochs not timed apart)", True)
    assert targets["tfrecord: the 10M-row run completes"] == ("not measured", None)
    assert "| tfrecord: trainer peak at 10M rows within 1.2x of 100K | - | not measured |" in text


def test_targets_fail_when_the_figures_miss_them():
    report = _report()
    ten_million = report["measurements"][2]["ours"]
    ten_million["run_peak_mib"], ten_million["trainer_peak_mib"] = 3100.0, 1500.0
    report["measurements"][1]["ours"]["epoch_seconds"] = [91.0]
    report["measurements"][3]["ours"]["train_seconds"] = 200.0
    targets = {name: met for name, _, met in data_scale.targets(report)}
    assert targets["csv: run peak growth 1M -> 10M rows under 1024 MiB"] is False
    assert targets["csv: trainer peak at 10M rows within 1.2x of 100K"] is False
    assert targets["csv: the 1M-row trial's epoch within 1.2x of a Keras `fit` epoch on in-memory arrays"] is False
    assert targets["tfrecord: the 1M-row trial's epoch within 1.2x of a Keras `fit` epoch on in-memory arrays"] is False


def test_a_measurement_taken_again_replaces_the_earlier_one(tmp_path):
    out = tmp_path / "data_scale"
    report = _report()
    out.with_suffix(".json").write_text(json.dumps(report))
    again = copy.deepcopy(report["measurements"][0])
    again["ours"]["ingest_seconds"] = 11.0
    measurements = data_scale.merged(str(out), [again])
    assert len(measurements) == len(report["measurements"])
    assert [m["ours"]["ingest_seconds"] for m in measurements if (m["source"], m["size"]) == ("csv", 100_000)] == [11.0]


@pytest.mark.e2e
@pytest.mark.bench
def test_tiny_run_measures_ours_the_peers_and_keras_on_every_source(tmp_path):
    out, figure = tmp_path / "data_scale", tmp_path / "data_scale.png"
    run_benchmark("data_scale.py", "--rows", "2000", "--images", "60", "--peer-max-rows", "2000",
                  "--workdir", str(tmp_path / "work"), "--out", str(out), "--plot", str(figure))
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["machine"] and report["commit"] and report["threads"] and report["seed"] == 0
    assert report["benchmark_command"].startswith("benchmarks/data_scale.py --rows 2000")
    assert {(m["source"], m["size"]) for m in report["measurements"]} == {
        ("csv", 2000), ("tfrecord", 2000), ("images", 60)}
    for m in report["measurements"]:
        ours, keras = m["ours"], m["keras"]
        assert 0 < ours["ingest_seconds"] < ours["wall_seconds"] and ours["train_seconds"] > 0
        assert 0 < ours["ingest_peak_mib"] <= ours["run_peak_mib"] and 0 < ours["trainer_peak_mib"] <= ours["run_peak_mib"]
        assert ours["trial"]["status"] == "completed" and ours["trial"]["epochs"] == 1
        assert len(ours["epoch_seconds"]) == 1 and 0 < ours["epoch_seconds"][0] < ours["train_seconds"]
        assert keras["batch_size"] == ours["trial"]["batch_size"] and keras["fit_seconds"] > 0
        # The train split: 0.8 of the data.
        assert abs(keras["train_rows"] - 0.8 * m["size"]) <= 0.05 * m["size"]
        if m["source"] == "images":
            assert "example_gen" not in m
        else:
            peer = m["example_gen"]
            assert peer["component"] == data_scale.PEER_COMPONENT[m["source"]]
            assert 0 < peer["node_seconds"] < peer["wall_seconds"] and peer["peak_mib"] > 0
    table = out.with_suffix(".md").read_text()
    assert table == data_scale.markdown(report) and "| csv | 2,000 |" in table
    assert figure.stat().st_size > 10_000
    # Re-rendered from the raw file alone.
    out.with_suffix(".md").unlink()
    run_benchmark("data_scale.py", "--report-only", "--out", str(out), "--plot", str(figure))
    assert out.with_suffix(".md").read_text() == table
