"""--device cuda: every command that takes a device runs its model and data there (marked ``gpu``: skipped
without a CUDA device). Each result is compared with the same command on the CPU."""

import numpy as np
import pytest
import torch

from zsltool.store import read_embeddings

pytestmark = [pytest.mark.gpu, pytest.mark.synthetic(n_classes=12, per_class=10, n_train=6, n_val=3)]
GPU = "cuda"  # a name, so that a dry run of these tests on a machine without one can set it to "cpu"


def _two_devices(run, folder):
    """Run the same command on the CPU and on the GPU (``run(device, out)``); return both outputs' embeddings."""
    outs = [folder / "on_cpu.h5", folder / "on_gpu.h5"]
    for dev, out in zip(("cpu", GPU), outs):
        res = run(dev, out)
        assert res.exit_code == 0, res.stderr
    return read_embeddings(outs[0]), read_embeddings(outs[1])

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

    gpu = _train(cli, syn, tmp_path / "g.pt", GPU, method)
    ck = load_checkpoint(tmp_path / "g.pt")
    assert ck["config"]["device"] == GPU
    assert all(torch.isfinite(v.float()).all() for v in ck["state_dict"].values())
    if method == "projection":  # no random draws during training: the CPU run is the same model
        cpu = _train(cli, syn, tmp_path / "c.pt", "cpu", method)
        assert gpu["best_value"] == pytest.approx(cpu["best_value"], abs=0.05)


def test_audio_visual_models_train_as_one_batch_on_cuda(syn, monkeypatch):
    """On a GPU, AVGZSLNet models of one shape (4 seeds) train as one vmap-ed batch; each equals the model
    trained alone on the GPU (docs/methods.md, "Training many models at once")."""
    from zsltool.train.config import TrainConfig
    from zsltool.train.engine import train_jobs
    from zsltool.train.job import build_model
    from zsltool.train.functional import FunctionalKernel
    from zsltool.train.loop import make_job, prepare

    monkeypatch.setattr(FunctionalKernel, "ON_CPU", GPU == "cpu")  # a dry run on a machine without a GPU
    jobs = []
    for seed in range(4):
        c = TrainConfig(audio=str(syn.audio), video=str(syn.video), split=str(syn.split), text=str(syn.text),
                        out="unused.pt", method="avgzslnet", epochs=3, seed=seed,
                        method_args={"hidden": 32, "dec_hidden": 32})
        jobs.append(make_job(prepare(c), c))
    keys = {FunctionalKernel.group_key(j, build_model(j), GPU) for j in jobs}
    assert len(keys) == 1 and None not in keys
    together = train_jobs(jobs, device=GPU)
    for j, a in zip(jobs, together):
        (b,) = train_jobs([j], device=GPU)
        assert a.best_epoch == b.best_epoch
        for k in a.state:
            torch.testing.assert_close(a.state[k], b.state[k], rtol=1e-4, atol=1e-5, msg=k)


def test_evaluate_and_experiment_on_cuda(cli, syn, tmp_path):
    _train(cli, syn, tmp_path / "m.pt", "cpu", "projection")
    on = [cli("--device", d, "evaluate", tmp_path / "m.pt", "--json") for d in ("cpu", GPU)]
    assert on[1].exit_code == 0, on[1].stderr
    assert on[1].json()["metrics"]["top1"] == pytest.approx(on[0].json()["metrics"]["top1"], abs=1e-6)
    res = cli("--device", GPU, "experiment", "--audio", syn.audio, "--split", syn.split, "--text", syn.text,
              "--epochs", "2", "--out", tmp_path / "x")
    assert res.exit_code == 0, res.stderr


def test_extract_audio_on_cuda(cli, tmp_path, tiny_weights):
    import soundfile as sf

    d = tmp_path / "a"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        sf.write(d / f"c{i}.wav", (0.1 * rng.standard_normal(16000 * 2)).astype(np.float32), 16000)
    a, b = _two_devices(lambda dev, out: cli("extract-audio", d, "--weights", tiny_weights, "--device", dev,
                                             "--workers", "0", "--out", out), tmp_path)
    np.testing.assert_allclose(a.X, b.X, rtol=1e-3, atol=1e-4)


def test_extract_video_on_cuda(cli, tmp_path):
    from zsltool.extract.video import TinyVideoNet
    from zsltool.testing.video import write_mp4

    torch.manual_seed(0)
    torch.save(TinyVideoNet().state_dict(), tmp_path / "t.pt")
    (tmp_path / "v").mkdir()
    frames = np.random.default_rng(0).integers(0, 255, (24, 48, 64, 3), dtype=np.uint8)
    write_mp4(tmp_path / "v" / "a.mp4", frames)
    a, b = _two_devices(lambda dev, out: cli("extract-video", tmp_path / "v", "--model", "tiny3d", "--weights",
                                             tmp_path / "t.pt", "--clip-len", "8", "--clips", "2", "--device", dev,
                                             "--workers", "0", "--out", out), tmp_path)
    np.testing.assert_allclose(a.X, b.X, rtol=1e-3, atol=1e-4)


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
    res = cli("--device", GPU, "pretrain-audio", tmp_path / "clips.csv", "--classes", tmp_path / "classes.json",
              "--split", tmp_path / "split.json", "--epochs", "2", "--width", "0.0625", "--workers", "0",
              "--out", tmp_path / "w.pth", "--json")
    assert res.exit_code == 0, res.stderr
    sd = torch.load(tmp_path / "w.pth", weights_only=True)
    assert all(v.device.type == "cpu" and torch.isfinite(v.float()).all() for v in sd.values())


def test_extract_image_on_cuda(cli, tmp_path):
    import torchvision
    from PIL import Image

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "r18.pth")
    (tmp_path / "img").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(tmp_path / "img" / f"i{i}.png")
    a, b = _two_devices(lambda dev, out: cli("extract-image", tmp_path / "img", "--model", "resnet18", "--weights",
                                             tmp_path / "r18.pth", "--image-size", "32", "--workers", "0", "--device",
                                             dev, "--out", out), tmp_path)
    assert a.X.shape == (3, 1000)  # the logits, as in Dogan et al.
    # cuDNN convolutions use TF32 by default (torch.backends.cudnn.allow_tf32): about 1e-3 of the values' scale
    np.testing.assert_allclose(a.X, b.X, rtol=0, atol=5e-3 * float(np.abs(a.X).max()))


def test_extract_text_sentence_on_cuda(cli, tmp_path):
    from zsltool.classes.classset import ClassSet
    from zsltool.testing.sentence import make_tiny_sentence_model

    names = ["dog bark", "rain", "church bells"]
    folder = make_tiny_sentence_model(tmp_path / "st", sorted({w for n in names for w in n.split()}), dim=16, seed=3)
    ClassSet(classes=[{"id": n, "name": n} for n in names]).save(tmp_path / "classes.json")
    a, b = _two_devices(lambda dev, out: cli("extract-text", "--classes", tmp_path / "classes.json", "--model",
                                             "sentence", "--sentence-model", folder, "--device", dev, "--out", out),
                        tmp_path)
    assert a.X.shape == (3, 16)
    np.testing.assert_allclose(a.X, b.X, rtol=1e-3, atol=1e-5)


def _tiny_split(d, ids):
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial

    cs = ClassSet(classes=[{"id": c, "name": c} for c in ids], name="tiny")
    cs.save(d / "classes.json")
    Split(trials=[Trial(train=ids[:2], val=ids[2:3], test=ids[3:])], protocol="random",
          class_set_sha256=cs.sha256).save(d / "split.json")


def _pretrained_weights_are_finite_on_cpu(res, path):
    assert res.exit_code == 0, res.stderr
    sd = torch.load(path, weights_only=True)
    assert all(v.device.type == "cpu" and torch.isfinite(v.float()).all() for v in sd.values())


def test_pretrain_image_on_cuda(cli, tmp_path):
    from zsltool.testing.images import write_colour_crops

    ids = ["red", "blue", "green", "grey"]
    _tiny_split(tmp_path, ids)
    crops = write_colour_crops(tmp_path, dict(zip(ids[:2], [(220, 30, 30), (30, 30, 220)])), per_class=3)
    res = cli("pretrain-image", crops, "--classes", tmp_path / "classes.json", "--split", tmp_path / "split.json",
              "--model", "smallcnn", "--image-size", "16", "--epochs", "2", "--workers", "0", "--device", GPU,
              "--out", tmp_path / "w.pth", "--json")
    _pretrained_weights_are_finite_on_cpu(res, tmp_path / "w.pth")


def test_pretrain_video_on_cuda(cli, tmp_path):
    from zsltool.testing.video import write_colour_clips

    ids = ["red", "blue", "green", "grey"]
    _tiny_split(tmp_path, ids)
    clips = write_colour_clips(tmp_path, dict(zip(ids[:2], [(220, 30, 30), (30, 30, 220)])), per_class=2)
    res = cli("pretrain-video", clips, "--classes", tmp_path / "classes.json", "--split", tmp_path / "split.json",
              "--model", "small3d", "--frame-size", "16", "--clip-len", "8", "--epochs", "2", "--device", GPU,
              "--out", tmp_path / "w.pth", "--json")
    _pretrained_weights_are_finite_on_cpu(res, tmp_path / "w.pth")


def test_retrieve_on_cuda(cli, syn, tmp_path):
    _train(cli, syn, tmp_path / "m.pt", "cpu", "projection")
    on = [cli("--device", d, "retrieve", tmp_path / "m.pt", "--top", "3", "--json") for d in ("cpu", GPU)]
    assert on[1].exit_code == 0, on[1].stderr
    a, b = on[0].json(), on[1].json()
    assert b["metrics"] == pytest.approx(a["metrics"], abs=1e-6)


def test_classify_on_cuda(cli, tmp_path, monkeypatch):
    """The ESC-50 path of the classify tests, with the audio network and the model on the GPU."""
    import soundfile as sf

    from zsltool.extract.audio.vggish import VGGish
    from zsltool.testing.esc50 import NEW_LABELS, SR, clip, make_esc50, write_vectors

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    d = tmp_path
    make_esc50(d / "ESC-50-master")
    torch.manual_seed(0)
    torch.save(VGGish(width=1 / 16).state_dict(), d / "tiny.pth")
    write_vectors(d / "vectors.txt")
    steps = [("prepare", "esc50", d / "ESC-50-master", "-o", d / "esc50"),
             ("extract-audio", d / "esc50" / "clips.csv", "--classes", d / "esc50" / "classes.json", "--weights",
              d / "tiny.pth", "--workers", "0", "-o", d / "audio.h5"),
             ("extract-text", "--classes", d / "esc50" / "classes.json", "--vectors", d / "vectors.txt", "-o",
              d / "text.h5"),
             ("split", d / "esc50" / "classes.json", "--protocol", "folds", "--folds", "5", "-o", d / "split.json"),
             ("train", "--audio", d / "audio.h5", "--text", d / "text.h5", "--split", d / "split.json", "--method",
              "projection", "--epochs", "3", "-o", d / "model.pt")]
    for args in steps:
        res = cli(*args)
        assert res.exit_code == 0, res.stderr
    sf.write(d / "new.wav", clip(3, 9, seconds=1.5), SR)
    on = [cli("--device", dev, "classify", d / "model.pt", d / "new.wav", "--labels", ",".join(NEW_LABELS), "--json")
          for dev in ("cpu", GPU)]
    assert on[1].exit_code == 0, on[1].stderr
    a, b = on[0].json()["clips"][0]["top"], on[1].json()["clips"][0]["top"]
    assert [t["label"] for t in a] == [t["label"] for t in b]
    # the audio network's convolutions use TF32 on the GPU (cudnn.allow_tf32): measured 3.4e-4 on an H200
    assert [t["probability"] for t in b] == pytest.approx([t["probability"] for t in a], abs=2e-3)


def test_classify_with_a_joint_model_on_cuda(cli, tmp_path):
    """zsl classify --model clap (no checkpoint): the tiny CLAP model's audio and text towers on the GPU."""
    pytest.importorskip("transformers", reason="CLAP needs transformers (pip install 'zsltool[clap]')")
    import soundfile as sf

    from zsltool.testing.clap import make_tiny_clap

    folder, _ = make_tiny_clap(tmp_path / "tiny-clap", ["this", "is", "a", "sound", "of", "dog", "siren", "."])
    t = np.arange(int(1.5 * 48000)) / 48000
    sf.write(tmp_path / "c.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000, subtype="FLOAT")
    on = [cli("--device", dev, "classify", "--model", "clap", tmp_path / "c.wav", "--labels", "dog,siren,cat",
              "--weights", folder, "--json") for dev in ("cpu", GPU)]
    assert on[0].exit_code == 0 and on[1].exit_code == 0, on[0].stderr + on[1].stderr
    a, b = on[0].json()["clips"][0]["top"], on[1].json()["clips"][0]["top"]
    assert [t["label"] for t in a] == [t["label"] for t in b]
    # the audio tower's convolutions may use TF32 on the GPU (as the classify test above)
    assert [t["probability"] for t in b] == pytest.approx([t["probability"] for t in a], abs=2e-3)


# Every command that takes a device, and the test above that runs it on the GPU (tests/cli/test_device_coverage.py
# checks this list against the CLI).
COVERED = {"train": test_train_on_cuda, "evaluate": test_evaluate_and_experiment_on_cuda,
           "experiment": test_evaluate_and_experiment_on_cuda, "retrieve": test_retrieve_on_cuda,
           "classify": test_classify_on_cuda, "extract-audio": test_extract_audio_on_cuda,
           "extract-image": test_extract_image_on_cuda, "extract-video": test_extract_video_on_cuda,
           "extract-text": test_extract_text_sentence_on_cuda, "pretrain-audio": test_pretrain_audio_on_cuda,
           "pretrain-image": test_pretrain_image_on_cuda, "pretrain-video": test_pretrain_video_on_cuda}
