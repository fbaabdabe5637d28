"""Two small speech sets spoken by espeak-ng, written as folders of class folders of WAV files.

- ``keywords``: keyword spotting, 8 English words (yes, no, up, down, left,
  right, stop, go).
- ``languages``: language identification, 8 languages reading a random number (10-999)
  (espeak-ng reads digits in each language's own words, so every clip says
  something different and the content never gives the class away).

Each clip is a random draw: one of espeak-ng's voice variants (male, female,
older, younger), a speaking rate and a pitch, placed at a random
time inside a 2 s clip, with white noise at a random signal-to-noise ratio;
16 kHz mono 16-bit WAV. The same seed writes the same files.

Layout under ``OUT/<task>/``: ``data/<class>/`` holds 48 clips a class, which
the platform splits itself (exact, seeded, per class): ``--split 0.6,0.3,0.1``
with a separate test set gives 32 train + 16 eval a class, i.e. 256 training
clips; ``test/<class>/`` holds 32 more a class, drawn with another seed, for
``--test-data``.

    python benchmarks/speech_sets.py OUT            # both tasks
    python benchmarks/speech_sets.py OUT --task keywords --per-class 48 --test-per-class 32
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
CLIP_SECONDS = 2.0
# espeak-ng's voice variants (espeak-ng-data/voices/!v): different formants,
# breathiness and default pitch, so no class is tied to one voice.
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "stop", "go")
LANGUAGES = ("en", "de", "fr", "es", "it", "pl", "fi", "hu")
TASKS = ("keywords", "languages")
# The split the platform is asked for: 2/3 of `data` trains, 1/3 evaluates.
SPLIT = "0.6,0.3,0.1"


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One clip's recipe: what to say, in which voice, how, and where."""

    voice: str  # espeak-ng -v, e.g. "de+f2"
    text: str
    words_per_minute: int
    pitch: int  # 0..99
    offset_fraction: float  # where the speech starts in the clip's free time
    snr_db: float


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def classes_of(task: str) -> tuple[str, ...]:
    return KEYWORDS if task == "keywords" else LANGUAGES


def draw_utterance(task: str, label: str, rng: np.random.Generator) -> Utterance:
    language = "en-us" if task == "keywords" else label
    if task == "keywords":
        text = label
    else:
        # A number read in the language's own words: one to two seconds of speech.
        text = str(int(rng.integers(10, 1000)))
    return Utterance(
        voice=f"{language}+{VARIANTS[int(rng.integers(len(VARIANTS)))]}",
        text=text,
        words_per_minute=int(rng.integers(120, 221)),
        pitch=int(rng.integers(20, 81)),
        offset_fraction=float(rng.random()),
        snr_db=float(rng.uniform(10.0, 30.0)),
    )


def speak(utterance: Utterance) -> np.ndarray:
    """espeak-ng's rendering of the utterance, float32 mono at SAMPLE_RATE."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    # A file, not --stdout: a streamed WAV header carries no length.
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "speech.wav"
        command = [
            "espeak-ng", "-v", utterance.voice, "-s", str(utterance.words_per_minute),
            "-p", str(utterance.pitch), "-w", str(path), utterance.text,
        ]
        subprocess.run(command, capture_output=True, check=True)
        rate, samples = wavfile.read(path)
    samples = samples.astype(np.float32) / 32768.0
    if rate != SAMPLE_RATE:
        divisor = np.gcd(rate, SAMPLE_RATE)
        samples = resample_poly(samples, SAMPLE_RATE // divisor, rate // divisor).astype(np.float32)
    return samples


def render_clip(utterance: Utterance, rng: np.random.Generator) -> np.ndarray:
    """The speech placed in a CLIP_SECONDS clip (cropped if longer), plus noise,
    as int16."""
    speech = speak(utterance)
    # espeak-ng pads with silence; trimmed so the offset moves the speech itself.
    voiced = np.flatnonzero(np.abs(speech) > 1e-3)
    if voiced.size:
        speech = speech[voiced[0] : voiced[-1] + 1]
    length = int(CLIP_SECONDS * SAMPLE_RATE)
    speech = speech[:length]
    start = int(utterance.offset_fraction * (length - speech.size))
    clip = np.zeros(length, dtype=np.float32)
    clip[start : start + speech.size] = speech
    speech_power = float(np.mean(speech**2)) if speech.size else 1e-6
    noise_power = speech_power / (10.0 ** (utterance.snr_db / 10.0))
    clip += rng.normal(0.0, np.sqrt(noise_power), length).astype(np.float32)
    peak = float(np.max(np.abs(clip))) or 1.0
    return np.round(clip / peak * 0.9 * 32767).astype(np.int16)


def write_split(folder: Path, task: str, per_class: int, seed: int) -> int:
    """`per_class` clips of every class into `folder/<class>/NNN.wav`; the count written."""
    from scipy.io import wavfile

    rng = np.random.default_rng(seed)
    written = 0
    for label in classes_of(task):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            utterance = draw_utterance(task, label, rng)
            wavfile.write(folder / label / f"{index:03d}.wav", SAMPLE_RATE, render_clip(utterance, rng))
            written += 1
    return written


def write_task(out: Path, task: str, per_class: int = 48, test_per_class: int = 32, seed: int = 0) -> Path:
    """OUT/<task>/data and OUT/<task>/test; returns OUT/<task>."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    root = out / task
    # The test clips get their own seed, so they are fresh draws, never copies.
    write_split(root / "data", task, per_class, seed=seed * 1000 + TASKS.index(task) * 2)
    write_split(root / "test", task, test_per_class, seed=seed * 1000 + TASKS.index(task) * 2 + 1)
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--task", choices=TASKS, action="append", help="default: both")
    parser.add_argument("--per-class", type=int, default=48, help="clips a class in data/")
    parser.add_argument("--test-per-class", type=int, default=32, help="clips a class in test/")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for task in args.task or TASKS:
        root = write_task(args.out, task, args.per_class, args.test_per_class, args.seed)
        print(f"{root}: data/ and test/, {len(classes_of(task))} classes")


if __name__ == "__main__":
    main()
