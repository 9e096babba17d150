"""``pretrain_audio``: train the audio network from scratch on the seen (training) classes only.

Paper 000 (Sec. III-B) trains the audio network from scratch so that classes used for testing never shape
it. The clips are the manifest rows whose classes are all training classes of the split's trial (a clip that
also carries a val/test class is left out, so no unseen-class audio is used); each 0.96 s example is
classified into the training classes by a linear head on the ReLU of the 128-d layer (softmax
cross-entropy when every clip has one class, else per-class sigmoid / BCE). Decoding and the log-mel front
end run in DataLoader workers every epoch, so memory does not grow with the data.

Output: ``OUT`` holds the network's state dict in the torchvggish layout (``extract-audio --weights OUT``
loads it; the classifier head is not included) and ``OUT.json`` says how it was trained.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Iterable

from zsltool.errors import ZslError
from zsltool.extract.pretrain_common import EpochStats, optimise, save_pretrained, training_classes
from zsltool.utils import check_output, input_record, seed_everything

log = logging.getLogger("zsltool.extract.audio")


class _ClipDataset:
    def __init__(self, items, loader):
        self.items, self.loader = items, loader

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        it = self.items[i]
        try:
            ex = self.loader(it)["examples"]
        except Exception as e:  # noqa: BLE001 - a bad clip is skipped, not fatal
            return {"id": it.id, "examples": None, "error": str(e), "labels": it.labels}
        return {"id": it.id, "examples": ex, "error": None, "labels": it.labels}


def _collate(batch):
    return batch


def _classifier(net, head):
    """VGGish + the linear head on the ReLU of its 128-d layer, as one module (for DistributedDataParallel)."""
    import torch

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net, self.head = net, head

        def forward(self, x):
            return self.head(torch.relu(self.net(x)))

    return Classifier()


def pretrain_audio(
    manifest: str | os.PathLike,
    out: str | os.PathLike,
    *,
    classes_path: str | os.PathLike,
    split_path: str | os.PathLike,
    trial: int = 0,
    epochs: int = 10,
    batch_size: int = 8,
    lr: float = 1e-4,
    width: float = 1.0,
    max_seconds: float | None = 10.0,
    workers: int = 0,
    device: str = "cpu",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    only_ids: Iterable[str] | None = None,
) -> dict:
    """Train VGGish (``width`` scales it; 1.0 = the published size) and save its weights; returns a summary.

    The clips: those of the trial's training classes (for a GZSL trial only its ``instances.train``, see
    :func:`~zsltool.extract.pretrain_common.training_classes`); ``only_ids`` restricts them further to those
    ids (library only: e.g. to keep validation and test clips out of the audio network).
    """
    import torch
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    from zsltool.extract.audio.extract import AudioLoader, items_from_manifest
    from zsltool.extract.audio.frontend import waveform_to_examples
    from zsltool.extract.audio.vggish import VGGish

    if epochs < 1:
        raise ZslError(f"--epochs must be at least 1, got {epochs}")
    if not width > 0:
        raise ZslError(f"--width must be positive, got {width}")
    if not (lr > 0 and lr < float("inf")):
        raise ZslError(f"--lr must be a finite number above 0, got {lr}")
    if max_seconds is not None and not max_seconds > 0:
        raise ZslError(f"--max-seconds must be positive, got {max_seconds}")
    out = check_output(out, overwrite)
    cs, t, train_ids, train_pos, allowed = training_classes(classes_path, split_path, trial)
    if only_ids is not None:
        only_ids = set(only_ids)
        allowed = only_ids if allowed is None else allowed & only_ids
    items = items_from_manifest(manifest, cs)
    kept, excluded_mixed, other_only = [], 0, 0
    for it in items:
        if not it.labels:
            continue
        if any(lab not in train_pos for lab in it.labels):
            if any(lab in train_pos for lab in it.labels):
                excluded_mixed += 1  # a training class together with a val/test class: left out
            else:
                other_only += 1
            continue
        if allowed is not None and it.id not in allowed:
            continue
        it.labels = sorted(train_pos[lab] for lab in it.labels)
        kept.append(it)
    if not kept:
        raise ZslError(f"no clip of {manifest} belongs only to the training classes of trial {trial}",
                       hint="check that the manifest, class set and split belong together")
    n_classes = len({lab for it in kept for lab in it.labels})
    if n_classes < 2:
        raise ZslError(f"the clips of {manifest} usable for trial {trial} cover {n_classes} training class; "
                       "a classifier needs at least 2", hint="use a split with more training classes")
    single = all(len(it.labels) == 1 for it in kept)
    C = len(train_ids)

    from zsltool.extract import distributed as D

    ctx = D.setup(device)  # torchrun: one rank per process, DDP (docs/scaling.md); else one process
    seed_everything(seed)
    dev = torch.device(ctx.device)
    net = VGGish(width=width).to(dev)
    head = torch.nn.Linear(128, C).to(dev)
    model = D.wrap(_classifier(net, head), ctx)
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-8)
    loader = AudioLoader(max_seconds=max_seconds, examples_fn=waveform_to_examples)
    gen = torch.Generator().manual_seed(seed)
    data = _ClipDataset(kept, loader)
    history, bad = [], {}
    t0 = time.perf_counter()
    for ep in range(epochs):
        net.train()
        head.train()
        stats = EpochStats()
        # the same shuffled order on every rank; each rank takes its slice of every global batch
        batches = [b.tolist() for b in D.rank_batches(torch.randperm(len(data), generator=gen), max(1, batch_size),
                                                        ctx)]
        dl = DataLoader(data, batch_sampler=batches, num_workers=max(0, workers), collate_fn=_collate)
        for batch in tqdm(dl, desc=f"pretrain-audio epoch {ep + 1}/{epochs}", disable=not progress or None,
                          leave=False, unit="batch"):
            xs, ys = [], []
            for b in batch:
                if b["error"] is not None:
                    bad[b["id"]] = b["error"]
                    continue
                ex = torch.from_numpy(b["examples"])
                y = torch.zeros(C)
                y[b["labels"]] = 1.0
                xs.append(ex)
                ys.append(y.expand(ex.shape[0], C))
            if not xs:
                continue
            x = torch.cat(xs).to(dev)
            y = torch.cat(ys).to(dev)
            logits = model(x)
            if single:
                loss = torch.nn.functional.cross_entropy(logits, y.argmax(dim=1))
            else:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
            optimise(opt, loss)
            stats.add(loss, (y.gather(1, logits.argmax(dim=1, keepdim=True)) > 0).sum(), x.shape[0])
        stats.loss_sum, stats.correct, stats.n = D.all_sum([stats.loss_sum, stats.correct, stats.n], ctx)
        if stats.n == 0:
            raise ZslError("none of the training clips could be decoded",
                           hint=f"first problem: {next(iter(bad.values()), 'unknown')}")
        history.append(stats.record(ep + 1, epochs, "pretrain-audio", examples=int(stats.n)))
    if not ctx.main:  # only rank 0 writes the weights and the sidecar
        D.teardown(ctx)
        return {"out": str(out), "rank": ctx.rank, "world": ctx.world, "clips": len(kept), "classes": C,
                "final_loss": history[-1]["loss"], "final_train_top1": history[-1]["train_top1"]}

    sidecar, info = save_pretrained(net, out, "zsl.audio_pretrain", {
            "layout": "torchvggish state dict (features.*, embeddings.*)",
            "model": "vggish", "width": width, "channels": list(net.channels), "hidden": net.hidden,
            "class_set_sha256": cs.sha256, "trial": trial, "train_classes": train_ids,
            "loss": "softmax cross-entropy" if single else "binary cross-entropy (multi-label)",
            "config": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": "adam",
                       "max_seconds": max_seconds, "seed": seed, "processes": ctx.world},
            "instances": ("instances.train of the trial" if t.is_gzsl else "every clip of the classes")
                         + (", restricted to the given ids" if only_ids is not None else ""),
            "clips": len(kept), "train_clips": sorted(it.id for it in kept),
            "excluded_mixed": excluded_mixed, "other_class_clips": other_only,
            "undecodable": [{"id": k, "reason": v} for k, v in list(bad.items())[:100]],
            "seconds": round(time.perf_counter() - t0, 2), "history": history,
            "inputs": [input_record(manifest), input_record(classes_path), input_record(split_path)]})
    D.teardown(ctx)
    return {"out": str(out), "sidecar": str(sidecar), "clips": len(kept), "classes": C,
            "excluded_mixed": excluded_mixed, "other_class_clips": other_only, "undecodable": len(bad),
            "final_loss": history[-1]["loss"], "final_train_top1": history[-1]["train_top1"],
            "seconds": info["seconds"]}
