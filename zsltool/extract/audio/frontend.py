"""The VGGish log-mel front end, as published (tensorflow/models research/audioset/vggish).

16 kHz mono waveform -> frames of 25 ms (400 samples) every 10 ms (160 samples), no padding
(``1 + floor((N - 400) / 160)`` frames) -> periodic Hann window -> 512-point FFT magnitude -> 64 HTK-mel bands
from 125 to 7500 Hz (the mel matrix of ``mel_features.spectrogram_to_mel_matrix``, whose DC row is zero)
-> ``log(mel + 0.01)`` -> non-overlapping examples of 96 frames (0.96 s) x 64 bands; a remainder shorter
than one example is dropped, as in the reference.

The arithmetic runs in float64 (the reference is numpy float64) and the examples are returned as float32.
Clips shorter than one example (``MIN_SAMPLES`` = 15600 samples = 0.975 s) are zero-padded to it before the
front end (the audio loader's ``min_samples``), so a short clip gives one example instead of none; the run
summary counts them.
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
FFT = 512
N_MELS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s
MIN_SAMPLES = WINDOW + HOP * (EXAMPLE_FRAMES - 1)  # 15600: the shortest waveform that gives one example

FRONTEND_META = {
    "sample_rate": SAMPLE_RATE, "window_samples": WINDOW, "hop_samples": HOP, "window": "periodic hann",
    "fft": FFT, "mel_bands": N_MELS, "mel_hz": [MEL_MIN_HZ, MEL_MAX_HZ], "mel_scale": "htk (1127 ln(1 + f/700))",
    "log_offset": LOG_OFFSET, "example_frames": EXAMPLE_FRAMES, "example_hop_frames": EXAMPLE_FRAMES,
}


def hz_to_mel(hz):
    return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_matrix(n_mels: int = N_MELS, n_bins: int = FFT // 2 + 1, sample_rate: int = SAMPLE_RATE,
               low_hz: float = MEL_MIN_HZ, high_hz: float = MEL_MAX_HZ) -> np.ndarray:
    """(n_bins, n_mels) triangular HTK-mel weights over linearly spaced FFT bins; the DC row is zeroed."""
    bins_mel = hz_to_mel(np.linspace(0.0, sample_rate / 2.0, n_bins))
    edges = np.linspace(hz_to_mel(low_hz), hz_to_mel(high_hz), n_mels + 2)
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lo[None, :]) / (mid - lo)[None, :]
    falling = (hi[None, :] - bins_mel[:, None]) / (hi - mid)[None, :]
    w = np.maximum(0.0, np.minimum(rising, falling))
    w[0, :] = 0.0
    return w


@functools.cache
def _mel_tensor():
    import torch

    return torch.from_numpy(mel_matrix())


def log_mel(wave) -> "torch.Tensor":  # noqa: F821
    """(frames, 64) float64 log-mel spectrogram of a 16 kHz mono waveform (>= 400 samples)."""
    import torch

    x = torch.as_tensor(np.asarray(wave), dtype=torch.float64).reshape(-1)
    if x.shape[0] < WINDOW:
        return torch.zeros((0, N_MELS), dtype=torch.float64)
    frames = x.unfold(0, WINDOW, HOP)  # (F, 400), F = 1 + (N - 400) // 160
    window = torch.hann_window(WINDOW, periodic=True, dtype=torch.float64)
    mag = torch.fft.rfft(frames * window, n=FFT).abs()  # (F, 257)
    return torch.log(mag @ _mel_tensor() + LOG_OFFSET)


def waveform_to_examples(wave) -> np.ndarray:
    """(K, 96, 64) float32 examples of a 16 kHz mono waveform; K = frames // 96 (may be 0)."""
    import torch

    lm = log_mel(wave)
    k = lm.shape[0] // EXAMPLE_FRAMES
    return lm[: k * EXAMPLE_FRAMES].reshape(k, EXAMPLE_FRAMES, N_MELS).to(torch.float32).numpy()
