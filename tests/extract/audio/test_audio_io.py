"""Decoding and the bad-audio checks."""

import numpy as np
import pytest
import soundfile as sf

from zsltool.extract.audio.io import load_waveform
from zsltool.extract.runner import InvalidInput


def tone(freq, seconds, sr=16000, amp=0.4):
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_formats_rates_and_channels(tmp_path):
    x = tone(500, 1.0, 22050)
    for ext in ("wav", "flac", "ogg"):
        sf.write(tmp_path / f"a.{ext}", np.stack([x, x], axis=1), 22050)
        w, info = load_waveform(tmp_path / f"a.{ext}")
        assert info["orig_sr"] == 22050 and info["channels"] == 2
        assert abs(w.shape[0] - 16000) <= 1
        assert np.max(np.abs(w)) == pytest.approx(0.4, abs=0.03)


def test_segment_and_max_seconds(tmp_path):
    sr = 16000
    x = np.concatenate([np.full(sr, 0.1), np.full(sr, 0.2), np.full(sr, 0.3)]).astype(np.float32)
    sf.write(tmp_path / "s.wav", x, sr, subtype="FLOAT")
    w, _ = load_waveform(tmp_path / "s.wav", start=1.0, end=2.0)
    assert w.shape == (sr,) and np.allclose(w, 0.2)
    w, _ = load_waveform(tmp_path / "s.wav", max_seconds=1.5)
    assert w.shape == (24000,)
    w, info = load_waveform(tmp_path / "s.wav", start=2.0, end=10.0)
    assert w.shape == (sr,) and info["truncated_segment"]
    with pytest.raises(InvalidInput, match="segment starts at"):
        load_waveform(tmp_path / "s.wav", start=5.0, end=6.0)


@pytest.mark.parametrize("case,reason", [
    ("unreadable", "unreadable audio"), ("empty", "empty audio"), ("zeros", "silent audio"),
    ("nan", "NaN or Inf"), ("truncated", "truncated WAV"), ("missing", "file not found")])
def test_bad_audio_is_invalid_with_reason(tmp_path, case, reason):
    p = tmp_path / f"{case}.wav"
    if case == "unreadable":
        p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    elif case == "empty":
        sf.write(p, np.zeros(0, np.float32), 16000)
    elif case == "zeros":
        sf.write(p, np.zeros(16000, np.float32), 16000)
    elif case == "nan":
        x = tone(440, 1.0)
        x[100] = np.nan
        sf.write(p, x, 16000, subtype="FLOAT")
    elif case == "truncated":
        sf.write(p, tone(440, 2.0), 16000)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInput, match=reason):
        load_waveform(p)
