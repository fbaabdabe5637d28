"""`model-search predict` on the pushed models of real small CSV, image and audio
runs (end to end), and on a model and input at a URI (ram:// stands in for gs://)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.cli import main
from tests import datagen


def predict(capsys, model: Path, *data: Path, json_output: bool = True) -> tuple[int, str, str]:
    argv = ["predict", "--model", str(model), "--data", *map(str, data)]
    status = main(argv + (["--json"] if json_output else []))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def pushed(run_dir: Path) -> Path:
    (version,) = (run_dir / "serving").iterdir()
    return version


def assert_one_error_line(err: str, message: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("model-search: error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


@pytest.mark.e2e
def test_csv_rows_with_class_names(csv_run, hostile_csv, tmp_path, capsys, caplog):
    with hostile_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    # Without the label column, columns in another order, one empty numeric cell.
    header = rows[0]
    # (The quoted column stays first: csv.Sniffer misreads a doubled quote in a later header field.)
    order = [header.index(datagen.HOSTILE_COLUMN), header.index("colour"), header.index("weight")]
    data = tmp_path / "new rows.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([header[i] for i in order])
        for row in rows[1:6]:
            writer.writerow([row[i] for i in order])
        writer.writerow(["0.5", "red", ""])
    status, out, err = predict(capsys, pushed(csv_run), data)
    assert status == 0, err
    results = json.loads(out)
    assert [r["input"] for r in results] == [f"{data}:{line}" for line in range(2, 8)]
    for result in results:
        assert result["class"] in (datagen.HOSTILE_CLASS, "plain")
        assert set(result["probabilities"]) == {datagen.HOSTILE_CLASS, "plain"}
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert result["probability"] == max(result["probabilities"].values())
    assert "column 'weight': 1 empty cell(s) take the training mean (lines 7)" in caplog.text
    # The serving folder means its newest version; the table shows class names as text.
    status, out, _ = predict(capsys, csv_run / "serving", data, json_output=False)
    assert status == 0 and results[0]["class"] in out and f"{results[0]['probability']:.4f}" in out


@pytest.mark.e2e
def test_csv_with_wrong_columns_exits_2(csv_run, tmp_path, capsys):
    data = tmp_path / "wrong.csv"
    data.write_text("weight,colour,height\n1.0,red,3\n")
    status, _, err = predict(capsys, pushed(csv_run), data)
    assert status == 2
    assert_one_error_line(err, f"wrong.csv: missing column(s) {datagen.HOSTILE_COLUMN!r}; the model needs:")


@pytest.mark.e2e
def test_csv_with_text_in_a_numeric_column_exits_2(csv_run, tmp_path, capsys):
    data = tmp_path / "typo.csv"
    data.write_text(f'"{datagen.HOSTILE_COLUMN.replace(chr(34), chr(34) * 2)}",weight,colour\n1.0,heavy,red\n')
    status, _, err = predict(capsys, pushed(csv_run), data)
    assert status == 2
    assert_one_error_line(err, "typo.csv: column 'weight' is numeric but line 2 holds text ('heavy')")


@pytest.mark.e2e
def test_images_resized_and_unreadable(image_run, image_folder, tmp_path, capsys):
    from PIL import Image

    model = pushed(image_run)
    spec = json.loads((model / "assets.extra" / "dataset_spec.json").read_text())
    height, width, _ = spec["features"][0]["shape"]
    original = next(f for f in sorted((image_folder / "circle").iterdir()) if Image.open(f).size == (width, height))
    # The same picture, three times larger and in colour: resized and converted as in training.
    larger = tmp_path / "larger.png"
    with Image.open(original) as image:
        image.convert("RGB").resize((3 * width, 3 * height), Image.NEAREST).save(larger)
    status, out, err = predict(capsys, model, original, larger, image_folder / "square")
    assert status == 0, err
    results = json.loads(out)
    assert len(results) == 2 + len(list((image_folder / "square").iterdir()))
    assert {r["class"] for r in results} <= set(datagen.SHAPE_CLASSES)
    first, second = results[0]["probabilities"], results[1]["probabilities"]
    assert max(abs(first[c] - second[c]) for c in first) < 0.1

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    status, _, err = predict(capsys, model, original, broken)
    assert status == 2
    assert_one_error_line(err, "broken.png: cannot read it as an image")
    status, _, err = predict(capsys, model, tmp_path / "missing.png")
    assert status == 2
    assert_one_error_line(err, "missing.png: no such file or folder")


@pytest.mark.e2e
def test_wav_files(audio_run, audio_folder, tmp_path, capsys):
    model = pushed(audio_run)
    # A tone the model has never heard, at a rate and length unlike the training files.
    new_tone = tmp_path / "new.wav"
    datagen.write_wav(new_tone, frequency=2900.0, rate=44100, seconds=0.7, stereo=True, float_samples=False)
    status, out, err = predict(capsys, model, audio_folder, new_tone)
    assert status == 0, err
    results = json.loads(out)
    files = sorted(str(f) for f in audio_folder.rglob("*.wav"))
    assert [r["input"] for r in results] == files + [str(new_tone)]
    assert {r["class"] for r in results} <= set(datagen.TONE_CLASSES)
    assert all(np.isclose(sum(r["probabilities"].values()), 1.0, atol=1e-5) for r in results)

    not_wav = tmp_path / "noise.wav"
    not_wav.write_bytes(b"RIFF\x00\x00garbage")
    status, _, err = predict(capsys, model, not_wav)
    assert status == 2
    assert_one_error_line(err, "noise.wav: cannot read it as a WAV file")


@pytest.mark.e2e
def test_a_folder_that_is_not_a_model(tmp_path, capsys):
    status, _, err = predict(capsys, tmp_path, tmp_path)
    assert status == 2
    assert_one_error_line(err, "not a pushed model (no saved_model.pb")


# --------------------------------------------------------------------------
# A model and input at a URI: ram:// (TensorFlow's in-memory file system) stands in for gs://.


def _save_tiny_model(version_dir: str) -> None:
    """A SavedModel with the pushed models' serving signature and dataset spec:
    two classes, P(pos) = softmax(x, -x)[0] of one numeric feature."""
    import tensorflow as tf

    from search_algo.dataset_spec import DatasetSpec, FeatureSpec

    class Tiny(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, examples):
            x = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([], tf.float32)})["x"]
            return {"probabilities": tf.nn.softmax(tf.stack([x, -x], axis=1))}

    module = Tiny()
    tf.saved_model.save(module, version_dir, signatures={"serving_default": module.serve})
    DatasetSpec(name="tiny", task="classification", input_kind="tabular", label="label", label_display_name="label",
                features=[FeatureSpec("x", "x value", "numeric", "float32", [], mean=[0.0], std=[1.0])],
                class_names=["pos", "neg"], source={"kind": "csv"}).save(f"{version_dir}/assets.extra")


def test_model_and_csv_at_a_uri(ram_root, capsys):
    import tensorflow as tf

    from pipeline.commands import predict as command

    serving = f"{ram_root}/run/serving"
    _save_tiny_model(f"{serving}/10")
    # Older and unfinished exports beside it: the newest numeric version (10, not "2") is used.
    for other in ("2", "unfinished"):
        with tf.io.gfile.GFile(f"{serving}/{other}/saved_model.pb", "wb") as handle:
            handle.write(b"not a model")
    assert command.resolve_model_dir(serving) == f"{serving}/10"
    rows = f"{ram_root}/input/rows.csv"
    with tf.io.gfile.GFile(rows, "w") as handle:
        handle.write("x value,label\n2.0,pos\n-1.0,neg\n,pos\n")

    status, out, err = predict(capsys, serving, rows)
    assert status == 0, err
    results = json.loads(out)
    assert [(r["input"], r["class"]) for r in results] == [
        (f"{rows}:2", "pos"), (f"{rows}:3", "neg"), (f"{rows}:4", "pos")]
    assert results[0]["probability"] == pytest.approx(1 / (1 + np.exp(-4.0)), abs=1e-6)
    # The empty cell took the training mean, 0: both classes equally likely.
    assert results[2]["probabilities"] == pytest.approx({"pos": 0.5, "neg": 0.5})


def test_images_and_wavs_at_a_uri_read_as_local_files(image_folder, audio_folder, ram_root):
    from pipeline import predict_inputs
    from search_algo.dataset_spec import DatasetSpec, FeatureSpec

    audio = {"sample_rate": 16000, "seconds": 0.5, "max_seconds": 10.0, "n_mels": 40, "frame_ms": 25.0, "step_ms": 10.0}
    cases = [
        (image_folder, "square/square_1.jpg", "image",
         FeatureSpec("image", "image", "numeric", "float32", [12, 10, 3]), {"kind": "images"}),
        (audio_folder, "low/low_3.wav", "sequence",
         FeatureSpec("audio", "log-mel spectrogram", "numeric", "float32", [48, 40]),
         {"kind": "audio", "options": {"audio": audio}}),
    ]
    for folder, one_file, input_kind, feature, source in cases:
        spec = DatasetSpec(name="tiny", task="classification", input_kind=input_kind, label="label",
                           label_display_name="class", features=[feature], class_names=["a", "b"], source=source)
        root = datagen.copy_to_uri(folder, f"{ram_root}/{folder.name}")
        local = list(predict_inputs.read_inputs([str(folder), str(folder / one_file)], spec))
        at_uri = list(predict_inputs.read_inputs([root + "/", f"{root}/{one_file}"], spec))
        # The same files in the same order, each read to the same array.
        assert [name for name, _ in at_uri] == [root + name[len(str(folder)):] for name, _ in local]
        assert len(at_uri) == len(list(folder.rglob("*.*"))) + 1
        for (_, uri_values), (_, local_values) in zip(at_uri, local):
            np.testing.assert_array_equal(uri_values[feature.name], local_values[feature.name])


def _save_foreign_model(version_dir: str, signature_name: str) -> None:
    """A SavedModel whose only signature takes a float tensor `x`, not serialized tf.Examples."""
    import tensorflow as tf

    class Foreign(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def double(self, x):
            return 2 * x

    module = Foreign()
    tf.saved_model.save(module, version_dir, signatures={signature_name: module.double})


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "saved_model.pb").write_bytes(b"not a model"),
     "{model}: not a loadable SavedModel (OSError: Cannot parse file"),
    (lambda d: _save_foreign_model(str(d), "other"),
     "{model}: the SavedModel has no 'serving_default' signature (it has: other); is it a model pushed by"),
    (lambda d: _save_foreign_model(str(d), "serving_default"),
     "{model}: its 'serving_default' signature takes x and returns output_0; a pushed model takes 'examples' and "
     "returns 'probabilities'"),
], ids=["garbage saved_model.pb", "no serving signature", "another serving signature"])
def test_a_folder_that_is_not_a_pushed_model_exits_2(make, message, tmp_path, capsys):
    model = tmp_path / "serving" / "1"
    model.mkdir(parents=True)
    make(model)
    # The dataset spec of a real export, so that loading the model itself is what fails.
    _save_tiny_model(str(tmp_path / "tiny"))
    (tmp_path / "tiny" / "assets.extra").rename(model / "assets.extra")
    rows = tmp_path / "rows.csv"
    rows.write_text("x value,label\n2.0,pos\n")
    status, out, err = predict(capsys, model, rows)
    assert (status, out) == (2, "")
    assert_one_error_line(err, message.format(model=model))
    assert err.count("\n") == 1, err


def test_missing_model_and_data_at_a_uri_exit_2(ram_root, capsys):
    status, _, err = predict(capsys, f"{ram_root}/serving", f"{ram_root}/rows.csv")
    assert status == 2
    assert_one_error_line(err, f"{ram_root}/serving: no such model folder")
    _save_tiny_model(f"{ram_root}/serving/1")
    status, _, err = predict(capsys, f"{ram_root}/serving", f"{ram_root}/rows.csv")
    assert status == 2
    assert_one_error_line(err, f"{ram_root}/rows.csv: no such file")


# --------------------------------------------------------------------------
# A sequence model (mnist1d's input: one feature `signal` of shape (40, 1)) on
# .npy arrays, CSV rows of values and TFRecords; tabular and image models on
# TFRecords.

STEPS = 40
# The tiny sequence model's weight per step: the order of the values matters.
STEP_WEIGHTS = np.linspace(-1.0, 1.0, STEPS, dtype=np.float32)


def _save_sequence_model(version_dir: str) -> None:
    """mnist1d's serving signature and dataset spec: P(up) = softmax(s, -s)[0]
    where s is the signal weighted by STEP_WEIGHTS, summed."""
    import tensorflow as tf

    from search_algo.dataset_spec import DatasetSpec, FeatureSpec

    class TinySequence(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, examples):
            signal = tf.io.parse_example(examples, {"signal": tf.io.FixedLenFeature([STEPS, 1], tf.float32)})["signal"]
            score = tf.reduce_sum(signal[:, :, 0] * STEP_WEIGHTS, axis=1)
            return {"probabilities": tf.nn.softmax(tf.stack([score, -score], axis=1))}

    module = TinySequence()
    tf.saved_model.save(module, version_dir, signatures={"serving_default": module.serve})
    DatasetSpec(name="mnist1d", task="classification", input_kind="sequence", label="label",
                label_display_name="label", features=[FeatureSpec("signal", "signal", "numeric", "float32", [STEPS, 1])],
                class_names=["up", "down"], source={"kind": "builtin"}).save(f"{version_dir}/assets.extra")


@pytest.fixture(scope="module")
def sequence_model(tmp_path_factory) -> Path:
    version = tmp_path_factory.mktemp("sequence_model") / "serving" / "1"
    _save_sequence_model(str(version))
    return version


def expected_up(signals: np.ndarray) -> np.ndarray:
    score = (signals.reshape(len(signals), STEPS) * STEP_WEIGHTS).sum(axis=1)
    return 1 / (1 + np.exp(-2 * score))


def write_tfrecord(path, examples: list[dict[str, list]]) -> None:
    import tensorflow as tf

    def feature(values):
        if isinstance(values[0], bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        if isinstance(values[0], int):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))

    options = tf.io.TFRecordOptions(compression_type="GZIP" if str(path).endswith(".gz") else None)
    with tf.io.TFRecordWriter(str(path), options) as writer:
        for values in examples:
            features = {key: feature(list(v)) for key, v in values.items()}
            writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())


def test_sequence_model_on_npy_csv_and_tfrecord(sequence_model, tmp_path, ram_root, capsys, monkeypatch):
    import tensorflow as tf

    from pipeline import predict_inputs

    # Blocks of two rows: every read of a .npy array after the first is a whole block or the rest.
    monkeypatch.setattr(predict_inputs, "NPY_ROWS_PER_READ", 2)
    signals = np.random.default_rng(0).normal(size=(5, STEPS)).astype(np.float32)
    signals[0] = STEP_WEIGHTS  # up, surely
    signals[1] = -STEP_WEIGHTS  # down
    flat, with_channels = tmp_path / "flat.npy", tmp_path / "channels.npy"
    np.save(flat, signals)
    np.save(with_channels, signals.astype(np.float64)[:, :, None])
    at_uri = f"{ram_root}/signals.npy"
    with tf.io.gfile.GFile(at_uri, "wb") as handle:
        np.save(handle, signals[:3])
    with_header, without_header = tmp_path / "header.csv", tmp_path / "rows.csv"
    with_header.write_text(",".join(f"t{i}" for i in range(STEPS)) + "\n"
                           + "".join(",".join(f"{v:.9g}" for v in row) + "\n" for row in signals))
    # Space-separated, as np.savetxt writes it, with a blank line.
    np.savetxt(without_header, signals[:2], fmt="%.9g")
    without_header.write_text(without_header.read_text() + "\n")
    records = tmp_path / "test.tfrecord.gz"
    write_tfrecord(records, [{"signal": row.tolist(), "label": [i % 2]} for i, row in enumerate(signals)])

    status, out, err = predict(capsys, sequence_model, flat, with_channels, at_uri, with_header, without_header, records)
    assert status == 0, err
    results = json.loads(out)
    assert [r["input"] for r in results] == (
        [f"{flat}[{i}]" for i in range(5)] + [f"{with_channels}[{i}]" for i in range(5)]
        + [f"{at_uri}[{i}]" for i in range(3)] + [f"{with_header}:{line}" for line in range(2, 7)]
        + [f"{without_header}:{line}" for line in (1, 2)] + [f"{records}#{i}" for i in range(5)])
    up = [r["probabilities"]["up"] for r in results]
    expected = expected_up(signals)
    want = [*expected, *expected, *expected[:3], *expected, *expected[:2], *expected]
    np.testing.assert_allclose(up, want, rtol=1e-4, atol=1e-6)
    assert [r["class"] for r in results[:2]] == ["up", "down"]
    # Without --json, a table.
    status, out, _ = predict(capsys, sequence_model.parent, flat, json_output=False)
    assert status == 0 and f"{flat}[1]" in out and "down" in out


def _write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda d: np.save(d / "short.npy", np.zeros((3, STEPS - 1))) or d / "short.npy",
     "short.npy: an array of shape (3, 39); the model expects (N, 40, 1) or (N, 40)"),
    (lambda d: np.save(d / "stereo.npy", np.zeros((3, STEPS, 2))) or d / "stereo.npy",
     "stereo.npy: an array of shape (3, 40, 2); the model expects (N, 40, 1) or (N, 40)"),
    (lambda d: np.save(d / "text.npy", np.array([["a"] * STEPS])) or d / "text.npy",
     "text.npy: holds <U1 values; the model expects numbers"),
    (lambda d: _write_csv(d / "ragged.csv", "0," * (STEPS - 1) + "0\n" + "0," * (STEPS - 2) + "0\n"),
     "ragged.csv: line 2 holds 39 values; the model expects 40 per row (shape (40, 1), in order)"),
    (lambda d: _write_csv(d / "typo.csv", "0," * (STEPS - 1) + "0\n" + "0," * (STEPS - 2) + "x,0\n"),
     "typo.csv: line 2, value 39 is not a number ('x')"),
    (lambda d: write_tfrecord(d / "short.tfrecord", [{"signal": [0.5] * (STEPS - 1)}]) or d / "short.tfrecord",
     "short.tfrecord#0: feature 'signal' holds 39 values; the model expects 40 (shape (40, 1))"),
    (lambda d: write_tfrecord(d / "other.tfrecord.gz", [{"x": [0.5] * STEPS}]) or d / "other.tfrecord.gz",
     "other.tfrecord.gz#0: no feature 'signal'; the model needs: 'signal' (shape (40, 1))"),
    (lambda d: _write_csv(d / "plain.gz", "not gzip"), "plain.gz: not a readable TFRecord file of tf.Example"),
    (lambda d: _write_csv(d / "tone.wav", "RIFF"),
     "tone.wav: predict reads this model's input from .npy, .csv or TFRecord (.tfrecord, .gz) files; it was "
     "trained on builtin data (mnist1d)"),
], ids=["npy too short", "npy too many channels", "npy of text", "csv row too short", "csv text", "tfrecord too short",
        "tfrecord without the feature", "not a tfrecord", "a wav file"])
def test_sequence_model_on_bad_input_exits_2(make, message, sequence_model, tmp_path, capsys):
    status, out, err = predict(capsys, sequence_model, make(tmp_path))
    assert (status, out) == (2, "")
    assert_one_error_line(err, message)


def test_tabular_and_image_models_on_tfrecords(tmp_path, capsys):
    """TFRecords in the training feature names, by key or by the user's name; the label is ignored."""
    import tensorflow as tf

    from search_algo.dataset_spec import DatasetSpec, FeatureSpec

    tabular = tmp_path / "tabular" / "1"
    _save_tiny_model(str(tabular))
    rows = tmp_path / "rows.tfrecord"
    write_tfrecord(rows, [{"x": [2.0], "label": [b"pos"]}, {"x value": [-1.0]}])
    status, out, err = predict(capsys, tabular, rows)
    assert status == 0, err
    results = json.loads(out)
    assert [(r["input"], r["class"]) for r in results] == [(f"{rows}#0", "pos"), (f"{rows}#1", "neg")]
    assert results[0]["probability"] == pytest.approx(1 / (1 + np.exp(-4.0)), abs=1e-6)

    class TinyImage(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, examples):
            image = tf.io.parse_example(examples, {"image": tf.io.FixedLenFeature([2, 2, 1], tf.float32)})["image"]
            brightness = tf.reduce_mean(image, axis=[1, 2, 3])
            return {"probabilities": tf.nn.softmax(tf.stack([brightness, -brightness], axis=1))}

    image = tmp_path / "image" / "1"
    module = TinyImage()
    tf.saved_model.save(module, str(image), signatures={"serving_default": module.serve})
    DatasetSpec(name="tiny", task="classification", input_kind="image", label="label", label_display_name="class",
                features=[FeatureSpec("image", "image", "numeric", "float32", [2, 2, 1])],
                class_names=["light", "dark"], source={"kind": "images"}).save(f"{image}/assets.extra")
    pictures = tmp_path / "pictures.tfrecord.gz"
    write_tfrecord(pictures, [{"image": [1.0, 1.0, 0.5, 1.0]}, {"image": [-1.0] * 4}])
    status, out, err = predict(capsys, image, pictures)
    assert status == 0, err
    assert [r["class"] for r in json.loads(out)] == ["light", "dark"]
    status, out, err = predict(capsys, image, tmp_path / "rows.tfrecord")
    assert (status, out) == (2, "")
    assert_one_error_line(err, "rows.tfrecord#0: no feature 'image'; the model needs: 'image' (shape (2, 2, 1))")


@pytest.mark.e2e
def test_runs_own_test_split_tfrecords(csv_run, image_run, capsys):
    """The Examples that ingestion wrote (gzipped TFRecords) are input for the model trained on them."""
    for run_dir in (csv_run, image_run):
        (split,) = {f.parent for f in run_dir.rglob("Split-test/*.gz")}
        status, out, err = predict(capsys, run_dir / "serving", str(split / "*.gz"))
        assert status == 0, err
        results = json.loads(out)
        spec = json.loads((pushed(run_dir) / "assets.extra" / "dataset_spec.json").read_text())
        assert len(results) == spec["split_sizes"]["test"]
        assert {r["class"] for r in results} <= set(spec["class_names"])
