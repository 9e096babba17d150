"""The one pretraining loop: ``train_classifier(dataset, network, ...)``, and what every pretrain command shares
(the trial's training classes, saving the weights with their JSON sidecar).

pretrain-audio, pretrain-image and pretrain-video differ only in their dataset (what one training example
is) and their network (with its classification head); the loop (seeded shuffling, Adam, the loss, per-epoch
statistics, progress) is here once:

    history = train_classifier(dataset, net, epochs=20, batch_size=32, lr=1e-3, device="cpu", seed=0)

A dataset item is ``(x, y)``: ``y`` a class index (softmax cross-entropy) or, with ``multilabel=True``, a
multi-hot float vector (per-class sigmoid / BCE). ``collate`` may build a batch from items of other shapes
(an audio clip gives several examples) and may return a third element ``{"bad": {id: reason}}`` for inputs
that could not be read; a batch of ``None`` is skipped. A dataset with ``epoch_batches(batch_size, generator,
drop_single)`` yields its own batches (data held in memory, shuffled with the seeded ``generator``).
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from zsltool import __version__
from zsltool.errors import ZslError
from zsltool.extract.epoch_checkpoint import (epoch_checkpoint, read_epoch_checkpoint, restore, rng_state,
                                             write_epoch_checkpoint)
from zsltool.files.checks import atomic_write_bytes, atomic_write_json
from zsltool.files.provenance import command_line, sha256_file, sha256_json, utc_now

log = logging.getLogger("zsltool.extract")


class TrainingClasses(NamedTuple):
    class_set: Any
    trial: Any
    train_ids: list[str]
    train_pos: dict[int, int]
    allowed_ids: set[str] | None


def training_classes(classes_path, split_path, trial: int, *, instance_ids: bool = True) -> TrainingClasses:
    """``(class_set, trial, train_ids, train_pos, allowed_ids)``: ``train_pos`` maps a class-set index to its
    position among the trial's training classes (the seen classes for GZSL); ``allowed_ids`` is the one rule
    for which instances a network may be trained on:

    - a GZSL trial: its ``instances.train`` only (the seen classes' val and test-seen instances stay out);
      a ZslError when the trial lists none;
    - any other trial: ``None``, every instance of the training classes (the other classes' instances are
      never among them).

    ``instance_ids=False`` (inputs whose ids are not the split's instance ids) always gives ``None``.
    """
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import load_split

    cs = ClassSet.load(classes_path)
    split = load_split(split_path)
    if split.class_set_sha256 and split.class_set_sha256 != cs.sha256:
        raise ZslError(f"{split_path} was made for another class set than {classes_path}",
                       hint="use the class set the split was built from")
    t = split.trial(trial)
    train_ids = list(t.seen if t.is_gzsl else t.train)
    train_pos = {cs.index(c): k for k, c in enumerate(train_ids)}
    allowed = None
    if instance_ids and t.is_gzsl:
        allowed = set(t.instances.get("train") or [])
        if not allowed:
            raise ZslError(f"gzsl trial {trial} of {split_path} lists no training instances (instances.train); "
                           "training on every seen instance would include the test-seen ones",
                           hint="make the split with zsl split --protocol gzsl --instances ...")
    return TrainingClasses(cs, t, train_ids, train_pos, allowed)


def optimise(opt, loss) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _loss_and_correct(logits, y, multilabel: bool):
    import torch

    if multilabel:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        return loss, (y.gather(1, logits.argmax(dim=1, keepdim=True)) > 0).sum()
    return torch.nn.functional.cross_entropy(logits, y), (logits.argmax(dim=1) == y).sum()


def train_classifier(dataset, network, *, epochs: int, batch_size: int, lr: float, device: str = "cpu",
                     seed: int = 0, multilabel: bool = False, collate=None, workers: int = 0,
                     batch_transform=None, drop_single: bool = False, progress: bool = True,
                     name: str = "pretrain", bad: dict | None = None, checkpoint: str | os.PathLike | None = None,
                     resume: bool = True, run_key: dict | None = None) -> list[dict]:
    """Train ``network`` (input batch -> logits) on ``dataset`` with Adam; returns the per-epoch history.

    ``seed`` seeds the shuffling; the caller seeds the global generators (``seed_everything``) before it
    builds the network, whose initialisation and augmentations then follow from that one seed.
    ``batch_transform(x, generator)``: augmentation of a batch on the training device's side (seeded);
    ``drop_single``: drop a last batch of one item (BatchNorm needs two); ``bad``: a dict that collects the
    inputs ``collate`` reported unreadable. A ZslError when an epoch has no readable input at all.

    Under ``torchrun --nproc-per-node N`` (docs/scaling.md) the network trains in DistributedDataParallel
    (gloo on the CPU, nccl on CUDA): every rank follows the one-process shuffled order and takes its slice of
    each global batch of N x ``batch_size``, the epoch statistics are summed over the ranks, and only rank 0
    writes files (:func:`save_pretrained`). With a mean loss over equal-sized slices this is the one-process
    run with ``batch_size`` N x B.

    ``checkpoint``: after every epoch the network, the optimizer, the epoch, the history and every random
    generator's state are written there atomically (rank 0); with ``resume`` a run finds the checkpoint of a
    killed run with the same settings (``run_key``: the caller's inputs and options, plus batch size, learning
    rate, seed, processes, dataset size and the network's parameter shapes) and continues after its last
    epoch, so the weights equal an uninterrupted run's. :func:`save_pretrained` removes it.
    """
    import torch
    from torch.utils.data import DataLoader

    from zsltool.extract import distributed as D
    from zsltool.runtime.progress import Progress
    from zsltool.runtime.env import resolve_device

    ctx = D.setup(resolve_device(device))  # under torchrun: this rank's process group and device
    dev = torch.device(ctx.device)
    network.to(dev)
    model = D.wrap(network, ctx)  # DistributedDataParallel under torchrun, else the network itself
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-8)
    gen = torch.Generator().manual_seed(seed)
    bs = max(1, batch_size)
    w = ctx.world
    transform_in_epoch = False
    if hasattr(dataset, "epoch_batches"):  # a dataset that batches itself (in memory, no loader needed)
        def epoch():
            if not ctx.active:
                return dataset.epoch_batches(bs, gen, drop_single)
            # every rank makes the one-process global batches (and their augmentation), then takes its rows
            return _rank_slices(dataset.epoch_batches(bs * w, gen, drop_single), ctx, batch_transform, gen)
        transform_in_epoch = ctx.active
    elif not ctx.active:
        dl = DataLoader(dataset, batch_size=bs, shuffle=True, generator=gen, num_workers=max(0, workers),
                        drop_last=drop_single and len(dataset) > bs and len(dataset) % bs == 1,
                        **({"collate_fn": collate} if collate is not None else {}))

        def epoch():
            return dl
    else:
        def epoch():
            # the order DataLoader(shuffle=True, generator=gen) gives one process with batches of world x batch:
            # its iterator draws a base seed, the sampler a randperm (and, when the loader runs it to its end,
            # one more); this rank takes its slice of each global batch
            n, g = len(dataset), bs * w
            drop = drop_single and n > g and n % g == 1
            torch.empty((), dtype=torch.int64).random_(generator=gen)
            order = torch.randperm(n, generator=gen)
            if not drop:
                torch.randperm(n, generator=gen)
            else:
                order = order[:n - 1]
            batches = [b.tolist() for b in D.rank_batches(order, bs, ctx)]
            return DataLoader(dataset, batch_sampler=batches, num_workers=max(0, workers),
                              generator=torch.Generator().manual_seed(seed),
                              **({"collate_fn": collate} if collate is not None else {}))
    bad = {} if bad is None else bad
    history: list[dict] = []
    start = 0
    key = None
    bar = None  # one progress reporter over every batch of every epoch (a bar on a terminal, lines on a pipe)
    try:  # a damaged checkpoint too ends with the process group torn down (torchrun)
        if checkpoint is not None:
            key = sha256_json({"name": name, "batch_size": bs, "lr": lr, "seed": seed, "processes": w,
                               "multilabel": multilabel, "items": len(dataset), "drop_single": drop_single,
                               "params": [[k, list(v.shape)] for k, v in network.state_dict().items()],
                               "run": run_key or {}})
            state = read_epoch_checkpoint(checkpoint, key, epochs, name) if resume else None
            if state is not None:
                restore(state, checkpoint, network, opt, gen, dev)
                history, start = list(state["history"]), state["epoch"]
                bad.update(state["bad"])
                log.warning(f"{name}: resuming after epoch {start} of {epochs} from {checkpoint}")
        for ep in range(start, epochs):
            network.train()
            stats = EpochStats()
            batches = epoch()
            if bar is None:
                try:
                    total = (epochs - start) * len(batches)
                except TypeError:  # a generator of batches: no total, the lines give count and rate
                    total = None
                bar = Progress(total=total, desc=name, unit="batch", enabled=bool(progress) and ctx.main)
            for batch in batches:
                bar.update(1)
                if batch is None:
                    continue
                if len(batch) == 3:
                    bad.update(batch[2].get("bad", {}))
                    if batch[0] is None:
                        continue
                x, y = batch[0].to(dev), batch[1].to(dev)
                if batch_transform is not None and not transform_in_epoch:
                    x = batch_transform(x, gen)
                loss, correct = _loss_and_correct(model(x), y, multilabel)
                optimise(opt, loss)
                stats.add(loss, correct, x.shape[0])
            stats.loss_sum, stats.correct, stats.n = D.all_sum([stats.loss_sum, stats.correct, stats.n], ctx)
            if stats.n == 0:
                raise ZslError("none of the training inputs could be read",
                               hint=f"first problem: {next(iter(bad.values()), 'unknown')}")
            history.append(stats.record(ep + 1, epochs, name))
            if checkpoint is not None and ctx.main:
                write_epoch_checkpoint(checkpoint, {
                    "format": "zsl.pretrain_epoch", "run_key": key, "epoch": ep + 1, "network": network.state_dict(),
                    "optimizer": opt.state_dict(), "rng": rng_state(gen, dev), "history": history, "bad": dict(bad)})
    finally:
        if bar is not None:
            bar.close()
        D.teardown(ctx)
    return history


def _rank_slices(batches, ctx, transform=None, gen=None):
    """This rank's rows of each global batch ``(x, y, ...)``, after ``transform(x, gen)`` of the whole batch (a
    batch too small for every rank is skipped)."""
    for b in batches:
        if b is None or len(b[0]) < ctx.world:
            continue
        x = transform(b[0], gen) if transform is not None else b[0]
        per = -(-len(x) // ctx.world)
        sl = slice(ctx.rank * per, (ctx.rank + 1) * per)
        if len(x[sl]) == 0:
            continue
        yield (x[sl], b[1][sl], *b[2:])


def check_training_args(epochs: int, lr: float) -> None:
    if epochs < 1:
        raise ZslError(f"--epochs must be at least 1, got {epochs}")
    if not (lr > 0 and lr < float("inf")):
        raise ZslError(f"--lr must be a finite number above 0, got {lr}")


@dataclass
class EpochStats:
    """Running loss and training top-1 over one epoch."""

    loss_sum: float = 0.0
    correct: float = 0.0
    n: float = 0.0

    def add(self, loss, correct, m: int) -> None:
        self.loss_sum += float(loss.detach()) * m
        self.correct += float(correct)
        self.n += m

    def record(self, epoch: int, epochs: int, name: str, **extra) -> dict:
        loss, top1 = self.loss_sum / self.n, self.correct / self.n
        log.debug(f"{name} epoch {epoch}/{epochs}: loss {loss:.4f}, train top-1 {top1:.3f}")  # -v
        return {"epoch": epoch, "loss": round(loss, 6), "train_top1": round(top1, 4), "examples": int(self.n), **extra}


def save_pretrained(net, out: Path, fmt: str, fields: dict) -> tuple[Path, dict]:
    """Save ``net``'s state dict atomically at ``out`` and its description at ``out.json``."""
    import torch

    from zsltool.files.safety import check_not_input

    out = Path(out)
    sidecar = Path(str(out) + ".json")
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world > 1 and int(os.environ.get("RANK", "0") or 0) != 0:  # torchrun: rank 0 alone writes
        return sidecar, {"format": fmt, "weights": str(out), "rank": int(os.environ["RANK"]), "processes": world,
                         **fields}
    check_not_input(sidecar)  # before the weights: no half of the pair is left when the sidecar is an input
    sd = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    buf = io.BytesIO()
    torch.save(sd, buf)
    atomic_write_bytes(out, buf.getvalue())  # unique temp name, fsync, rename; no leftover on failure
    meta = {"format": fmt, "format_version": 1, "zsl_version": __version__, "created_utc": utc_now(),
            "command": command_line(), "weights": str(out), "weights_sha256": sha256_file(out), "processes": world,
            **fields}
    atomic_write_json(sidecar, meta)
    epoch_checkpoint(out).unlink(missing_ok=True)  # the run is complete: its resume point is no longer needed
    return sidecar, meta
