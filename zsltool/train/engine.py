"""The training engine: many small models at once, and the lean single-model loop.

``train_jobs(jobs, device)`` trains a list of :class:`Job` (one model each: method, arguments, optimiser
settings, seed, data) and returns one :class:`Outcome` per job, in order. Jobs whose method declares a
batched kernel (``ZslMethod.batched_kernel``) are grouped and trained as one stacked computation; the others
run one at a time in :func:`train_single`. ``zsl train`` is a list of one job; ``zsl experiment`` passes every
trial of a run, and each job of a batch may have its own lr, optimiser, epochs, patience, method arguments
and data, so grid points are models of one batch.

Each model's randomness is its own: its initial parameters come from ``torch.manual_seed(job.seed)``, its
mini-batch order from its own ``torch.Generator`` seeded with ``job.seed`` (one ``randperm`` per epoch), and a
method's per-step draws (negatives, dropout masks: ``draws(labels, generator)``) from a second generator on the
training device seeded with ``draw_seed(job.seed)``, so a model trained in a batch of 20 is the model trained alone, up to float re-association in batched matrix
products (docs/methods.md, "Training many models at once", gives the tolerance; predictions are identical).

The pieces every engine shares (the job, its outcome, validation, best-epoch bookkeeping, the optimiser)
are in ``zsltool.train.job``.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch

from zsltool.errors import ZslError
from zsltool.train.job import (BestKeeper, Job, Outcome, build_model, diverged, draws_generator, epoch_line, failed,
                               make_optimizer, patience_out, scaled_data, validate)
from zsltool.train.kernels import KERNELS
from zsltool.train.schedule import LrSchedule, has_schedule

log = logging.getLogger("zsltool.train")


def train_jobs(jobs: list[Job], device: str = "cpu", batched: bool = True,
               tolerate_divergence: bool = False) -> list[Outcome]:
    """Train every job; batched where the method has a kernel (and ``batched``), else one at a time.

    A model whose loss stops being finite raises a ZslError, or with ``tolerate_divergence`` gets an Outcome
    with ``error`` set (a grid's setting is then left out of the selection)."""
    out: list[Outcome | None] = [None] * len(jobs)
    groups: dict[tuple, list[int]] = {}
    models = [build_model(j) for j in jobs]
    for i, (job, model) in enumerate(zip(jobs, models)):
        kname = getattr(job.cls, "batched_kernel", None) if batched and not has_schedule(job, model) else None
        key = KERNELS[kname].group_key(job, model, device) if kname in KERNELS else None
        if key is None:
            try:
                out[i] = train_single(job, model, device)
            except ZslError as e:
                if not tolerate_divergence or "diverged" not in e.message:
                    raise
                out[i] = failed(job, e)
        else:
            groups.setdefault((kname, key), []).append(i)
    for (kname, _), idx in groups.items():
        for chunk in KERNELS[kname].plan([jobs[i] for i in idx], [models[i] for i in idx], idx, device=device):
            res = KERNELS[kname]([jobs[i] for i in chunk], [models[i] for i in chunk], device).run(
                tolerate_divergence)
            for i, r in zip(chunk, res):
                out[i] = r
    return out  # type: ignore[return-value]


def _state_copy(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_single(job: Job, model, device: str = "cpu") -> Outcome:
    """One model, one at a time: closed form, or mini-batch gradient descent with the method's ``loss``.

    The loop is lean: the epoch's permutation is one tensor, batches are tensor slices of features held on
    the device, loss terms are summed as tensors and read once per epoch."""
    from zsltool.runtime.progress import Progress
    from zsltool.runtime.env import seed_everything

    seed_everything(job.seed)  # the method's own random draws (negatives, dropout) follow the seed
    model = model.to(device)
    data, class_emb = scaled_data(job, model, device)
    if job.cls.needs_train_classes:
        model.set_train_classes(class_emb)
    n = len(job.train)
    history: list[dict] = []
    keep = BestKeeper(job.metric, job.patience)
    hyper = job.hyper
    if job.cls.closed_form:
        model.train()
        model.fit_closed_form(data["audio"], class_emb[data["labels"]], data["labels"], class_emb,
                              video=data.get("video"), audio_valid=data["audio_valid"],
                              video_valid=data.get("video_valid"))
        rec: dict = {"epoch": 1}
        if job.val is not None:
            rec.update(validate(model, job, device))
        history.append(rec)
        keep.consider(1, rec.get(job.metric), lambda: (_state_copy(model), None))
        log.debug(epoch_line(rec, 1, 1, True, job.name))
    else:
        optimizer = make_optimizer(model.parameters(), hyper, device)
        sched = LrSchedule(optimizer, model, hyper, job.metric)  # constant unless lr_plateau / lr_schedule
        gen = torch.Generator().manual_seed(int(job.seed))
        rgen = draws_generator(job, model, device)  # negatives and dropout masks (methods with ``draws``)
        bs, epochs = int(hyper["batch_size"]), int(hyper["epochs"])
        data.setdefault("video", None)
        # a bar on a terminal, a timed line in a log (zsltool.runtime.progress); per-epoch lines only with -v (debug)
        bar = Progress(total=epochs, desc=f"train {job.cls.name}", unit="epoch", enabled=log.isEnabledFor(logging.INFO))
        for epoch in range(1, epochs + 1):
            model.train()
            sched.start(epoch)
            perm = torch.randperm(n, generator=gen).to(device)
            sums: dict[str, torch.Tensor] = {}
            steps = 0
            for s in range(0, n, bs):
                idx = perm[s:s + bs]
                batch = {k: (v[idx] if v is not None else None) for k, v in data.items()}
                batch["class_emb"] = class_emb
                batch["semantic"] = class_emb[batch["labels"]]
                if rgen is not None:
                    batch.update(model.draws(batch["labels"], rgen))
                terms = model.loss(batch)
                optimizer.zero_grad(set_to_none=True)
                terms["total"].backward()
                optimizer.step()
                for k, v in terms.items():
                    v = v.detach()
                    sums[k] = sums[k] + v if k in sums else v
                steps += 1
            rec = {"epoch": epoch, **{f"loss_{k}": float(v) / max(steps, 1) for k, v in sums.items()}}
            if not np.isfinite(rec.get("loss_total", 0.0)):
                bar.close()
                raise diverged(job, epoch)
            if job.val is not None:
                rec.update(validate(model, job, device))
            sched.end(rec)
            history.append(rec)
            improved = keep.consider(epoch, rec.get(job.metric),
                                     lambda: (_state_copy(model), copy.deepcopy(optimizer.state_dict())))
            bar.update(1)
            if epoch == 1 or epoch == epochs or epoch % max(1, job.log_every) == 0:
                log.debug(epoch_line(rec, epoch, epochs, improved, job.name))
            if patience_out(keep, job, epoch):
                break
        bar.close()
    state, opt = keep.snapshot
    model.load_state_dict(state)
    model.eval()
    return Outcome(model=model, state=state, optimizer=opt, best_value=keep.value, best_epoch=keep.epoch,
                   history=history, hyper=hyper)
