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


def test_pretrain_image_resumes_and_removes_its_checkpoint(tmp_path, monkeypatch, caplog):
    from PIL import Image

    from zsltool.classes.classset import ClassSet
    from zsltool.classes.manifest import write_crop_manifest
    from zsltool.classes.splits import Split, Trial
    from zsltool.extract.image_pretrain import pretrain_image

    COLOURS = {"/m/red": (220, 30, 30), "/m/blue": (30, 30, 220), "/m/green": (30, 200, 30), "/m/grey": (128,) * 3}
    S = 16
    rng = np.random.default_rng(0)
    rows = []
    for cid, rgb in list(COLOURS.items())[:2]:
        for j in range(3):
            name = f"{cid[3:]}{j}"
            arr = np.clip(np.array(rgb) + rng.normal(0, 10, (S, S, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(tmp_path / f"{name}.png")
            rows.append(dict(id=name, image_id=name, path=str(tmp_path / f"{name}.png"), **{"class": cid},
                             xmin=0.0, xmax=1.0, ymin=0.0, ymax=1.0))
    write_crop_manifest(tmp_path / "crops.csv", rows)
    cs = ClassSet(classes=[{"id": c, "name": c[3:].title()} for c in COLOURS])
    cs.save(tmp_path / "classes.json")
    Split(trials=[Trial(train=list(COLOURS)[:2], val=[list(COLOURS)[2]], test=[list(COLOURS)[3]])],
          protocol="custom", class_set_sha256=cs.sha256).save(tmp_path / "split.json")
    kw = dict(classes_path=tmp_path / "classes.json", split_path=tmp_path / "split.json", model="smallcnn",
              image_size=S, epochs=4, batch_size=4, lr=3e-3, seed=3, progress=False)

    pretrain_image([tmp_path / "crops.csv"], tmp_path / "full.pth", **kw)
    out = tmp_path / "resumed.pth"
    with monkeypatch.context() as m:
        _stop_after(m, 2)
        with pytest.raises(KeyboardInterrupt):
            pretrain_image([tmp_path / "crops.csv"], out, **kw)
    assert not out.exists() and P.epoch_checkpoint(out).is_file()
    pretrain_image([tmp_path / "crops.csv"], out, **kw)
    assert "pretrain-image: resuming after epoch 2 of 4" in caplog.text
    assert not P.epoch_checkpoint(out).exists()  # removed once the weights are written
    a, b = torch.load(tmp_path / "full.pth", weights_only=True), torch.load(out, weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
