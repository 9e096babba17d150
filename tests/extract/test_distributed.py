"""Data-parallel training (zsltool.extract.distributed): 2 CPU processes with gloo train the network one
process trains with twice the batch (DDP averages gradients), within float re-association."""

import os
import socket

import numpy as np
import torch

from zsltool.extract import distributed as D


def _data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(48, 6, generator=g)
    y = (X[:, 0] + X[:, 1] > 0).long()
    return X, y


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def _train(ctx, batch: int, epochs: int = 3):
    X, y = _data()
    net = _net()
    model = D.wrap(net, ctx)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(1)
    seen = []
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=gen)
        total = [0.0, 0.0]
        for idx in D.rank_batches(order, batch, ctx):
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total = [total[0] + loss.item() * len(idx), total[1] + len(idx)]
            seen += idx.tolist()
        total = D.all_sum(total, ctx)
    return {k: v.detach().clone() for k, v in net.state_dict().items()}, total, seen


def _worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    ctx = D.setup("cpu")
    try:
        state, total, seen = _train(ctx, batch=4)
        if ctx.main:
            torch.save({"state": state, "total": total}, out)
        torch.save(seen, f"{out}.seen{rank}")
    finally:
        D.teardown(ctx)


def test_two_gloo_processes_equal_one_process_with_twice_the_batch(tmp_path, monkeypatch):
    import torch.multiprocessing as mp

    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    one, total1, _ = _train(D.setup("cpu"), batch=8)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = str(tmp_path / "ddp.pt")
    mp.start_processes(_worker, args=(2, port, out), nprocs=2, start_method="spawn")
    two = torch.load(out, weights_only=True)
    for k in one:
        torch.testing.assert_close(two["state"][k], one[k], rtol=1e-5, atol=1e-6)
    assert two["total"][1] == total1[1] == 48  # every example once per epoch over the two ranks
    np.testing.assert_allclose(two["total"][0], total1[0], rtol=1e-5)
    s0, s1 = (torch.load(f"{out}.seen{r}", weights_only=True) for r in (0, 1))
    assert not set(s0[:24]) & set(s1[:24]) and len(s0) == len(s1) == 72  # disjoint halves of each epoch


def test_pretrain_audio_under_torchrun_equals_one_process(tmp_path):
    """`torchrun --nproc-per-node 2 zsl pretrain-audio --batch-size 2` (gloo) writes, from rank 0 only, the
    weights one process writes with --batch-size 4 (clips of equal length: DDP's gradient mean is the mean
    over the global batch)."""
    import subprocess
    import sys
    from pathlib import Path

    import soundfile as sf

    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial

    cs = ClassSet(classes=[{"id": c, "name": c} for c in ("low", "high", "mid", "top")], name="tones")
    cs.save(tmp_path / "classes.json")
    Split(trials=[Trial(train=["low", "high"], val=["mid"], test=["top"])], protocol="random",
          class_set_sha256=cs.sha256).save(tmp_path / "split.json")
    rows, rng = [], np.random.default_rng(0)
    for i in range(8):
        c, f0 = ("low", 300) if i % 2 else ("high", 3000)
        t = np.arange(16000) / 16000
        x = 0.4 * np.sin(2 * np.pi * (f0 + 30 * i) * t) + 0.05 * rng.standard_normal(16000)
        sf.write(tmp_path / f"c{i}.wav", x.astype(np.float32), 16000)
        rows.append(f"c{i},c{i}.wav,{c},,\n")
    (tmp_path / "clips.csv").write_text("id,path,labels,start,end\n" + "".join(rows))
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(k, None)

    def cmd(out, bs):
        return ["pretrain-audio", str(tmp_path / "clips.csv"), "--classes", str(tmp_path / "classes.json"), "--split",
                str(tmp_path / "split.json"), "--epochs", "2", "--width", "0.0625", "--batch-size", str(bs),
                "--lr", "1e-3", "--workers", "0", "--out", str(tmp_path / out)]

    one = subprocess.run([sys.executable, "-m", "zsltool", *cmd("one.pth", 4)], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-2000:]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
                          "--master-addr", "127.0.0.1", "--master-port", str(port), "--module", "zsltool",
                          *cmd("two.pth", 2)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-3000:]
    a = torch.load(tmp_path / "one.pth", weights_only=True)
    b = torch.load(tmp_path / "two.pth", weights_only=True)
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)
    import json

    meta = json.loads((tmp_path / "two.pth.json").read_text())
    assert meta["processes"] == 2 and meta["history"][-1]["examples"] == 8
    assert sorted(p.name for p in tmp_path.glob("two.pth*")) == ["two.pth", "two.pth.json"]
