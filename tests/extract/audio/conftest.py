import numpy as np
import pytest
import soundfile as sf
import torch


def tone(freq, seconds, sr=16000, amp=0.4):
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def audio_dir(tmp_path):
    """Six labelled clips of two classes (low / high tones) in WAV, FLAC and OGG, plus a manifest."""
    d = tmp_path / "audio"
    d.mkdir()
    rows = []
    rng = np.random.default_rng(0)
    for i in range(6):
        cls = "low" if i % 2 == 0 else "high"
        f0 = (300 if cls == "low" else 3000) + 40 * i
        sr = (16000, 22050, 44100)[i % 3]
        x = tone(f0, 1.2 + 0.5 * i, sr) + 0.01 * rng.standard_normal(int(round((1.2 + 0.5 * i) * sr))).astype(np.float32)
        ext = ("wav", "flac", "ogg")[i % 3]
        data = x if i % 2 == 0 else np.stack([x, 0.5 * x], axis=1)
        sf.write(d / f"clip{i}.{ext}", data, sr)
        rows.append((f"c{i}", f"audio/clip{i}.{ext}", cls))
    man = tmp_path / "clips.csv"
    man.write_text("id,path,labels,start,end\n" + "".join(f"{a},{b},{c},,\n" for a, b, c in rows))
    return d, man


@pytest.fixture
def classes_file(tmp_path):
    from zsltool.classes.classset import ClassSet

    cs = ClassSet(classes=[{"id": "low", "name": "low"}, {"id": "high", "name": "high"},
                           {"id": "other", "name": "other"}], name="tones")
    p = tmp_path / "classes.json"
    cs.save(p)
    return p
