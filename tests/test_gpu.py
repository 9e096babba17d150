"""--device cuda: every command that takes a device runs its model and data there (marked ``gpu``: skipped
without a CUDA device). Each result is compared with the same command on the CPU."""

import numpy as np
import pytest
import torch

from zsltool.store import read_embeddings
from zsltool.train.synthetic import make_synthetic

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("gpu"), n_classes=12, per_class=10, n_train=6, n_val=3)


def _train(cli, syn, out, device, method):
    args = ["--device", device, "train", "--audio", syn.audio, "--split", syn.split, "--text", syn.text,
            "--method", method, "--epochs", "3", "--out", out, "--json"]
    if method == "avgzslnet":
        args += ["--video", syn.video, "--arg", "hidden=32", "--arg", "dec_hidden=32"]
    res = cli(*args)
    assert res.exit_code == 0, res.stderr
    return res.json()


@pytest.mark.parametrize("method", ["projection", "avgzslnet"])
def test_train_on_cuda(cli, syn, tmp_path, method):
    from zsltool.train.checkpoint import load_checkpoint

    gpu = _train(cli, syn, tmp_path / "g.pt", "cuda", method)
    ck = load_checkpoint(tmp_path / "g.pt")
    assert ck["config"]["device"] == "cuda"
    assert all(torch.isfinite(v.float()).all() for v in ck["state_dict"].values())
    if method == "projection":  # no random draws during training: the CPU run is the same model
        cpu = _train(cli, syn, tmp_path / "c.pt", "cpu", method)
        assert gpu["best_value"] == pytest.approx(cpu["best_value"], abs=0.05)


def test_evaluate_and_experiment_on_cuda(cli, syn, tmp_path):
    _train(cli, syn, tmp_path / "m.pt", "cpu", "projection")
    on = {d: cli("--device", d, "evaluate", tmp_path / "m.pt", "--json") for d in ("cpu", "cuda")}
    assert on["cuda"].exit_code == 0, on["cuda"].stderr
    assert on["cuda"].json()["metrics"]["top1"] == pytest.approx(on["cpu"].json()["metrics"]["top1"], abs=1e-6)
    res = cli("--device", "cuda", "experiment", "--audio", syn.audio, "--split", syn.split, "--text", syn.text,
              "--epochs", "2", "--out", tmp_path / "x")
    assert res.exit_code == 0, res.stderr


def test_extract_audio_on_cuda(cli, tmp_path):
    import soundfile as sf

    from zsltool.extract.audio.vggish import VGGish

    torch.manual_seed(0)
    torch.save(VGGish(width=1 / 16).state_dict(), tmp_path / "w.pth")
    d = tmp_path / "a"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        sf.write(d / f"c{i}.wav", (0.1 * rng.standard_normal(16000 * 2)).astype(np.float32), 16000)
    for dev in ("cpu", "cuda"):
        res = cli("extract-audio", d, "--weights", tmp_path / "w.pth", "--device", dev, "--workers", "0",
                  "--out", tmp_path / f"{dev}_a.h5")
        assert res.exit_code == 0, res.stderr
    a, b = read_embeddings(tmp_path / "cpu_a.h5"), read_embeddings(tmp_path / "cuda_a.h5")
    np.testing.assert_allclose(a.X, b.X, rtol=1e-3, atol=1e-4)


def test_extract_video_on_cuda(cli, tmp_path):
    from zsltool.extract.video import TinyVideoNet
    from zsltool.testing.video import write_mp4

    torch.manual_seed(0)
    torch.save(TinyVideoNet().state_dict(), tmp_path / "t.pt")
    (tmp_path / "v").mkdir()
    frames = np.random.default_rng(0).integers(0, 255, (24, 48, 64, 3), dtype=np.uint8)
    write_mp4(tmp_path / "v" / "a.mp4", frames)
    for dev in ("cpu", "cuda"):
        res = cli("extract-video", tmp_path / "v", "--model", "tiny3d", "--weights", tmp_path / "t.pt",
                  "--clip-len", "8", "--clips", "2", "--device", dev, "--workers", "0", "--out", tmp_path / f"{dev}_v.h5")
        assert res.exit_code == 0, res.stderr
    np.testing.assert_allclose(read_embeddings(tmp_path / "cpu_v.h5").X, read_embeddings(tmp_path / "cuda_v.h5").X,
                               rtol=1e-3, atol=1e-4)


def test_pretrain_audio_on_cuda(cli, tmp_path):
    import soundfile as sf

    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial

    cs = ClassSet(classes=[{"id": c, "name": c} for c in ("low", "high", "mid", "top")], name="tones")
    cs.save(tmp_path / "classes.json")
    Split(trials=[Trial(train=["low", "high"], val=["mid"], test=["top"])], protocol="random",
          class_set_sha256=cs.sha256).save(tmp_path / "split.json")
    rows = []
    for i, (c, f0) in enumerate([("low", 300), ("high", 3000)] * 3):
        t = np.arange(16000) / 16000
        sf.write(tmp_path / f"c{i}.wav", (0.4 * np.sin(2 * np.pi * (f0 + 20 * i) * t)).astype(np.float32), 16000)
        rows.append(f"c{i},c{i}.wav,{c},,\n")
    (tmp_path / "clips.csv").write_text("id,path,labels,start,end\n" + "".join(rows))
    res = cli("--device", "cuda", "pretrain-audio", tmp_path / "clips.csv", "--classes", tmp_path / "classes.json",
              "--split", tmp_path / "split.json", "--epochs", "2", "--width", "0.0625", "--workers", "0",
              "--out", tmp_path / "w.pth", "--json")
    assert res.exit_code == 0, res.stderr
    sd = torch.load(tmp_path / "w.pth", weights_only=True)
    assert all(v.device.type == "cpu" and torch.isfinite(v.float()).all() for v in sd.values())
