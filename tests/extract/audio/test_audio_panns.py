"""PANNs CNN14: the published layout and checkpoint keys, the 32 kHz log-mel front end against an independent
computation, loading a release-style checkpoint, extraction and pretraining through the shared paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from zsltool.errors import ZslError
from zsltool.extract.audio import panns as P
from zsltool.store import read_embeddings


def published_layout() -> dict[str, tuple]:
    """The Cnn14 checkpoint keys and shapes, written out from the published architecture."""
    keys = {"spectrogram_extractor.stft.conv_real.weight": (513, 1, 1024),
            "spectrogram_extractor.stft.conv_imag.weight": (513, 1, 1024),
            "logmel_extractor.melW": (513, 64)}
    for p in ("weight", "bias", "running_mean", "running_var"):
        keys[f"bn0.{p}"] = (64,)
    keys["bn0.num_batches_tracked"] = ()
    cin = 1
    for i, c in enumerate((64, 128, 256, 512, 1024, 2048), start=1):
        keys[f"conv_block{i}.conv1.weight"] = (c, cin, 3, 3)
        keys[f"conv_block{i}.conv2.weight"] = (c, c, 3, 3)
        for bn in ("bn1", "bn2"):
            for p in ("weight", "bias", "running_mean", "running_var"):
                keys[f"conv_block{i}.{bn}.{p}"] = (c,)
            keys[f"conv_block{i}.{bn}.num_batches_tracked"] = ()
        cin = c
    keys.update({"fc1.weight": (2048, 2048), "fc1.bias": (2048,), "fc_audioset.weight": (527, 2048),
                 "fc_audioset.bias": (527,)})
    return keys


def test_the_network_has_the_published_layout_and_a_2048_d_embedding():
    torch.manual_seed(0)
    net = P.Cnn14().eval()
    sd = net.state_dict()
    want = published_layout()
    assert sorted(sd) == sorted(want)
    assert {k: tuple(v.shape) for k, v in sd.items()} == want
    with torch.inference_mode():
        out = net.embedding(torch.randn(2, 32000) * 0.1)
    assert out.shape == (2, 2048) and (out >= 0).all()  # fc1 + ReLU


def slaney_mel_numpy(sr=32000, n_fft=1024, n_mels=64, fmin=50.0, fmax=14000.0):
    """librosa's default mel filters (Slaney scale, Slaney norm), written from the formulas."""
    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * 200.0 / 3)

    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    pts = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    w = np.zeros((n_mels, len(freqs)))
    for m in range(n_mels):
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        w[m] = np.maximum(0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))
        w[m] *= 2.0 / (hi - lo)
    return w.T


def test_front_end_matches_an_independent_log_mel():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 32000
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    net = P.Cnn14(width=1 / 32).eval()
    with torch.inference_mode():
        got = net.logmel(torch.from_numpy(wave)[None])[0, 0].double().numpy()
    spec = torch.stft(torch.from_numpy(wave).double(), n_fft=1024, hop_length=320,
                      window=torch.hann_window(1024, periodic=True, dtype=torch.float64), center=True,
                      pad_mode="reflect", return_complex=True).abs().pow(2).T.numpy()  # (frames, 513)
    want = 10 * np.log10(np.maximum(spec @ slaney_mel_numpy(), 1e-10))
    assert got.shape == want.shape == (1 + 16000 // 320, 64)
    np.testing.assert_allclose(got, want, atol=2e-3)  # float32 DFT-by-convolution vs float64 FFT
    np.testing.assert_allclose(net.logmel_extractor.melW.numpy(), slaney_mel_numpy(), atol=1e-6)


def release_checkpoint(path: Path, width: float = 1 / 16, seed: int = 0, sampler: bool = True) -> P.Cnn14:
    """A checkpoint shaped like the released ones: {"iteration", "model": state dict, "sampler": numpy state}."""
    torch.manual_seed(seed)
    net = P.Cnn14(width=width).eval()
    for m in net.modules():  # non-trivial BatchNorm statistics, as a trained network has
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    ckpt = {"iteration": 600000, "model": net.state_dict()}
    if sampler:
        ckpt["sampler"] = {"indexes_per_class": [np.arange(5, dtype=np.int64)], "queue": [1, 2]}
    torch.save(ckpt, path)
    return net


def test_a_release_style_checkpoint_loads_and_extracts(tmp_path, cli):
    net = release_checkpoint(tmp_path / "Cnn14_mAP=0.431.pth")
    d = tmp_path / "a"
    d.mkdir()
    t = np.arange(int(1.5 * 16000)) / 16000
    sf.write(d / "tone.wav", (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32), 16000)
    sf.write(d / "short.wav", (0.3 * np.sin(2 * np.pi * 900 * t[:4000])).astype(np.float32), 16000)
    out = tmp_path / "a.h5"
    r = cli("extract-audio", d, "-o", out, "--model", "cnn14", "--weights",
            tmp_path / "Cnn14_mAP=0.431.pth", "--workers", "0", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["dim"] == 128 and res["valid"] == 2 and res["padded_ids"] == ["short.wav"]
    e = read_embeddings(out)
    assert e.meta.extractor == "cnn14" and e.meta.extractor_meta["sample_rate"] == 32000
    assert e.meta.extractor_meta["config"]["weights"].endswith("Cnn14_mAP=0.431.pth")
    # the row is the network's embedding of the clip decoded and resampled to 32 kHz
    from zsltool.extract.audio.io import load_waveform

    wave, _ = load_waveform(d / "tone.wav", sample_rate=32000)
    with torch.inference_mode():
        want = net.embedding(torch.from_numpy(wave.astype(np.float32))[None])[0].numpy()
    np.testing.assert_allclose(e.X[e.ids.index("tone.wav")], want, rtol=1e-4, atol=1e-5)
    # --embedding is VGGish's: a usage error with cnn14
    r = cli("extract-audio", d, "-o", tmp_path / "b.h5", "--model", "cnn14",
            "--embedding", "pca")
    assert r.exit_code == 2 and "--embedding does not apply to --model cnn14" in r.stderr


def test_wrong_checkpoints_are_user_errors(tmp_path):
    net = P.Cnn14(width=1 / 16)
    sd = net.state_dict()
    sd["extra.weight"] = torch.zeros(1)
    torch.save(sd, tmp_path / "extra.pth")
    with pytest.raises(ZslError, match="unexpected extra.weight"):
        P.Cnn14.from_state_dict(P.load_checkpoint(tmp_path / "extra.pth"))
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "vgg.pth")
    with pytest.raises(ZslError, match="do not have the PANNs Cnn14 layout"):
        P.Cnn14.from_state_dict(P.load_checkpoint(tmp_path / "vgg.pth"))
    # a state dict without the AudioSet head (as pretrain-audio saves a head-less one) loads
    sd = P.Cnn14(width=1 / 16).state_dict()
    del sd["fc_audioset.weight"], sd["fc_audioset.bias"]
    assert P.Cnn14.from_state_dict(sd).dim == 128


def test_pretrain_audio_trains_cnn14_and_extract_loads_it(tmp_path, cli):
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial

    d = tmp_path / "clips"
    d.mkdir()
    rows = []
    for i in range(6):
        cls = ("low", "high")[i % 2]
        t = np.arange(16000) / 16000
        sf.write(d / f"c{i}.wav", (0.3 * np.sin(2 * np.pi * (300 if cls == "low" else 3000) * t)).astype(np.float32),
                 16000)
        rows.append(f"c{i},clips/c{i}.wav,{cls},,\n")
    (tmp_path / "clips.csv").write_text("id,path,labels,start,end\n" + "".join(rows))
    ClassSet(classes=[{"id": "low", "name": "low"}, {"id": "high", "name": "high"}, {"id": "x", "name": "x"}],
             name="t").save(tmp_path / "c.json")
    Split(trials=[Trial(train=["low", "high"], val=[], test=["x"])], protocol="custom").save(tmp_path / "s.json")
    r = cli("pretrain-audio", tmp_path / "clips.csv", "--model", "cnn14", "--width", "0.03125",
            "--classes", tmp_path / "c.json", "--split", tmp_path / "s.json", "--epochs",
            "2", "--batch-size", "3", "--workers", "0", "-o", tmp_path / "w.pth", "--json")
    assert r.exit_code == 0, r.output + r.stderr
    side = json.loads((tmp_path / "w.pth.json").read_text())
    assert side["model"] == "cnn14" and side["layout"].startswith("PANNs Cnn14") and len(side["history"]) == 2
    sd = torch.load(tmp_path / "w.pth", weights_only=True)
    assert sd["conv_block1.conv1.weight"].shape == (2, 1, 3, 3) and "logmel_extractor.melW" in sd
    r = cli("extract-audio", tmp_path / "clips.csv", "--model", "cnn14", "--weights",
            tmp_path / "w.pth", "-o", tmp_path / "e.h5", "--workers", "0", "--json")
    assert r.exit_code == 0, r.output + r.stderr
    assert read_embeddings(tmp_path / "e.h5").dim == 64


CACHED = Path(torch.hub.get_dir()) / "checkpoints" / "Cnn14_mAP=0.431.pth"


@pytest.mark.weights
@pytest.mark.skipif(os.environ.get("ZSL_TEST_WEIGHTS") != "1" or not CACHED.is_file(),
                    reason="needs ZSL_TEST_WEIGHTS=1 and the released Cnn14_mAP=0.431.pth in torch hub's cache")
def test_released_weights():
    from zsltool.extract.registry import build_extractor

    ex = build_extractor("cnn14", device="cpu")  # checks the published md5
    assert ex.dim == 2048 and ex.meta()["weights"] == "AUDIOSET_MAP_0431"
    t = np.arange(32000 * 2) / 32000
    with torch.inference_mode():
        out = ex.embed_examples(torch.from_numpy((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))[None])
    assert out.shape == (1, 2048) and torch.isfinite(out).all()
