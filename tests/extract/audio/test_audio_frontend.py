"""The VGGish front end against an independent numpy implementation of the published algorithm
(tensorflow/models research/audioset/vggish: vggish_input.waveform_to_examples + mel_features).

What is compared: for every file, zsl's full path (soundfile decode -> downmix -> resample -> log-mel ->
examples, ``AudioLoader``) against the numpy reference applied to the same decoded samples, downmixed by
the reference (mean over channels) and brought to 16 kHz by the same resampler (``io.resample``; the
reference uses resampy, which is not available here; the resampler is checked separately against scipy).
At 16 kHz there is no resampling, so that case is fully independent.
"""

import numpy as np
import pytest
import soundfile as sf

from zsltool.extract.audio import frontend
from zsltool.extract.audio.extract import AudioLoader
from zsltool.extract.audio.io import resample
from zsltool.extract.runner import Item


# ---- reference, written from the published description (float64 numpy, loops where the paper has them) ----
def ref_frame(data, window, hop):
    n = 1 + int(np.floor((data.shape[0] - window) / hop))
    return np.stack([data[i * hop:i * hop + window] for i in range(n)]) if n > 0 else np.zeros((0, window) + data.shape[1:])


def ref_mel_matrix(num_mel_bins=64, num_spectrogram_bins=257, sample_rate=16000, lo=125.0, hi=7500.0):
    def h2m(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    bins_hz = np.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins)
    bins_mel = h2m(bins_hz)
    edges = np.linspace(h2m(lo), h2m(hi), num_mel_bins + 2)
    m = np.empty((num_spectrogram_bins, num_mel_bins))
    for i in range(num_mel_bins):
        low, center, up = edges[i:i + 3]
        lower_slope = (bins_mel - low) / (center - low)
        upper_slope = (up - bins_mel) / (up - center)
        m[:, i] = np.maximum(0.0, np.minimum(lower_slope, upper_slope))
    m[0, :] = 0.0
    return m


def ref_examples(wave16k):
    win = int(round(16000 * 0.025))
    hop = int(round(16000 * 0.010))
    fft = 2 ** int(np.ceil(np.log(win) / np.log(2.0)))
    hann = 0.5 - 0.5 * np.cos(2 * np.pi / win * np.arange(win))
    spec = np.abs(np.fft.rfft(ref_frame(wave16k, win, hop) * hann, fft))
    log_mel = np.log(spec @ ref_mel_matrix(num_spectrogram_bins=spec.shape[1]) + 0.01)
    ex_len = int(round(0.96 * 100))
    return ref_frame(log_mel, ex_len, ex_len)


def make_signal(kind, sr, seconds=2.0, rng=None):
    t = np.arange(int(sr * seconds)) / sr
    if kind == "tone":
        return 0.5 * np.sin(2 * np.pi * 440.0 * t)
    if kind == "noise":
        return 0.1 * rng.standard_normal(t.shape[0])
    # linear chirp 100 Hz -> 0.45 * sr
    f1 = 0.45 * sr
    return 0.3 * np.sin(2 * np.pi * (100.0 * t + (f1 - 100.0) / (2 * seconds) * t ** 2))


def test_mel_matrix_matches_reference():
    np.testing.assert_allclose(frontend.mel_matrix(), ref_mel_matrix(), rtol=0, atol=1e-12)
    assert np.all(frontend.mel_matrix()[0] == 0)


@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_front_end_matches_numpy_reference(tmp_path, sr, channels):
    rng = np.random.default_rng(sr + channels)
    loader = AudioLoader(max_seconds=10.0, examples_fn=frontend.waveform_to_examples)
    for kind in ("tone", "noise", "chirp"):
        sig = make_signal(kind, sr, rng=rng)
        data = sig if channels == 1 else np.stack([sig, make_signal("noise", sr, rng=rng)], axis=1)
        path = tmp_path / f"{kind}_{sr}_{channels}.wav"
        sf.write(path, data, sr, subtype="FLOAT")
        got = loader(Item(id="x", source=str(path)))["examples"]
        decoded, _ = sf.read(path, dtype="float32", always_2d=True)
        mono = decoded.astype(np.float64).mean(axis=1)
        wave16k = mono if sr == 16000 else resample(mono, sr, 16000)
        want = ref_examples(wave16k)
        assert want.shape[0] == 2 and got.shape == want.shape == (2, 96, 64), (kind, got.shape, want.shape)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4, err_msg=f"{kind} at {sr} Hz, {channels} ch")


def test_frame_counts_follow_the_reference_without_padding():
    for n in (400, 559, 560, 15599, 15600, 31360, 31999):
        lm = frontend.log_mel(np.ones(n) * 0.1)
        assert lm.shape == (1 + (n - 400) // 160, 64)
    assert frontend.waveform_to_examples(np.ones(15599) * 0.1).shape[0] == 0  # 95 frames: no example
    assert frontend.waveform_to_examples(np.ones(15600) * 0.1).shape[0] == 1


def test_short_clip_zero_padded_to_min_samples_is_one_example():
    padded = np.concatenate([np.full(8000, 0.2), np.zeros(frontend.MIN_SAMPLES - 8000)])  # as the audio loader pads
    ex = frontend.waveform_to_examples(padded)
    assert ex.shape == (1, 96, 64)
    np.testing.assert_allclose(ex, ref_examples(padded).astype(np.float32), atol=1e-4)
    assert frontend.waveform_to_examples(padded[:-1]).shape == (0, 96, 64)


def test_resampler_agrees_with_scipy_polyphase():
    from scipy.signal import resample_poly

    sr = 44100
    t = np.arange(sr) / sr
    x = 0.5 * np.sin(2 * np.pi * 1000.0 * t) + 0.2 * np.sin(2 * np.pi * 3000.0 * t)
    a = resample(x, sr, 16000)
    b = resample_poly(x, 160, 441)
    assert a.shape == b.shape == (16000,)
    mid = slice(200, -200)  # edge effects differ between the two filters
    assert np.max(np.abs(a[mid] - b[mid])) < 2e-3
    t16 = np.arange(16000) / 16000
    exact = 0.5 * np.sin(2 * np.pi * 1000.0 * t16) + 0.2 * np.sin(2 * np.pi * 3000.0 * t16)
    assert np.max(np.abs(a[mid] - exact[mid])) < 2e-3
