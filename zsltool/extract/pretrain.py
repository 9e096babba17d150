"""The one pretraining loop: ``train_classifier(dataset, network, ...)``, and what every pretrain command shares
(the trial's training classes, the manifest checks, and ``train_and_save``: the loop, then the weights with
their JSON sidecar and the run's summary).

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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from zsltool.errors import ZslError
from zsltool.extract.epoch_checkpoint import (epoch_checkpoint, read_epoch_checkpoint, restore, rng_state,
                                             write_epoch_checkpoint)
from zsltool.files.checks import atomic_write_bytes, atomic_write_json
from zsltool.files.provenance import input_record, sha256_file, sha256_json, stamp

log = logging.getLogger("zsltool.extract")


class TrainingClasses(NamedTuple):
    class_set: Any
    trial: Any
    train_ids: list[str]
    train_pos: dict[int, int]
    allowed_ids: set[str] | None
    index: int  # the trial's number in the split
    inputs: list[dict]  # input records of the class set and the split


def training_classes(classes_path, split_path, trial: int, *, instance_ids: bool = True) -> TrainingClasses:
    """``(class_set, trial, train_ids, train_pos, allowed_ids, index, inputs)``: ``train_pos`` maps a class-set
    index to its position among the trial's training classes (the seen classes for GZSL); ``allowed_ids`` is the
    one rule for which instances a network may be trained on:

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
    return TrainingClasses(cs, t, train_ids, train_pos, allowed, trial,
                           [input_record(classes_path), input_record(split_path)])


def check_manifests(inputs, kind: str, missing_hint: str, hint: str) -> list[Path]:
    """``inputs`` as paths, each an existing ``kind`` manifest (.csv/.tsv) file, else a ZslError."""
    manifests = [Path(p) for p in inputs]
    for p in manifests:
        if not p.exists():
            raise ZslError(f"input not found: {p}", hint=missing_hint)
        if not p.is_file() or p.suffix.lower() not in (".csv", ".tsv"):
            raise ZslError(f"{p} is not a {kind} manifest (.csv)", hint=hint)
    return manifests


def training_targets(kept: list, tc: TrainingClasses, manifests, what: str) -> list[int]:
    """Each kept item's position among the training classes (its one label); a ZslError when none is kept, a
    warning when a training class has no item."""
    if not kept:
        raise ZslError(f"no {what} of {', '.join(map(str, manifests))} belongs to the training classes of trial "
                       f"{tc.index}", hint="check that the manifest, class set and split belong together")
    targets = [tc.train_pos[it.labels[0]] for it in kept]
    missing = sorted(set(range(len(tc.train_ids))) - set(targets))
    if missing:
        log.warning(f"{len(missing)} training classes have no {what} (e.g. {tc.train_ids[missing[0]]})")
    return targets


def train_and_save(modality: str, net, dataset, out: Path, tc: TrainingClasses, *, epochs: int, batch_size: int,
                   lr: float, device: str, seed: int, progress: bool, resume: bool, run_key: dict, config: dict,
                   fields: dict, inputs: list, summary: dict, saved=None, t0: float | None = None, **train) -> dict:
    """What every pretrain command ends with: train ``net`` on ``dataset`` (:func:`train_classifier`; ``train``:
    its other options), resuming from ``out``'s epoch checkpoint, then save ``saved`` (default ``net``) at
    ``out`` with the sidecar ``zsl.<modality>_pretrain``: ``fields`` and what every run records (the class set,
    trial, training classes, loss, ``config`` with the shared options, seconds since ``t0``, history, ``inputs``
    with the class set and split; the first 100 inputs ``collate`` found unreadable when ``train`` has ``bad``).
    Returns the run's summary: ``out``, ``sidecar``, ``summary``, the classes and final statistics."""
    t0, bad = time.perf_counter() if t0 is None else t0, train.get("bad")
    history = train_classifier(dataset, net, epochs=epochs, batch_size=batch_size, lr=lr, device=device, seed=seed,
                               progress=progress, name=f"pretrain-{modality}", checkpoint=epoch_checkpoint(out),
                               resume=resume, run_key={**run_key, "class_set": tc.class_set.sha256,
                                                       "trial": tc.index}, **train)
    sidecar, meta = save_pretrained(net if saved is None else saved, out, f"zsl.{modality}_pretrain", {
        **fields, "class_set_sha256": tc.class_set.sha256, "trial": tc.index, "train_classes": tc.train_ids,
        "loss": "binary cross-entropy (multi-label)" if train.get("multilabel") else "softmax cross-entropy",
        "config": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": "adam", **config, "seed": seed},
        **({} if bad is None else {"undecodable": [{"id": k, "reason": v} for k, v in list(bad.items())[:100]]}),
        "seconds": round(time.perf_counter() - t0, 2), "history": history, "inputs": inputs + tc.inputs})
    return {"out": str(out), "sidecar": str(sidecar), **summary, "classes": len(tc.train_ids),
            **({} if bad is None else {"undecodable": len(bad)}), "final_loss": history[-1]["loss"],
            "final_train_top1": history[-1]["train_top1"], "seconds": meta["seconds"]}


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

    from zsltool.extract import distributed as D
    from zsltool.runtime.env import resolve_device

    ctx = D.setup(resolve_device(device))  # under torchrun: this rank's process group and device
    dev = torch.device(ctx.device)
    network.to(dev)
    model = D.wrap(network, ctx)  # DistributedDataParallel under torchrun, else the network itself
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-8)
    gen = torch.Generator().manual_seed(seed)
    bs = max(1, batch_size)
    epoch = _epoch_source(dataset, ctx, bs, gen, seed, collate, workers, drop_single, batch_transform)
    if hasattr(dataset, "epoch_batches") and ctx.active:  # the epoch's batches come augmented
        batch_transform = None
    bad = {} if bad is None else bad
    history: list[dict] = []
    start, key, bar = 0, None, None  # bar: one reporter over every batch of every epoch (a bar or lines on a pipe)
    try:  # a damaged checkpoint too ends with the process group torn down (torchrun)
        if checkpoint is not None:
            key = sha256_json({"name": name, "batch_size": bs, "lr": lr, "seed": seed, "processes": ctx.world,
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
            batches = epoch()
            if bar is None:
                bar = _progress(batches, epochs - start, name, bool(progress) and ctx.main)
            stats = _train_epoch(batches, bar, model, opt, dev, batch_transform, gen, multilabel, bad)
            stats.loss_sum, stats.correct, stats.n = D.all_sum([stats.loss_sum, stats.correct, stats.n], ctx)
            if stats.n == 0:
                raise ZslError("none of the training inputs could be read",
                               hint=f"first problem: {next(iter(bad.values()), 'unknown')}")
            history.append(stats.record(ep + 1, epochs, name))
            if checkpoint is not None and ctx.main:
                write_epoch_checkpoint(checkpoint, {
                    "format": "zsl.pretrain_epoch", "run_key": key, "epoch": ep + 1, "network": network.state_dict(),
                    "optimizer": opt.state_dict(), "rng": rng_state(gen, dev), "history": history,
                    "bad": dict(bad)})
    finally:
        if bar is not None:
            bar.close()
        D.teardown(ctx)
    return history


def _progress(batches, epochs: int, name: str, enabled: bool):
    from zsltool.runtime.progress import Progress

    try:
        total = epochs * len(batches)
    except TypeError:  # a generator of batches: no total, the lines give count and rate
        total = None
    return Progress(total=total, desc=name, unit="batch", enabled=enabled)


def _train_epoch(batches, bar, model, opt, dev, transform, gen, multilabel: bool, bad: dict) -> "EpochStats":
    """One optimisation step per batch ``(x, y)`` or ``(x, y, {"bad": ...})`` (its unreadable inputs go to
    ``bad``; a batch of ``None`` is skipped)."""
    stats = EpochStats()
    for batch in batches:
        bar.update(1)
        if batch is None:
            continue
        if len(batch) == 3:
            bad.update(batch[2].get("bad", {}))
            if batch[0] is None:
                continue
        x, y = batch[0].to(dev), batch[1].to(dev)
        if transform is not None:
            x = transform(x, gen)
        loss, correct = _loss_and_correct(model(x), y, multilabel)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        stats.add(loss, correct, x.shape[0])
    return stats


def _epoch_source(dataset, ctx, bs: int, gen, seed: int, collate, workers: int, drop_single: bool, transform):
    """A function giving one epoch's batches (this rank's slice of each global batch under torchrun)."""
    import torch
    from torch.utils.data import DataLoader

    from zsltool.extract import distributed as D

    loader = {"num_workers": max(0, workers), **({"collate_fn": collate} if collate is not None else {})}
    if hasattr(dataset, "epoch_batches"):  # a dataset that batches itself (in memory, no loader needed)
        if not ctx.active:
            return lambda: dataset.epoch_batches(bs, gen, drop_single)
        # every rank makes the one-process global batches (and their augmentation), then takes its rows
        return lambda: _rank_slices(dataset.epoch_batches(bs * ctx.world, gen, drop_single), ctx, transform, gen)
    if not ctx.active:
        dl = DataLoader(dataset, batch_size=bs, shuffle=True, generator=gen,
                        drop_last=drop_single and len(dataset) > bs and len(dataset) % bs == 1, **loader)
        return lambda: dl

    def epoch():
        # the order DataLoader(shuffle=True, generator=gen) gives one process with batches of world x batch:
        # its iterator draws a base seed, the sampler a randperm (and, when the loader runs it to its end,
        # one more); this rank takes its slice of each global batch
        n, g = len(dataset), bs * ctx.world
        drop = drop_single and n > g and n % g == 1
        torch.empty((), dtype=torch.int64).random_(generator=gen)
        order = torch.randperm(n, generator=gen)
        if not drop:
            torch.randperm(n, generator=gen)
        else:
            order = order[:n - 1]
        batches = [b.tolist() for b in D.rank_batches(order, bs, ctx)]
        return DataLoader(dataset, batch_sampler=batches, generator=torch.Generator().manual_seed(seed), **loader)
    return epoch


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
    meta = {"format": fmt, "format_version": 1, **stamp(), "weights": str(out), "weights_sha256": sha256_file(out),
            "processes": world, **fields}
    atomic_write_json(sidecar, meta)
    epoch_checkpoint(out).unlink(missing_ok=True)  # the run is complete: its resume point is no longer needed
    return sidecar, meta
