"""The training loop: ``train(config) -> TrainResult``.

Per epoch: shuffled mini-batches (seeded), the method's loss terms, validation, best-epoch keeping and optional
early stopping. Validation (model selection):

* ZSL trials: ``val_top1`` = top-1 accuracy on instances of the ``val`` classes, ranked among the ``val``
  classes only.
* GZSL trials with unseen validation rows (``instances.val_unseen``, ``zsl split --unseen-val-fraction``):
  ``val_hm`` = the harmonic mean of S and U on ``instances.val`` + ``instances.val_unseen`` ranked among seen +
  unseen classes, after calibrated stacking with the beta that is best on those same rows (the calibrated HM
  that is reported, measured on validation rows only).
* Other GZSL trials: ``val_seen_mca`` = mean per-class accuracy on ``instances.val`` ranked among the seen
  classes (unseen classes are never looked at during training); a log line says so.
* No validation data: the last epoch is kept (metric ``none``).
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from zsltool.classes.splits import load_split
from zsltool.errors import ZslError
from zsltool.methods.base import get_method
from zsltool.progress import Progress
from zsltool.train.checkpoint import new_checkpoint, save_checkpoint
from zsltool.train.config import OPTIMIZERS, TrainConfig
from zsltool.train.data import (InstanceSet, check_split_class_set, compute_scores, load_inputs,
                                select_instances)
from zsltool.utils import check_output, resolve_device, seed_everything

log = logging.getLogger("zsltool.train")


@dataclass
class TrainResult:
    checkpoint: Path
    method: str
    best_metric: str
    best_value: float | None
    best_epoch: int
    epochs_run: int
    history: list[dict] = field(default_factory=list)
    n_train: int = 0
    n_val: int = 0
    selection: dict | None = None
    warnings: list = field(default_factory=list)

    def summary(self) -> dict:
        last = self.history[-1] if self.history else {}
        return {**({"chosen": self.selection["label"]} if self.selection else {}),
                **({"warnings": self.warnings} if self.warnings else {}), "out": str(self.checkpoint), "method": self.method, "best_metric": self.best_metric,
                "best_value": self.best_value, "best_epoch": self.best_epoch, "epochs_run": self.epochs_run,
                "n_train_instances": self.n_train, "n_val_instances": self.n_val,
                "last_epoch": last}


@dataclass
class Prepared:
    """Everything checked and assembled before the first epoch."""

    inputs: object
    trial: object
    cls: type
    train_set: InstanceSet
    val_set: InstanceSet | None
    train_classes: list[str]
    val_classes: list[str]
    train_class_emb: np.ndarray
    val_class_emb: np.ndarray | None
    metric: str
    hyper: dict
    video_dim: int | None
    val_seen_mask: np.ndarray | None = None   # val_hm: which val_classes are seen
    warnings: list = field(default_factory=list)   # validity issues (zsltool.guards)


def _resolve_hyper(cls, config: TrainConfig, overrides: dict | None = None) -> dict:
    h = dict(cls.train_defaults)
    for k in ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "momentum"):
        v = (overrides or {}).get(k, getattr(config, k))
        if v is not None:
            h[k] = v
    if h["optimizer"] not in OPTIMIZERS:
        raise ZslError(f"unknown optimizer {h['optimizer']!r}", hint="use sgd or adam")
    if int(h["epochs"]) < 1 or int(h["batch_size"]) < 1:
        raise ZslError("epochs and batch size must be at least 1")
    for k, opt, positive in (("lr", "--lr", True), ("weight_decay", "--weight-decay", False),
                             ("momentum", "--momentum", False)):
        v = h.get(k)
        if v is None:
            continue
        v = float(v)
        if not math.isfinite(v) or v < 0 or (positive and v == 0):
            raise ZslError(f"{opt} must be a finite number {'above' if positive else 'of at least'} 0, got {v}")
    return h


def prepare(config: TrainConfig) -> Prepared:
    """Load and check every input; raise one clear ZslError before any training."""
    cls = get_method(config.method)
    split = load_split(config.split)
    trial = split.trial(config.trial)
    inputs = load_inputs(audio=config.audio, video=config.video, semantic=config.semantic, text=config.text,
                         image=config.image, audio_prototypes=config.audio_prototypes,
                         semantic_file=config.semantic_file, split=config.split)
    check_split_class_set(inputs, split)
    from zsltool.guards import network_leakage, report

    files = {"audio": inputs.audio, "video": inputs.video}
    files.update({f"{inputs.semantic.name} ({e.path.name if e.path else 'class file'})": e for e in inputs.semantic.files})
    warnings = report(network_leakage(files, trial, config.trial), config.strict,
                      hint="use a network trained on this trial's training (GZSL: seen) classes only")
    if cls.requires_video and inputs.video is None:
        raise ZslError(f"method {cls.name!r} needs a video embedding file", hint="pass --video FILE")
    video_dim = inputs.video.dim if inputs.video is not None and "video" in cls.modalities else None
    mods = tuple(m for m in cls.modalities if m == "audio" or video_dim)
    if trial.is_gzsl:
        train_classes, val_classes = list(trial.seen), list(trial.seen)
        all_classes = list(trial.seen) + list(trial.unseen)
        train_ids, val_ids = trial.instances.get("train"), list(trial.instances.get("val") or [])
        held = list(trial.instances.get("val_unseen") or [])
        if not train_ids:
            raise ZslError(f"gzsl trial {config.trial} of {config.split} lists no training instances "
                           "(instances.train); training on every seen instance would include the test-seen ones",
                           hint="make the split with zsl split --protocol gzsl --instances ...")
        metric = "val_seen_mca"
        if held and val_ids:
            val_classes, val_ids, metric = all_classes, val_ids + held, "val_hm"
        else:
            log.info("validation metric: seen-class accuracy (val_seen_mca); the split has no unseen validation "
                     "rows (zsl split --protocol gzsl --unseen-val-fraction F adds them for validation HM)")
    else:
        train_classes, val_classes = list(trial.train), list(trial.val)
        all_classes = list(trial.train) + list(trial.val) + list(trial.test)
        train_ids, val_ids, metric = None, None, "val_top1"
    inputs.semantic.matrix(all_classes)  # every class of the trial needs a valid semantic embedding
    train_set = select_instances(inputs, train_classes, ids=train_ids, modalities=mods)
    if len(train_set) == 0:
        raise ZslError(f"no usable training instances: no valid row of {inputs.audio.path} has a single label "
                       f"among the {len(train_classes)} training classes of trial {config.trial}",
                       hint="check that the split and the embedding file come from the same class set")
    if len(set(train_set.labels.tolist())) < 2:
        raise ZslError("training needs instances of at least 2 classes", hint="use a split with more classes")
    val_set = None
    if val_classes and (val_ids is None or val_ids):
        val_set = select_instances(inputs, val_classes, ids=val_ids, modalities=mods)
        if len(val_set) == 0:
            val_set = None
    if val_set is None:
        metric = "none"
        log.warning("no validation instances: keeping the last epoch")
    seen_mask = None
    if metric == "val_hm":
        seen_mask = np.array([c in set(trial.seen) for c in val_classes])
        ys = seen_mask[val_set.labels]
        if ys.all() or not ys.any():
            metric, seen_mask = "val_seen_mca", None
            val_classes = list(trial.seen)
            val_set = select_instances(inputs, val_classes, ids=list(trial.instances.get("val") or []),
                                       modalities=mods)
            val_set = val_set if len(val_set) else None
            metric = "none" if val_set is None else metric
    return Prepared(inputs=inputs, trial=trial, cls=cls, train_set=train_set, val_set=val_set,
                    train_classes=train_classes, val_classes=val_classes,
                    train_class_emb=inputs.semantic.matrix(train_classes),
                    val_class_emb=inputs.semantic.matrix(val_classes) if val_set is not None else None,
                    metric=metric, hyper=_resolve_hyper(cls, config), video_dim=video_dim, val_seen_mask=seen_mask,
                    warnings=warnings)


def validate_prepared(model, prep: Prepared, device: str = "cpu") -> dict:
    """``{metric: value}`` on the prepared validation rows (``val_hm`` also records its beta)."""
    if prep.metric == "val_hm":
        from zsltool.evaluate.metrics import best_calibrated_hm

        s = compute_scores(model, prep.val_class_emb, prep.val_set, device=device)
        hm, beta = best_calibrated_hm(s, prep.val_set.labels, prep.val_seen_mask)
        return {"val_hm": hm, "val_beta": beta}
    return {prep.metric: validate(model, prep.val_class_emb, prep.val_set, prep.metric, device=device)}


def validate(model, class_emb: np.ndarray, inst: InstanceSet, metric: str, device: str = "cpu") -> float:
    s = compute_scores(model, class_emb, inst, device=device)
    pred = s.argmax(1)
    correct = pred == inst.labels
    if metric == "val_seen_mca":
        per = [correct[inst.labels == c].mean() for c in np.unique(inst.labels)]
        return float(np.mean(per))
    return float(correct.mean())


def _tensors(inst: InstanceSet, device: str) -> dict:
    t = {"audio": torch.as_tensor(inst.audio, device=device),
         "audio_valid": torch.as_tensor(inst.audio_valid, device=device),
         "labels": torch.as_tensor(inst.labels, device=device)}
    if inst.video is not None:
        t["video"] = torch.as_tensor(inst.video, device=device)
        t["video_valid"] = torch.as_tensor(inst.video_valid, device=device)
    return t


def _optimizer(model, hyper: dict):
    params = [p for p in model.parameters() if p.requires_grad]
    if hyper["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=float(hyper["lr"]), weight_decay=float(hyper["weight_decay"]))
    return torch.optim.SGD(params, lr=float(hyper["lr"]), momentum=float(hyper["momentum"]),
                           weight_decay=float(hyper["weight_decay"]))


def _state_copy(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@dataclass
class Fit:
    """One trained setting: the model, its best epoch (by the validation metric) and its history."""

    model: object
    best: dict
    history: list
    hyper: dict
    method_args: dict


def fit(prep: Prepared, config: TrainConfig, hyper: dict, method_args: dict, device: str) -> Fit:
    """Train one setting (``hyper`` + ``method_args``) on the prepared data; keep its best epoch's state."""
    seed_everything(config.seed)
    cls = prep.cls
    user_args = dict(method_args)
    method_args = dict(method_args)
    if cls.needs_train_classes:
        method_args["n_train_classes"] = len(prep.train_classes)
    try:
        model = cls(audio_dim=prep.inputs.audio.dim, semantic_dim=prep.inputs.semantic.dim,
                    video_dim=prep.video_dim, **method_args)
    except (ValueError, TypeError, RuntimeError) as e:  # a value the method's layers refuse
        raise ZslError(f"method {cls.name!r} cannot be built with arguments {user_args}: {e}",
                       hint="check the --arg values (see docs/methods.md)") from None
    model = model.to(device)
    data = _tensors(prep.train_set, device)
    model.fit_scaling(data["audio"], data["audio_valid"], data.get("video"), data.get("video_valid"))
    data["audio"] = model.prep_audio(data["audio"])
    if "video" in data:
        data["video"] = model.prep_video(data["video"])
    class_emb = model.prep_classes(torch.as_tensor(prep.train_class_emb, device=device))
    if cls.needs_train_classes:
        model.set_train_classes(class_emb)
    n = len(prep.train_set)
    history: list[dict] = []
    best = {"value": None, "epoch": 0, "state": None, "opt": None}
    higher = prep.metric != "none"

    def consider(epoch: int, record: dict, opt_state):
        val = record.get(prep.metric)
        if best["state"] is None or not higher or (val is not None and val > best["value"]):
            best.update(value=val, epoch=epoch, state=_state_copy(model),
                        opt=copy.deepcopy(opt_state) if opt_state is not None else None)
            return True
        return False

    def val_record(rec: dict) -> None:
        if prep.val_set is not None:
            rec.update(validate_prepared(model, prep, device))

    if cls.closed_form:
        model.train()
        model.fit_closed_form(data["audio"], class_emb[data["labels"]], data["labels"], class_emb,
                              video=data.get("video"), audio_valid=data["audio_valid"],
                              video_valid=data.get("video_valid"))
        rec = {"epoch": 1}
        val_record(rec)
        history.append(rec)
        consider(1, rec, None)
        log.debug(_line(rec, 1, 1, True))
    else:
        optimizer = _optimizer(model, hyper)
        gen = torch.Generator().manual_seed(int(config.seed))
        bs, epochs = int(hyper["batch_size"]), int(hyper["epochs"])
        since_best = 0
        # a bar on a terminal, a timed line in a log (zsltool.progress); per-epoch lines only with -v (debug)
        bar = Progress(total=epochs, desc=f"train {config.method}", unit="epoch",
                       enabled=log.isEnabledFor(logging.INFO))
        for epoch in range(1, epochs + 1):
            model.train()
            perm = torch.randperm(n, generator=gen)
            sums: dict[str, float] = {}
            steps = 0
            for s in range(0, n, bs):
                idx = perm[s:s + bs].to(device)
                batch = {k: v[idx] for k, v in data.items()}
                batch["class_emb"] = class_emb
                batch["semantic"] = class_emb[batch["labels"]]
                batch.setdefault("video", None)
                terms = model.loss(batch)
                optimizer.zero_grad(set_to_none=True)
                terms["total"].backward()
                optimizer.step()
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                steps += 1
            rec = {"epoch": epoch, **{f"loss_{k}": v / max(steps, 1) for k, v in sums.items()}}
            if not np.isfinite(rec.get("loss_total", 0.0)):
                raise ZslError(f"training diverged at epoch {epoch} (loss is not finite)",
                               hint="lower --lr, or standardize the features (--arg zscore=true)")
            val_record(rec)
            history.append(rec)
            improved = consider(epoch, rec, optimizer.state_dict())
            since_best = 0 if improved else since_best + 1
            bar.update(1)
            if epoch == 1 or epoch == epochs or epoch % max(1, config.log_every) == 0:
                log.debug(_line(rec, epoch, epochs, improved))
            if config.patience and since_best >= config.patience:
                log.info(f"early stop at epoch {epoch}: no improvement for {since_best} epochs")
                break
        bar.close()
    return Fit(model=model, best=best, history=history, hyper=hyper, method_args=user_args)


def _diverged_fit(e: ZslError, hyper: dict, method_args: dict) -> Fit:
    return Fit(model=None, best={"value": None, "epoch": 0, "state": None, "opt": None, "error": e.message},
               history=[], hyper=hyper, method_args=method_args)


def train(config: TrainConfig) -> TrainResult:
    """Train one method on one split trial and write the best epoch's checkpoint to ``config.out``.

    With ``config.grid`` every setting of the grid is trained and the one with the best validation value
    (at its best epoch) is kept; the checkpoint and the result record every candidate (``selection``)."""
    from zsltool.train.grid import check_grid, setting_label, settings_for

    out = check_output(config.out, config.overwrite)
    if config.threads:
        torch.set_num_threads(int(config.threads))
    device = resolve_device(config.device)
    prep = prepare(config)
    cls = prep.cls
    settings = settings_for(config.grid, cls) if config.grid else [{"train": {}, "args": {}}]
    selection = None
    if config.grid:
        check_grid(config.grid, [cls.name])
        if prep.metric == "none":
            raise ZslError("--grid chooses settings on validation data, but this trial has none",
                           hint="use a split with validation classes (e.g. --val-folds 1) or validation rows")
    chosen, candidates = None, []
    for n, st in enumerate(settings, 1):
        hyper = _resolve_hyper(cls, config, st["train"])
        margs = {**cls.preset_args(config.preset), **config.method_args, **st["args"]}
        if len(settings) > 1:
            log.info(f"setting {n}/{len(settings)}: {setting_label(st)}")
        try:
            f = fit(prep, config, hyper, margs, device)
        except ZslError as e:
            if len(settings) == 1 or "diverged" not in e.message:
                raise
            log.warning(f"setting {setting_label(st)}: {e.message}; left out of the selection")
            f = _diverged_fit(e, hyper, margs)
        candidates.append({"setting": {**st["train"], **st["args"]}, "label": setting_label(st),
                           "best_epoch": f.best["epoch"], "value": f.best["value"],
                           **({"error": f.best["error"]} if "error" in f.best else {})})
        if f.model is not None and (chosen is None or (f.best["value"] is not None and
                                                       (chosen.best["value"] is None or
                                                        f.best["value"] > chosen.best["value"]))):
            chosen, chosen_setting = f, st
        elif f.model is not None:
            del f
    if chosen is None:
        raise ZslError("every setting of the grid diverged", hint="lower the learning rates of the grid")
    if config.grid:
        selection = {"metric": prep.metric, "chosen": {**chosen_setting["train"], **chosen_setting["args"]},
                     "label": setting_label(chosen_setting), "epoch": chosen.best["epoch"],
                     "value": chosen.best["value"], "candidates": candidates}
        log.info(f"chosen on validation ({prep.metric}): {selection['label']} at epoch {selection['epoch']} "
                 f"({prep.metric} = {selection['value']})")
    model, best, history, hyper = chosen.model, chosen.best, chosen.history, chosen.hyper
    model.load_state_dict(best["state"])
    sem = prep.inputs.semantic
    valid_ids = [c for c, ok in zip(sem.ids, sem.valid) if ok]
    trial = prep.trial
    classes = {"train": prep.train_classes, "val": prep.val_classes, "test": list(trial.test)}
    if trial.is_gzsl:
        classes.update(seen=list(trial.seen), unseen=list(trial.unseen))
    from zsltool.classify_calibrate import calibrate_model, provenance_of

    ckpt_extra = {"calibration": calibrate_model(model, prep, device),  # zsl classify's probabilities
                  "provenance": provenance_of(prep.inputs)}
    ckpt = new_checkpoint(
        **ckpt_extra,
        method=cls.name, method_args=model.method_args(), state_dict=best["state"], optimizer=best["opt"],
        config=config.to_dict() | {"resolved": hyper} | ({"selection": selection} if selection else {})
        | ({"warnings": prep.warnings} if prep.warnings else {}),
        inputs=prep.inputs.input_records(),
        class_set_sha256=prep.inputs.class_set_sha256, classes=classes,
        semantic={"ids": valid_ids, "embeddings": torch.as_tensor(sem.matrix(valid_ids))},
        best={"metric": prep.metric, "value": best["value"], "epoch": best["epoch"]}, history=history)
    save_checkpoint(out, ckpt)
    log.info(f"wrote {out} (best epoch {best['epoch']}, {prep.metric} = {best['value']})")
    return TrainResult(checkpoint=out, method=cls.name, best_metric=prep.metric, best_value=best["value"],
                       best_epoch=best["epoch"], epochs_run=len(history), history=history,
                       n_train=len(prep.train_set), n_val=0 if prep.val_set is None else len(prep.val_set),
                       selection=selection, warnings=prep.warnings)


def _line(rec: dict, epoch: int, epochs: int, improved: bool) -> str:
    parts = [f"epoch {epoch}/{epochs}"]
    parts += [f"{k[5:]} {v:.4f}" for k, v in rec.items() if k.startswith("loss_")]
    parts += [f"{k} {v:.4f}" for k, v in rec.items() if k.startswith("val_")]
    return "  ".join(parts) + ("  *" if improved else "")
