"""Decoding: one record into feature values, inside Beam workers. Beam
pickles what its workers call, so everything here is a module-level function
of an importable module. `predict` decodes the files it scores with
the same `decode_image` and `decode_wav`, so a model sees the arrays it was
trained on.
"""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np

from components.ingest.paths import read_bytes
from components.ingest.plan import AudioOptions

# How PIL opens a 16-bit grayscale PNG ("I" in older versions, with values up to 65535).
_SIXTEEN_BIT_GRAY_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


def decode_image(file: str, size: Sequence[int], channels: int) -> np.ndarray:
    """Float32 [height, width, channels] in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    try:
        opened = Image.open(io.BytesIO(read_bytes(file)))
    except UnidentifiedImageError:
        # PIL names the buffer it was given; the file is what a user can act on.
        raise UnidentifiedImageError(f"cannot identify image file {file!r}") from None
    with opened as image:
        if image.mode in _SIXTEEN_BIT_GRAY_MODES:
            return _sixteen_bit_gray(image, size, channels)
        image = image.convert("L" if channels == 1 else "RGB")
        if (image.height, image.width) != tuple(size):
            image = image.resize((size[1], size[0]), Image.BILINEAR)
        array = np.asarray(image, dtype=np.float32) / 255.0
    return array.reshape(size[0], size[1], channels)


def _sixteen_bit_gray(image, size: Sequence[int], channels: int) -> np.ndarray:
    """A 16-bit grayscale image scaled by 65535, resized as floats: PIL's
    convert() to 8 bits clips every value above 255 to white."""
    from PIL import Image

    gray = Image.fromarray(np.clip(np.asarray(image, dtype=np.float32), 0.0, 65535.0) / 65535.0)
    if (gray.height, gray.width) != tuple(size):
        gray = gray.resize((size[1], size[0]), Image.BILINEAR)
    array = np.asarray(gray, dtype=np.float32).reshape(size[0], size[1], 1)
    return np.repeat(array, channels, axis=2)


def _mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular filters on the HTK mel scale, [n_fft // 2 + 1, n_mels]."""

    def to_mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def to_hz(mel):
        return 700.0 * (10 ** (np.asarray(mel) / 2595.0) - 1.0)

    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = to_hz(np.linspace(to_mel(20.0), to_mel(sample_rate / 2), n_mels + 2))
    bank = np.zeros((bins.size, n_mels), dtype=np.float32)
    for m in range(n_mels):
        left, center, right = edges[m], edges[m + 1], edges[m + 2]
        rising = (bins - left) / max(center - left, 1e-9)
        falling = (right - bins) / max(right - center, 1e-9)
        bank[:, m] = np.maximum(0.0, np.minimum(rising, falling))
    return bank


def _frame_sizes(audio: AudioOptions) -> tuple[int, int, int]:
    frame = int(round(audio.sample_rate * audio.frame_ms / 1000))
    step = int(round(audio.sample_rate * audio.step_ms / 1000))
    n_fft = 1 << (frame - 1).bit_length()
    return frame, step, n_fft


def log_mel_frames(seconds: float, audio: AudioOptions) -> int:
    frame, step, _ = _frame_sizes(audio)
    samples = int(round(seconds * audio.sample_rate))
    return 1 + max(0, samples - frame) // step


def decode_wav(file: str, audio: AudioOptions, seconds: float) -> np.ndarray:
    """Log-mel spectrogram float32 [frames, n_mels] of a WAV file: mixed to
    mono, resampled, cropped or zero-padded to `seconds`."""
    from math import gcd

    from scipy.io import wavfile
    from scipy.signal import resample_poly

    rate, samples = wavfile.read(io.BytesIO(read_bytes(file)))
    samples = np.asarray(samples)
    if samples.dtype.kind == "u":  # 8-bit PCM is unsigned around 128
        samples = (samples.astype(np.float32) - 128.0) / 128.0
    elif samples.dtype.kind == "i":
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max)
    else:
        samples = samples.astype(np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if rate != audio.sample_rate:
        divisor = gcd(rate, audio.sample_rate)
        samples = resample_poly(samples, audio.sample_rate // divisor, rate // divisor).astype(np.float32)
    length = int(round(seconds * audio.sample_rate))
    samples = np.pad(samples[:length], (0, max(0, length - samples.shape[0])))
    frame, step, n_fft = _frame_sizes(audio)
    count = log_mel_frames(seconds, audio)
    starts = np.arange(count) * step
    frames = np.stack([samples[s : s + frame] for s in starts]) * np.hanning(frame).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2
    mel = power @ _mel_filterbank(audio.sample_rate, n_fft, audio.n_mels)
    return np.log(mel + 1e-6).astype(np.float32)
