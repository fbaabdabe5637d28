"""The speech sets espeak-ng speaks, and the audio benchmark end to end on a tiny budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.io import wavfile

from benchmarks import speech_sets
from tests.benchmarks.scripts import run_benchmark


@pytest.fixture(autouse=True)
def espeak():
    # A failure, not a skip: CI installs it (.ci/run), and so can anyone.
    if not speech_sets.espeak_available():
        pytest.fail("espeak-ng is not installed: bash .ci/install_espeak.sh")


def test_a_clip_is_two_seconds_of_16khz_speech_over_noise(tmp_path):
    rng = np.random.default_rng(0)
    utterance = speech_sets.draw_utterance("languages", "de", rng)
    assert utterance.voice.startswith("de+") and utterance.text.isdigit()
    clip = speech_sets.render_clip(utterance, rng)
    assert clip.dtype == np.int16 and clip.shape == (2 * 16000,)
    # Speech stands out of the noise floor: the loudest 50 ms window is far above the quietest.
    energy = (clip.astype(np.float64) ** 2)[: 40 * 800].reshape(40, 800).mean(axis=1)
    assert energy.max() > 20 * energy.min()


def test_the_same_seed_writes_the_same_set(tmp_path):
    first = speech_sets.write_task(tmp_path / "a", "keywords", per_class=1, test_per_class=1, seed=3)
    again = speech_sets.write_task(tmp_path / "b", "keywords", per_class=1, test_per_class=1, seed=3)
    files = sorted(p.relative_to(first) for p in first.rglob("*.wav"))
    assert len(files) == 2 * len(speech_sets.KEYWORDS)
    assert {p.parts[1] for p in files} == set(speech_sets.KEYWORDS)
    for path in files:
        rate, samples = wavfile.read(first / path)
        assert rate == 16000
        np.testing.assert_array_equal(samples, wavfile.read(again / path)[1])
    # The test clips are fresh draws, not copies of the data clips.
    assert not np.array_equal(wavfile.read(first / "data/yes/000.wav")[1],
                              wavfile.read(first / "test/yes/000.wav")[1])


@pytest.mark.e2e
@pytest.mark.bench
def test_tiny_benchmark_writes_raw_results_and_the_table_from_them(tmp_path):
    out = tmp_path / "audio"
    run_benchmark("audio.py", "--tasks", "keywords", "--seeds", "0",
                  "--search-args", "--rounds 1 --trials-per-trainer 1 --epochs 2 --distill-epochs 1",
                  "--workdir", str(tmp_path / "work"), "--out", str(out))
    report = json.loads(out.with_suffix(".json").read_text())
    run = report["tasks"][0]["runs"][0]
    assert run["split_sizes"] == {"train": 256, "eval": 128, "test": 256}
    assert report["seeds"] == [0] and report["machine"] and report["baseline_threads"] == 1
    for method in ("search", "cnn", "logistic_regression"):
        assert 0.0 <= run[method]["test_accuracy"] <= 1.0 and run[method]["num_params"] > 0
    # Statistics of 40 mel bands into 8 classes: a linear model learns these.
    assert run["logistic_regression"]["test_accuracy"] > 0.5
    assert run["cnn"]["epochs"] == 2 and run["cnn"]["batch_size"] == 16
    assert all(t["hyperparameters"]["batch_size"] == 16 for t in run["search"]["trials"])
    # Beam's first round on audio: its first two starting stacks.
    assert {tuple(t["blocks"]) for t in run["search"]["trials"]} == {
        ("statistics_pooling",), ("conv1d", "statistics_pooling")}
    table = out.with_suffix(".md").read_text()
    assert f"{run['logistic_regression']['test_accuracy']:.3f}" in table
