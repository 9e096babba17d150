"""Audio of the demo classes: each attribute value is an acoustic recipe.

- pitch sets the centre frequency: low hum ~200 Hz, mid tone ~700 Hz, high whistle ~2.4 kHz;
- timbre sets the carrier: pure (sine + weak 2nd harmonic), hissing (noise band-limited around the
  pitch, ~1/3 octave wide), rising chirps / falling sweeps (the frequency glides over +-0.6 octave,
  repeating every ~0.4 s);
- pattern sets the envelope: steady, fast clicking (~10 decaying clicks per s), slow knocking (~2
  longer knocks per s), pulsing (~4 smooth swells per s).

Every instance varies: pitch jitter (+-1 semitone), event rate (+-12 %), phase, amplitude and a
background noise floor (SNR 15 to 30 dB). ``synth_clip`` is a pure function of its random generator.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
PITCH_HZ = {"low": 200.0, "mid": 700.0, "high": 2400.0}
# events per second, decay time constant (s) for impulsive patterns
PATTERN_RATE = {"steady": 0.0, "clicking": 10.0, "knocking": 2.0, "pulsing": 4.0}
PATTERN_DECAY = {"clicking": 0.012, "knocking": 0.07}
SWEEP_OCTAVES = 1.2  # total glide of a chirp or sweep
SWEEP_PERIOD_S = 0.4


def _frequency_track(timbre: str, f0: float, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if timbre in ("rising", "falling"):
        period = SWEEP_PERIOD_S * rng.uniform(0.85, 1.15)
        phase = (t / period + rng.random()) % 1.0
        if timbre == "falling":
            phase = 1.0 - phase
        return f0 * 2.0 ** (SWEEP_OCTAVES * (phase - 0.5))
    vibrato = rng.uniform(3.0, 6.0)
    return f0 * (1.0 + 0.004 * np.sin(2 * np.pi * vibrato * t + rng.uniform(0, 2 * np.pi)))


def _band_noise(n: int, sr: int, f0: float, rng: np.random.Generator, octaves: float = 0.33) -> np.ndarray:
    """White noise shaped by a Gaussian (in log frequency) around ``f0``."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    with np.errstate(divide="ignore"):
        d = np.where(f > 0, np.log2(np.maximum(f, 1e-9) / f0), -np.inf)
    spec *= np.exp(-0.5 * (d / octaves) ** 2)
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12) * (1 / np.sqrt(2))


def _envelope(pattern: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if pattern == "steady":
        slow = rng.uniform(0.2, 0.6)
        return 1.0 - 0.1 * (0.5 + 0.5 * np.sin(2 * np.pi * slow * t + rng.uniform(0, 2 * np.pi)))
    rate = PATTERN_RATE[pattern] * rng.uniform(0.88, 1.12)
    if pattern == "pulsing":
        return 0.5 - 0.5 * np.cos(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    decay = PATTERN_DECAY[pattern]
    env = np.zeros_like(t)
    start = rng.uniform(0.0, 1.0 / rate)
    onsets = np.arange(start, t[-1] + 1e-9, 1.0 / rate)
    onsets = onsets + rng.normal(0.0, 0.04 / rate, size=onsets.shape)  # a little timing jitter
    attack = 0.002
    for t0 in onsets:
        dt = t - t0
        on = dt >= 0
        e = np.where(dt < attack, dt / attack, np.exp(-(dt - attack) / decay))
        env = np.maximum(env, np.where(on, e, 0.0))
    return env


def synth_clip(attrs: dict[str, str], rng: np.random.Generator, *, duration: float = 2.0,
               sr: int = SAMPLE_RATE) -> np.ndarray:
    """One instance of a class (``{"pitch": .., "pattern": .., "timbre": ..}``) as float32 in [-1, 1]."""
    n = int(round(duration * sr))
    t = np.arange(n) / sr
    f0 = PITCH_HZ[attrs["pitch"]] * 2.0 ** (rng.uniform(-1.0, 1.0) / 12.0)
    timbre = attrs["timbre"]
    if timbre == "hissing":
        carrier = _band_noise(n, sr, f0, rng)
    else:
        freq = _frequency_track(timbre, f0, t, rng)
        phase = 2 * np.pi * np.cumsum(freq) / sr + rng.uniform(0, 2 * np.pi)
        carrier = (np.sin(phase) + 0.25 * np.sin(2 * phase)) / 1.03
    x = carrier * _envelope(attrs["pattern"], t, rng)
    x *= rng.uniform(0.3, 0.8) / (np.max(np.abs(x)) + 1e-12)
    rms = np.sqrt(np.mean(x ** 2))
    snr_db = rng.uniform(15.0, 30.0)
    x += rng.standard_normal(n) * rms / (10 ** (snr_db / 20.0))
    peak = np.max(np.abs(x))
    if peak > 0.95:
        x *= 0.95 / peak
    return x.astype(np.float32)


def dominant_frequency(x: np.ndarray, sr: int = SAMPLE_RATE, fmin: float = 50.0) -> float:
    """Frequency (Hz) of the largest magnitude in the spectrum above ``fmin`` (a check helper)."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    f = np.fft.rfftfreq(len(x), 1.0 / sr)
    spec[f < fmin] = 0
    return float(f[int(np.argmax(spec))])


def event_rate(x: np.ndarray, sr: int = SAMPLE_RATE, fmax: float = 20.0) -> float:
    """Dominant amplitude-modulation frequency (events per second) of a clip, from its envelope."""
    hop = sr // 200  # 5 ms
    frames = np.abs(x[: len(x) // hop * hop]).reshape(-1, hop).max(axis=1)
    env = frames - frames.mean()
    spec = np.abs(np.fft.rfft(env * np.hanning(len(env)), n=8 * len(env)))
    f = np.fft.rfftfreq(8 * len(env), 1.0 / 200)
    spec[(f < 0.75) | (f > fmax)] = 0
    return float(f[int(np.argmax(spec))])
