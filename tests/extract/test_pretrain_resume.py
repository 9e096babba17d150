"""Pretraining resumes from its last epoch checkpoint: a run stopped after epoch k and started again gives the
weights of an uninterrupted run, bit for bit (same operations in the same order on the CPU: the network,
the optimizer and every random generator are restored, so nothing is re-associated)."""

import random

import numpy as np
import pytest
import torch

from zsltool.extract import pretrain as P
from zsltool.utils import seed_everything


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return torch.utils.data.TensorDataset(x, y)


def _net():
    seed_everything(5)  # the network's initialisation, as the pretrain commands do before train_classifier
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                               torch.nn.Linear(16, 3))


def _train(net, ckpt=None, **kw):
    calls = []
    h = net.register_forward_pre_hook(lambda m, a: calls.append(1))
    args = dict(epochs=5, batch_size=8, lr=1e-2, seed=1, progress=False, checkpoint=ckpt)
    args.update(kw)
    hist = P.train_classifier(_data(), net, **args)
    h.remove()
    return hist, len(calls)


def _stop_after(monkeypatch, k):
    """The run dies (KeyboardInterrupt) at the end of epoch k + 1, before its checkpoint is written."""
    record = P.EpochStats.record

    def dying(self, epoch, *a, **kw):
        if epoch == k + 1:
            raise KeyboardInterrupt
        return record(self, epoch, *a, **kw)

    monkeypatch.setattr(P.EpochStats, "record", dying)


def _equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("k", [1, 3])
def test_stopped_after_epoch_k_and_resumed_equals_an_uninterrupted_run(tmp_path, monkeypatch, k):
    full = _net()
    hist_full, calls_full = _train(full)
    assert calls_full == 5 * 5  # 40 items in batches of 8, 5 epochs

    ckpt = tmp_path / "w.pth.last-epoch.pt"
    with monkeypatch.context() as m:
        _stop_after(m, k)
        with pytest.raises(KeyboardInterrupt):
            _train(_net(), ckpt)
    state = torch.load(ckpt, weights_only=True)
    assert state["epoch"] == k and len(state["history"]) == k

    # a new process: other random states until the command seeds and builds its network again
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    resumed = _net()
    hist, calls = _train(resumed, ckpt)
    assert calls == (5 - k) * 5  # only the remaining epochs ran
    assert hist == hist_full
    assert _equal(resumed, full)
    # without restoring the shuffling and dropout generators the weights differ (the test can fail)
    plain = _net()
    plain.load_state_dict(state["network"])
    _train(plain, epochs=5 - k)
    assert not _equal(plain, full)


def test_a_checkpoint_of_other_settings_is_not_used_and_no_resume_starts_over(tmp_path, monkeypatch, caplog):
    ckpt = tmp_path / "w.pth.last-epoch.pt"
    with monkeypatch.context() as m:
        _stop_after(m, 2)
        with pytest.raises(KeyboardInterrupt):
            _train(_net(), ckpt)
    other, calls = _train(_net(), ckpt, lr=5e-3)  # another learning rate: another run
    assert calls == 25 and "other settings" in caplog.text
    fresh, _ = _train(_net(), None, lr=5e-3)
    assert other == fresh
    # the last run rewrote the checkpoint with its own epochs; --no-resume ignores it
    _, calls = _train(_net(), ckpt, lr=5e-3, resume=False)
    assert calls == 25


def test_pretrain_image_killed_with_sigkill_resumes_to_the_same_weights(tmp_path):
    """A real kill -9 as soon as the first epoch checkpoint exists; the same command again resumes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from PIL import Image

    from zsltool.classes.classset import ClassSet
    from zsltool.classes.manifest import write_crop_manifest
    from zsltool.classes.splits import Split, Trial

    rng = np.random.default_rng(1)
    rows = []
    for cid, rgb in (("/m/red", (220, 30, 30)), ("/m/blue", (30, 30, 220))):
        for j in range(3):
            arr = np.clip(np.array(rgb) + rng.normal(0, 10, (16, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(tmp_path / f"{cid[3:]}{j}.png")
            rows.append(dict(id=f"{cid[3:]}{j}", image_id=f"{cid[3:]}{j}", path=str(tmp_path / f"{cid[3:]}{j}.png"),
                             **{"class": cid}, xmin=0.0, xmax=1.0, ymin=0.0, ymax=1.0))
    write_crop_manifest(tmp_path / "crops.csv", rows)
    cs = ClassSet(classes=[{"id": c, "name": c[3:]} for c in ("/m/red", "/m/blue", "/m/green")])
    cs.save(tmp_path / "classes.json")
    Split(trials=[Trial(train=["/m/red", "/m/blue"], val=[], test=["/m/green"])], protocol="custom",
          class_set_sha256=cs.sha256).save(tmp_path / "split.json")

    def cmd(out):
        return [sys.executable, "-c", "import sys; from zsltool.cli.app import main; sys.argv[0] = 'zsl'; main()",
                "pretrain-image", str(tmp_path / "crops.csv"), "--classes", str(tmp_path / "classes.json"),
                "--split", str(tmp_path / "split.json"), "--model", "smallcnn", "--image-size", "16",
                "--epochs", "20", "--batch-size", "4", "--seed", "2", "-o", str(out)]

    subprocess.run(cmd(tmp_path / "full.pth"), check=True, capture_output=True, cwd=tmp_path, timeout=300)
    out = tmp_path / "killed.pth"
    p = subprocess.Popen(cmd(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.monotonic() + 240
    while not P.epoch_checkpoint(out).exists() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert not out.exists(), "the run finished before it could be killed: make it longer"
    done = torch.load(P.epoch_checkpoint(out), weights_only=True)["epoch"]
    r = subprocess.run(cmd(out), capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"resuming after epoch {done} of 20" in r.stderr
    assert not P.epoch_checkpoint(out).exists()
    a, b = torch.load(tmp_path / "full.pth", weights_only=True), torch.load(out, weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
