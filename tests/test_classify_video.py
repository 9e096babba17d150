"""`zsl classify` of videos with an audio-visual checkpoint: audio track, video track or both (tiny3d video
network, tiny random VGGish; nothing downloaded)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

CLASSES = ["dog", "siren", "rain", "church bells"]
SR, FPS = 16000, 8


def make_mp4(path, k: int, n_frames: int = 16, seconds: float = 2.0):
    from zsltool.testing.video import write_mp4

    frames = np.zeros((n_frames, 48, 64, 3), np.uint8)
    for i in range(n_frames):
        frames[i, ..., k % 3] = (40 * k + 5 * i) % 256
    t = np.arange(int(seconds * SR)) / SR
    write_mp4(path, frames, fps=FPS, audio=(0.5 * np.sin(2 * np.pi * (220 * (k + 1)) * t)).astype(np.float32),
              sample_rate=SR, bit_rate=4_000_000)


@pytest.fixture(scope="module")
def av_model(tmp_path_factory):
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.split_classes import split_folds
    from zsltool.extract.audio.vggish import VGGish
    from zsltool.extract.pipeline import extract_audio, extract_text, extract_video
    from zsltool.extract.video import TinyVideoNet
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train

    d = tmp_path_factory.mktemp("avc")
    (d / "v").mkdir()
    rows = []
    for k, c in enumerate(CLASSES):
        for i in range(2):
            make_mp4(d / "v" / f"{k}_{i}.mp4", k)
            rows.append(f"{k}_{i},v/{k}_{i}.mp4,{c},,\n")
    (d / "clips.csv").write_text("id,path,labels,start,end\n" + "".join(rows))
    cs = ClassSet(classes=[{"id": c, "name": c} for c in CLASSES])
    cs.save(d / "classes.json")
    torch.manual_seed(0)
    torch.save(TinyVideoNet().eval().state_dict(), d / "tiny3d.pt")
    torch.save(VGGish(width=1 / 16).state_dict(), d / "vggish.pth")
    extract_video([str(d / "clips.csv")], d / "video.h5", model="tiny3d", weights=str(d / "tiny3d.pt"), clip_len=4,
                  clips=1, classes=d / "classes.json", extract_audio=d / "wav", device="cpu", progress=False)
    extract_audio(str(d / "wav" / "clips.csv"), d / "audio.h5", classes_path=d / "classes.json",
                  weights=str(d / "vggish.pth"), progress=False)
    words = ["dog", "siren", "rain", "church", "bells", "thunder", "drum"]
    V = np.random.default_rng(0).standard_normal((len(words), 8))
    (d / "vec.txt").write_text(f"{len(words)} 8\n" + "".join(w + " " + " ".join(f"{x:.5f}" for x in r) + "\n"
                                                            for w, r in zip(words, V)))
    extract_text(d / "text.h5", classes=d / "classes.json", vectors=d / "vec.txt")
    split_folds(cs, folds=4).save(d / "split.json")
    train(TrainConfig(audio=str(d / "audio.h5"), video=str(d / "video.h5"), text=str(d / "text.h5"),
                      split=str(d / "split.json"), out=str(d / "av.pt"), method="avgzslnet", epochs=2))
    make_mp4(d / "new.mp4", 5)
    return d


@pytest.mark.parametrize("modality", ["both", "audio", "video"])
def test_classify_a_video_by_modality(av_model, modality, tmp_path, monkeypatch):
    import zsltool
    from zsltool.extract.pipeline import extract_audio, extract_video

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    d = av_model
    labels = ["thunder", "drum", "dog"]
    preds = zsltool.classify_clips(d / "av.pt", d / "new.mp4", labels=labels, modality=modality)
    assert len(preds) == 1 and preds[0]["valid"] and preds[0]["clip"] == "new"
    assert abs(sum(t["probability"] for t in preds[0]["top"]) - 1) < 1e-6
    assert preds.info["modality"] == modality
    # the same numbers as extracting the files by hand and classifying the precomputed rows
    extract_video([str(d / "new.mp4")], tmp_path / "v.h5", model="tiny3d", weights=str(d / "tiny3d.pt"),
                  clip_len=4, clips=1, extract_audio=tmp_path / "wav", device="cpu", progress=False)
    extract_audio(str(tmp_path / "wav" / "clips.csv"), tmp_path / "a.h5", weights=str(d / "vggish.pth"),
                  progress=False)
    ref = zsltool.classify_clips(d / "av.pt", embeddings=tmp_path / "a.h5", video_embeddings=tmp_path / "v.h5",
                           labels=labels, modality=modality)
    np.testing.assert_allclose(preds.scores, ref.scores, rtol=1e-5, atol=1e-6)


def test_video_extensions_match_the_video_extractor():
    from zsltool.classify.clips import VIDEO_EXTENSIONS
    from zsltool.extract import video

    assert VIDEO_EXTENSIONS == video.VIDEO_EXTENSIONS
