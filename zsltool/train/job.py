"""A model to train (:class:`Job`), what its training yields (:class:`Outcome`), and what every engine shares:
the model built from the job's seed, its draws generator, its scaled training data, the optimiser, validation,
best-epoch bookkeeping and divergence. The lean single-model loop (``zsltool.train.engine``) and the batched
kernel (``zsltool.train.functional``) both train from these.

Validation (model selection), per epoch and per model:

* ``val_top1``: top-1 accuracy on the validation instances, ranked among the validation classes (ZSL).
* ``val_seen_mca``: mean per-class accuracy on the seen validation instances among the seen classes (GZSL).
* ``none``: no validation data; the last epoch is kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from zsltool.errors import ZslError
from zsltool.scores.metrics import best_calibrated_hm
from zsltool.train.data import compute_scores

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


# -- validation ------------------------------------------------------------------------------------------
def metric_of(scores: np.ndarray, job: Job) -> dict:
    """``{metric: value}`` of validation scores (N, C_val) (``val_hm`` also records its beta)."""
    labels = job.val.labels
    if job.metric == "val_hm":
        hm, beta = best_calibrated_hm(scores, labels, job.val_seen_mask)
        return {"val_hm": hm, "val_beta": beta}
    correct = scores.argmax(1) == labels
    if job.metric == "val_seen_mca":
        return {job.metric: float(np.mean([correct[labels == c].mean() for c in np.unique(labels)]))}
    return {job.metric: float(correct.mean())}


def validate(model, job: Job, device: str) -> dict:
    """The job's validation metric (``metric_of``) of one model, scored on its validation rows."""
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


# -- data and optimiser -----------------------------------------------------------------------------------
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
