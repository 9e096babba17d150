"""Same numbers from two trees (not a test; run by hand): every method trained on one synthetic split by the
engine of a tree, its parameters, per-epoch losses and test accuracy saved; ``compare`` prints per method the
largest parameter difference (relative to the parameter's scale), the largest loss difference, both
accuracies and the share of equal test predictions. Used for issue 22 (the compatibility family trained through
its own loss instead of a kernel with a copy of it): old tree vs new tree.

    PYTHONPATH=/tmp/old python benchmarks/parity_train.py dump /tmp/old.pt
    PYTHONPATH=.        python benchmarks/parity_train.py dump /tmp/new.pt
    python benchmarks/parity_train.py compare /tmp/old.pt /tmp/new.pt
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

CASES = [  # (label, method, TrainConfig fields)
    ("projection", "projection", {}),
    ("projection softmax, no tanh, no bias", "projection",
     {"method_args": {"loss": "softmax", "activation": "none", "bias": False}}),
    ("projection momentum 0.9", "projection", {"momentum": 0.9}),
    ("projection rank 16, adam", "projection", {"optimizer": "adam", "lr": 1e-3, "method_args": {"rank": 16}}),
    ("projection weight decay", "projection", {"weight_decay": 1e-3}),
    ("projection image", "projection", {"semantic": "image"}),
    ("bilinear", "bilinear", {}), ("devise", "devise", {}), ("ale", "ale", {}), ("sje", "sje", {}),
    ("eszsl", "eszsl", {}), ("sae", "sae", {}), ("conse", "conse", {"epochs": 5}), ("gcca", "gcca", {}),
    ("audio-only", "audio-only", {"epochs": 3}), ("video-only", "video-only", {"epochs": 3}),
    ("concat", "concat", {"epochs": 3}), ("avgzslnet", "avgzslnet", {"epochs": 3}),
    ("cjme", "cjme", {"epochs": 3}), ("cjme-soft", "cjme-soft", {"epochs": 3}),
]


def dump(out: str) -> None:
    from zsltool.train.config import TrainConfig
    from zsltool.train.data import compute_scores, select_instances
    from zsltool.train.engine import train_jobs
    from zsltool.train.loop import make_job, prepare
    from zsltool.train.synthetic import make_synthetic

    torch.set_num_threads(1)
    res = {}
    with tempfile.TemporaryDirectory() as d:
        syn = make_synthetic(Path(d), n_classes=30, per_class=24, n_train=12, n_val=8, noise=0.3, seed=3,
                             audio_dim=16, video_dim=20, text_dim=40, image_dim=24)
        made = []
        for label, method, kw in CASES:
            kw = {"epochs": 20, "semantic": "text", **kw}
            c = TrainConfig(audio=str(syn.audio), video=str(syn.video), split=str(syn.split), text=str(syn.text),
                            image=str(syn.image), out="unused.pt", method=method, seed=1, **kw)
            p = prepare(c)
            made.append((label, make_job(p, c, name=label), p))
        outs = train_jobs([j for _, j, _ in made])  # one engine call: the batched methods train together
        for (label, j, p), o in zip(made, outs):
            test = list(p.trial.test)
            inst = select_instances(p.inputs, test)
            pred = compute_scores(o.model, p.inputs.semantic.matrix(test), inst).argmax(1)
            res[label] = {"state": {k: v.detach().cpu() for k, v in o.state.items()},
                          "losses": [h.get("loss_total", np.nan) for h in o.history], "best_epoch": o.best_epoch,
                          "pred": pred, "acc": float(np.mean(pred == inst.labels))}
    torch.save(res, out)


def compare(a_path: str, b_path: str) -> None:
    a, b = torch.load(a_path, weights_only=False), torch.load(b_path, weights_only=False)  # our own dumps
    print(f"{'case':40} {'max rel param diff':>18} {'max loss diff':>13} {'acc old':>8} {'acc new':>8} "
          f"{'same pred':>9} {'best ep':>8}")
    for label in a:
        x, y = a[label], b[label]
        dp = max(float((x["state"][k].float() - y["state"][k].float()).abs().max()
                       / x["state"][k].float().abs().max().clamp_min(1e-12)) for k in x["state"])
        d = np.abs(np.array(x["losses"], float) - np.array(y["losses"], float))
        dl = float(d[np.isfinite(d)].max()) if np.isfinite(d).any() else 0.0  # closed forms record no loss
        print(f"{label:40} {dp:18.2e} {dl:13.2e} {x['acc']:8.4f} {y['acc']:8.4f} "
              f"{np.mean(x['pred'] == y['pred']):9.3f} {x['best_epoch']:>3}/{y['best_epoch']:<3}")


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2])
    else:
        compare(sys.argv[2], sys.argv[3])
