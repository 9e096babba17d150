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

Validation (model selection), per epoch and per model:

* ``val_top1``: top-1 accuracy on the validation instances, ranked among the validation classes (ZSL).
* ``val_seen_mca``: mean per-class accuracy on the seen validation instances among the seen classes (GZSL).
* ``none``: no validation data; the last epoch is kept.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from zsltool.errors import ZslError

log = logging.getLogger("zsltool.train")


@dataclass
class Job:
    """One model to train."""

    cls: type
    args: dict                        # method arguments (without the dimensions)
    dims: dict                        # audio_dim, semantic_dim, video_dim
    hyper: dict                       # epochs, batch_size, optimizer, lr, weight_decay, momentum
    seed: int
    train: Any                        # zsltool.train.data.InstanceSet
    class_emb: np.ndarray             # (C_train, Ds)
    val: Any = None                   # InstanceSet of the validation rows, or None
    val_class_emb: np.ndarray | None = None
    metric: str = "none"              # val_top1 | val_seen_mca | none
    patience: int | None = None
    log_every: int = 10
    name: str = ""
    val_seen_mask: np.ndarray | None = None   # val_hm: which validation classes are seen


@dataclass
class Outcome:
    model: Any                        # the method module, best state loaded (None when it diverged)
    state: dict | None                # best state dict
    optimizer: dict | None            # optimiser state at the best epoch
    best_value: float | None
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    hyper: dict = field(default_factory=dict)
    error: str | None = None          # why training failed (divergence), with tolerate_divergence


def diverged(job: Job, epoch: int) -> ZslError:
    return ZslError(f"training diverged at epoch {epoch}{' of ' + job.name if job.name else ''} (loss is not finite)",
                    hint="lower --lr, or standardize the features (--arg zscore=true)")


def failed(job: Job, e: ZslError) -> Outcome:
    return Outcome(model=None, state=None, optimizer=None, best_value=None, best_epoch=0, hyper=job.hyper,
                   error=e.message)


def draw_seed(seed: int) -> int:
    """The seed of a model's draws generator (negatives, dropout masks: ``ZslMethod.draws``): derived from the
    job's seed, independent of the generator of its mini-batch order."""
    return int(np.random.SeedSequence([int(seed), 0x5EED]).generate_state(1)[0])


def draws_generator(job: Job, model, device: str) -> torch.Generator | None:
    """The generator of the method's per-step draws, on the training device (None: the method has none)."""
    if not hasattr(model, "draws"):
        return None
    return torch.Generator(device=device).manual_seed(draw_seed(job.seed))


def build_model(job: Job):
    """The job's method with its initial parameters drawn from ``torch.manual_seed(job.seed)``."""
    args = dict(job.args)
    if job.cls.needs_train_classes:
        args["n_train_classes"] = int(job.class_emb.shape[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(job.seed))
        try:
            return job.cls(**job.dims, **args)
        except (ValueError, TypeError, RuntimeError) as e:  # a value the method's layers refuse
            raise ZslError(f"method {job.cls.name!r} cannot be built with arguments {job.args}: {e}",
                           hint="check the --arg values (see docs/methods.md)") from None


def train_jobs(jobs: list[Job], device: str = "cpu", batched: bool = True,
               tolerate_divergence: bool = False) -> list[Outcome]:
    """Train every job; batched where the method has a kernel (and ``batched``), else one at a time.

    A model whose loss stops being finite raises a ZslError, or with ``tolerate_divergence`` gets an Outcome
    with ``error`` set (a grid's setting is then left out of the selection)."""
    from zsltool.train.kernels import KERNELS
    from zsltool.train.schedule import has_schedule

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


# -- validation ------------------------------------------------------------------------------------------
def metric_of(scores: np.ndarray, job: Job) -> dict:
    """``{metric: value}`` of validation scores (N, C_val) (``val_hm`` also records its beta)."""
    labels = job.val.labels
    if job.metric == "val_hm":
        from zsltool.evaluate.metrics import best_calibrated_hm

        hm, beta = best_calibrated_hm(scores, labels, job.val_seen_mask)
        return {"val_hm": hm, "val_beta": beta}
    correct = scores.argmax(1) == labels
    if job.metric == "val_seen_mca":
        return {job.metric: float(np.mean([correct[labels == c].mean() for c in np.unique(labels)]))}
    return {job.metric: float(correct.mean())}


def _validate_single(model, job: Job, device: str) -> dict:
    from zsltool.train.data import compute_scores

    return metric_of(compute_scores(model, job.val_class_emb, job.val, device=device), job)


def epoch_line(rec: dict, epoch: int, epochs: int, improved: bool, name: str = "") -> str:
    parts = ([name] if name else []) + [f"epoch {epoch}/{epochs}"]
    parts += [f"{k[5:]} {v:.4f}" for k, v in rec.items() if k.startswith("loss_")]
    parts += [f"{k} {v:.4f}" for k, v in rec.items() if k.startswith("val_") and isinstance(v, float)]
    return "  ".join(parts) + ("  *" if improved else "")


class BestKeeper:
    """Best-epoch bookkeeping of one model (higher validation metric wins; ``none`` keeps the last)."""

    def __init__(self, metric: str, patience: int | None):
        self.metric, self.patience = metric, patience
        self.value, self.epoch, self.since = None, 0, 0
        self.snapshot: Any = None

    def consider(self, epoch: int, value: float | None, snap) -> bool:
        better = (self.snapshot is None or self.metric == "none"
                  or (value is not None and (self.value is None or value > self.value)))
        if better:
            self.value, self.epoch, self.since = value, epoch, 0
            self.snapshot = snap()
        else:
            self.since += 1
        return better

    @property
    def stop(self) -> bool:
        return bool(self.patience) and self.since >= int(self.patience)


# -- shared by the kernels' loops ------------------------------------------------------------------------
def divergence(loss: float, job: Job, epoch: int, tolerate: bool, bar) -> ZslError | None:
    """None while ``loss`` is finite; else the divergence error, raised (after closing ``bar``) unless
    ``tolerate`` (the caller then marks the model failed)."""
    if np.isfinite(loss):
        return None
    if not tolerate:
        bar.close()
        raise diverged(job, epoch)
    return diverged(job, epoch)


def patience_out(keeper: BestKeeper, job: Job, epoch: int) -> bool:
    """Whether the model's patience has run out (logged)."""
    if keeper.stop:
        log.info(f"{job.name + ': ' if job.name else ''}early stop at epoch {epoch}: "
                 f"no improvement for {keeper.since} epochs")
    return keeper.stop


def outcomes(jobs: list[Job], models: list, keepers: list[BestKeeper], histories: list[list[dict]],
             errors: dict, state_of) -> list[Outcome]:
    """One Outcome per job: its failure, or its model with the best epoch's state loaded
    (``state_of(g, snapshot) -> (state_dict, optimizer state)``)."""
    out = []
    for g, m in enumerate(models):
        if g in errors:
            out.append(failed(jobs[g], errors[g]))
            continue
        sd, opt = state_of(g, keepers[g].snapshot)
        m.load_state_dict(sd)
        m.eval()
        out.append(Outcome(model=m, state=sd, optimizer=opt, best_value=keepers[g].value,
                           best_epoch=keepers[g].epoch, history=histories[g], hyper=jobs[g].hyper))
    return out


# -- the lean single-model loop ----------------------------------------------------------------------------
def _tensors(inst, device: str) -> dict:
    t = {"audio": torch.as_tensor(inst.audio, device=device),
         "audio_valid": torch.as_tensor(inst.audio_valid, device=device),
         "labels": torch.as_tensor(inst.labels, device=device)}
    if inst.video is not None:
        t["video"] = torch.as_tensor(inst.video, device=device)
        t["video_valid"] = torch.as_tensor(inst.video_valid, device=device)
    return t


def scaled_data(job: Job, model, device: str) -> tuple[dict, torch.Tensor]:
    """The job's training tensors and class embeddings after the model's feature scaling (``zscore`` statistics
    fitted on the training rows, ``l2_classes``, ``center_classes`` on the training classes); the same scaling
    every scoring path applies."""
    data = _tensors(job.train, device)
    model.fit_scaling(data["audio"], data["audio_valid"], data.get("video"), data.get("video_valid"),
                      class_emb=torch.as_tensor(job.class_emb, device=device))
    data["audio"] = model.prep_audio(data["audio"])
    if "video" in data:
        data["video"] = model.prep_video(data["video"])
    return data, model.prep_classes(torch.as_tensor(job.class_emb, device=device))


def make_optimizer(params, hyper: dict, device: str = "cpu", fused: bool = True):
    """torch.optim SGD / Adam for ``hyper``, with torch's fused kernel (one kernel per step for all parameters,
    CPU and CUDA; it copies a gradient that is not contiguous), else (or with ``fused=False``) the foreach one."""
    params = [p for p in params if p.requires_grad]
    lr, wd = float(hyper["lr"]), float(hyper.get("weight_decay") or 0.0)
    if hyper["optimizer"] == "adam":
        cls, kw = torch.optim.Adam, {"lr": lr, "weight_decay": wd}
    else:
        cls, kw = torch.optim.SGD, {"lr": lr, "momentum": float(hyper.get("momentum") or 0.0), "weight_decay": wd}
    for impl in ({"fused": True} if fused else {}, {"foreach": True}, {}):
        try:
            return cls(params, **kw, **impl)
        except (RuntimeError, TypeError, ValueError):  # pragma: no cover - a torch or device without it
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _state_copy(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_single(job: Job, model, device: str = "cpu") -> Outcome:
    """One model, one at a time: closed form, or mini-batch gradient descent with the method's ``loss``.

    The loop is lean: the epoch's permutation is one tensor, batches are tensor slices of features held on
    the device, loss terms are summed as tensors and read once per epoch."""
    from zsltool.runtime.progress import Progress
    from zsltool.train.schedule import LrSchedule
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
            rec.update(_validate_single(model, job, device))
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
                rec.update(_validate_single(model, job, device))
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
