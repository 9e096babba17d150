"""Pretraining resumes from its last epoch checkpoint: a run stopped after epoch k and started again gives the
weights of an uninterrupted run, bit for bit (same operations in the same order on the CPU: the network,
the optimizer and every random generator are restored, so nothing is re-associated)."""

import random

import numpy as np
import pytest
import torch

from zsltool.extract import pretrain as P
from zsltool.runtime.env import seed_everything


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

    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial
    from zsltool.testing.images import write_colour_crops

    write_colour_crops(tmp_path, {"/m/red": (220, 30, 30), "/m/blue": (30, 30, 220)}, per_class=3, seed=1)
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


def _checkpoint_after(tmp_path, monkeypatch, k=2):
    """A real checkpoint of the run ``_train`` makes, stopped after epoch ``k``, and its loaded state."""
    ckpt = tmp_path / "w.pth.last-epoch.pt"
    with monkeypatch.context() as m:
        _stop_after(m, k)
        with pytest.raises(KeyboardInterrupt):
            _train(_net(), ckpt)
    return ckpt, torch.load(ckpt, weights_only=True)


def _without(*keys):
    def damage(s):
        *parents, last = keys
        for k in parents:
            s = s[k]
        del s[last]
    return damage


def _setting(value, *keys):
    def damage(s):
        *parents, last = keys
        for k in parents:
            s = s[k]
        s[last] = value(s[last]) if callable(value) else value
    return damage


# (id, damage done to a real checkpoint's state, fragment of the error); each was a traceback (KeyError,
# RuntimeError, TypeError, ValueError), some only at the first optimizer step after "resuming"
DAMAGE = [
    *[(f"no-{k}", _without(k), f"'{k}' is missing")
      for k in ("run_key", "epoch", "network", "optimizer", "rng", "history", "bad")],
    ("epoch-text", _setting("two", "epoch"), "'epoch' is of type str"),
    ("epoch-zero", _setting(0, "epoch"), "'epoch' is 0"),
    ("history-number", _setting(5, "history"), "'history' is of type int"),
    ("history-short", _setting(lambda h: h[:1], "history"), "'history' is not 2 epoch records"),
    ("bad-list", _setting(["c0"], "bad"), "'bad' is of type list"),
    ("bad-values", _setting({"c0": 3}, "bad"), "'bad' is not a table"),
    ("network-entry-missing", _without("network", "3.bias"), "the network's '3.bias' is missing"),
    ("network-extra-entry", _setting(torch.zeros(2), "network", "9.weight"), "'9.weight' this network does not"),
    ("network-shape", _setting(torch.zeros(3), "network", "0.weight"), "'0.weight' is (3,) torch.float32"),
    ("network-dtype", _setting(lambda t: t.double(), "network", "0.weight"), "torch.float64, expected"),
    ("network-not-tensor", _setting([1.0], "network", "0.bias"), "the network's '0.bias' is list"),
    ("optimizer-groups", _without("optimizer", "param_groups"), "lacks 'param_groups'"),
    ("optimizer-params", _setting([0, 1], "optimizer", "param_groups", 0, "params"), "parameter groups"),
    ("optimizer-lr", _setting("fast", "optimizer", "param_groups", 0, "lr"), "'lr' is 'fast'"),
    ("optimizer-betas", _without("optimizer", "param_groups", 0, "betas"), "'betas' is missing"),
    ("optimizer-moment-shape", _setting(torch.zeros(2), "optimizer", "state", 0, "exp_avg"),
     "'exp_avg' of parameter 0"),
    ("optimizer-moment-missing", _without("optimizer", "state", 1, "exp_avg_sq"), "'exp_avg_sq' of parameter 1"),
    ("optimizer-step", _setting("x", "optimizer", "state", 0, "step"), "'step' of parameter 0"),
    ("optimizer-foreign-param", _setting({}, "optimizer", "state", 17), "parameter 17"),
    ("rng-shuffle-size", _setting(torch.zeros(3, dtype=torch.uint8), "rng", "shuffle"), "'shuffle' is not"),
    ("rng-torch-missing", _without("rng", "torch"), "'torch' is missing"),
    ("rng-numpy-missing", _without("rng", "numpy"), "'numpy' is missing"),
    ("rng-numpy-pos", _setting(10_000, "rng", "numpy", "pos"), "'numpy.pos' is 10000"),
    ("rng-python-state", _setting(torch.zeros(3, dtype=torch.int64), "rng", "python", "state"), "'python.state'"),
    ("rng-python-version", _setting(7, "rng", "python", "version"), "ValueError: state with version 7"),
    ("rng-python-gauss", _setting("x", "rng", "python", "gauss"), "'python.gauss'"),
]


@pytest.mark.parametrize("damage,fragment", [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_a_damaged_checkpoint_of_this_run_is_one_clear_error_and_stays(tmp_path, monkeypatch, damage, fragment):
    from zsltool.errors import ZslError

    ckpt, state = _checkpoint_after(tmp_path, monkeypatch)
    damage(state)
    torch.save(state, ckpt)
    before = ckpt.read_bytes()
    with pytest.raises(ZslError, match="damaged pretraining epoch checkpoint") as e:
        _train(_net(), ckpt)
    assert fragment in e.value.message
    assert e.value.hint == f"delete {ckpt} or pass --no-resume to start over"
    assert ckpt.read_bytes() == before
    _, calls = _train(_net(), ckpt, resume=False)  # the hint works: --no-resume starts over
    assert calls == 25


def test_an_intact_checkpoint_passes_the_checks(tmp_path, monkeypatch):
    """The checks refuse nothing a run writes (also after a round trip through the file)."""
    ckpt, _ = _checkpoint_after(tmp_path, monkeypatch)
    _, calls = _train(_net(), ckpt)
    assert calls == 3 * 5


@pytest.mark.parametrize("kind", ["truncated", "empty", "text", "not-ours", "list", "pickle"])
def test_a_checkpoint_that_cannot_be_read_is_one_clear_error_and_stays(tmp_path, monkeypatch, kind):
    import builtins

    from zsltool.errors import ZslError

    class Payload:
        def __reduce__(self):
            return (builtins.open, (str(tmp_path / "PWNED"), "w"))

    ckpt, state = _checkpoint_after(tmp_path, monkeypatch)
    if kind == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:2000])
    elif kind == "empty":
        ckpt.write_bytes(b"")
    elif kind == "text":
        ckpt.write_text('{"epoch": 2}')
    elif kind == "not-ours":
        torch.save({"epoch": 2, "network": state["network"]}, ckpt)
    elif kind == "list":
        torch.save([state], ckpt)
    else:
        state["bad"] = {"c0": Payload()}
        torch.save(state, ckpt)
    before = ckpt.read_bytes()
    with pytest.raises(ZslError) as e:
        _train(_net(), ckpt)
    assert "--no-resume" in e.value.hint and str(ckpt) in e.value.message
    assert ckpt.read_bytes() == before and not (tmp_path / "PWNED").exists()
    if kind == "pickle":
        assert "never unpickles" in e.value.message


def _damaged_rank(rank, world, port, ckpt, out):
    import os

    import torch.distributed as dist

    from zsltool.errors import ZslError

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    try:
        P.train_classifier(_data(), _net(), epochs=5, batch_size=8, lr=1e-2, seed=1, progress=False,
                           checkpoint=ckpt)
        got = "trained"
    except ZslError as e:
        got = e.message
    torch.save({"error": got, "group_alive": dist.is_initialized()}, f"{out}.{rank}")


def test_under_torchrun_every_rank_stops_on_a_damaged_checkpoint_and_leaves_the_group(tmp_path, monkeypatch):
    """2 gloo processes: each gives the error (no rank trains on, none hangs) and the process group is torn down."""
    import socket

    import torch.multiprocessing as mp

    ckpt, state = _checkpoint_after(tmp_path, monkeypatch)
    del state["network"]
    torch.save(state, ckpt)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_damaged_rank, args=(2, port, str(ckpt), str(tmp_path / "r")), nprocs=2,
                       start_method="spawn")
    for rank in (0, 1):
        r = torch.load(tmp_path / f"r.{rank}", weights_only=True)
        assert "'network' is missing" in r["error"] and r["group_alive"] is False
