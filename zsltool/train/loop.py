"""Training from files: ``train(config) -> TrainResult`` (``zsl train``).

``prepare`` loads and checks the inputs; ``grid_jobs`` makes one engine job per setting of the grid (one
without a grid); the engine (``zsltool.train.engine``) trains them, batched where the method allows: per
epoch shuffled mini-batches (seeded), the method's loss terms, validation, best-epoch keeping and optional
early stopping; ``choose`` keeps the best setting and ``write_checkpoint`` saves it. Validation (model
selection):

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

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from zsltool.classes.splits import load_split
from zsltool.errors import ZslError
from zsltool.files.checks import check_output
from zsltool.methods.base import get_method
from zsltool.runtime.env import resolve_device
from zsltool.scores.temperature import calibrate, fallback_record
from zsltool.train.checkpoint import new_checkpoint, provenance_of, save_checkpoint
from zsltool.train.config import TrainConfig, setting_problem
from zsltool.train.data import InstanceSet, check_split_class_set, compute_scores, load_inputs, select_instances
from zsltool.train.engine import train_jobs
from zsltool.train.job import Job, Outcome

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
    warnings: list = field(default_factory=list)   # validity issues (zsltool.runtime.guards)
    # the checkpoint as written (its "path" set, no optimizer state): evaluation uses it instead of reloading
    ckpt: dict | None = field(default=None, repr=False, compare=False)

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
    warnings: list = field(default_factory=list)   # validity issues (zsltool.runtime.guards)
    input_args: dict = field(default_factory=dict)   # method arguments read from the files (args_from_inputs)


def _resolve_hyper(cls, config: TrainConfig, overrides: dict | None = None, preset: dict | None = None) -> dict:
    """Training settings: the method's defaults < a preset's (``preset``) < the config's < ``overrides`` (a grid
    setting's); a replayed ``lr_schedule`` is kept."""
    h = {**cls.train_defaults, **(preset or {})}
    if config.lr_schedule:
        h["lr_schedule"] = [float(x) for x in config.lr_schedule]
    for k in ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "momentum"):
        v = (overrides or {}).get(k, getattr(config, k))
        if v is not None:
            h[k] = v
    for k in ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "momentum"):
        problem = setting_problem(k, h[k])
        if problem:
            raise ZslError(f"--{k.replace('_', '-')} {problem}, got {h[k]!r}",
                           hint=f"the method's default is {cls.train_defaults[k]!r}")
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
    from zsltool.runtime.guards import network_leakage, report

    files = {"audio": inputs.audio, "video": inputs.video}
    files.update({f"{inputs.semantic.name} ({e.path.name if e.path else 'class file'})": e for e in inputs.semantic.files})
    warnings = report(network_leakage(files, trial, config.trial), config.strict,
                      hint="use a network trained on this trial's training (GZSL: seen) classes only")
    if cls.requires_video and inputs.video is None:
        raise ZslError(f"method {cls.name!r} needs a video embedding file", hint="pass --video FILE")
    input_args = cls.args_from_inputs(inputs)
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

    def rows(classes, ids):  # the usable rows of ``classes`` (restricted to ``ids``), None when there are none
        s = select_instances(inputs, classes, ids=ids, modalities=mods)
        return s if len(s) else None

    train_set = rows(train_classes, train_ids)
    if train_set is None:
        raise ZslError(f"no usable training instances: no valid row of {inputs.audio.path} has a single label "
                       f"among the {len(train_classes)} training classes of trial {config.trial}",
                       hint="check that the split and the embedding file come from the same class set")
    if len(set(train_set.labels.tolist())) < 2:
        raise ZslError("training needs instances of at least 2 classes", hint="use a split with more classes")
    val_set = rows(val_classes, val_ids) if val_classes and (val_ids is None or val_ids) else None
    if val_set is None:
        metric = "none"
        log.warning("no validation instances: keeping the last epoch")
    seen_mask = None
    if metric == "val_hm":
        seen_mask = np.array([c in set(trial.seen) for c in val_classes])
        ys = seen_mask[val_set.labels]
        if ys.all() or not ys.any():
            val_classes, seen_mask = list(trial.seen), None
            val_set = rows(val_classes, list(trial.instances.get("val") or []))
            metric = "none" if val_set is None else "val_seen_mca"
    return Prepared(inputs=inputs, trial=trial, cls=cls, train_set=train_set, val_set=val_set,
                    train_classes=train_classes, val_classes=val_classes,
                    train_class_emb=inputs.semantic.matrix(train_classes),
                    val_class_emb=inputs.semantic.matrix(val_classes) if val_set is not None else None,
                    metric=metric, video_dim=video_dim, val_seen_mask=seen_mask,
                    hyper=_resolve_hyper(cls, config, preset=cls.preset_settings(config.preset)["train"]),
                    warnings=warnings, input_args=input_args)


def make_job(prep: Prepared, config: TrainConfig, name: str = "", hyper: dict | None = None,
             method_args: dict | None = None) -> Job:
    """The engine's job for one prepared training run (one setting: ``hyper`` and ``method_args``)."""
    dims = {"audio_dim": prep.inputs.audio.dim, "semantic_dim": prep.inputs.semantic.dim, "video_dim": prep.video_dim}
    args = {**prep.input_args, **(config.method_args if method_args is None else method_args)}
    return Job(cls=prep.cls, args=args, dims=dims,
               hyper=prep.hyper if hyper is None else hyper, seed=int(config.seed), train=prep.train_set,
               class_emb=prep.train_class_emb, val=prep.val_set, val_class_emb=prep.val_class_emb,
               metric=prep.metric, patience=config.patience, log_every=config.log_every, name=name,
               val_seen_mask=prep.val_seen_mask)


def grid_jobs(prep: Prepared, config: TrainConfig, name: str = "") -> tuple[list[dict], list[Job]]:
    """The settings of ``config.grid`` for this method (one without a grid) and one job per setting."""
    from zsltool.train.grid import check_grid, setting_label, settings_for

    cls = prep.cls
    if config.grid:
        check_grid(config.grid, [cls.name])
        if prep.metric == "none":
            raise ZslError("--grid chooses settings on validation data, but this trial has none",
                           hint="use a split with validation classes (e.g. --val-folds 1) or validation rows")
    settings = settings_for(config.grid, cls) if config.grid else [{"train": {}, "args": {}}]
    jobs = []
    for st in settings:
        pre = cls.preset_settings(st.get("preset", config.preset))  # a grid's preset axis, else --preset
        hyper = _resolve_hyper(cls, config, st["train"], pre["train"])
        label = f"{name} {setting_label(st)}".strip() if len(settings) > 1 else name
        jobs.append(make_job(prep, config, name=label, hyper=hyper,
                             method_args={**pre["args"], **config.method_args, **st["args"]}))
    return settings, jobs


def choose(prep: Prepared, config: TrainConfig, settings: list[dict], outcomes: list[Outcome]):
    """The setting whose best epoch has the highest validation value (ties: the first), and the selection
    record (None without a grid). Diverged settings are left out; all diverged is a ZslError."""
    from zsltool.train.grid import setting_label, setting_values

    chosen, chosen_setting, candidates = None, None, []
    for st, f in zip(settings, outcomes):
        if f.error and len(settings) > 1:
            log.warning(f"setting {setting_label(st)}: {f.error}; left out of the selection")
        candidates.append({"setting": setting_values(st), "label": setting_label(st),
                           "best_epoch": f.best_epoch, "value": f.best_value,
                           **({"error": f.error} if f.error else {})})
        if f.error:
            continue
        if chosen is None or (f.best_value is not None and (chosen.best_value is None or
                                                           f.best_value > chosen.best_value)):
            chosen, chosen_setting = f, st
    if chosen is None:
        raise ZslError("every setting of the grid diverged", hint="lower the learning rates of the grid")
    selection = None
    if config.grid:
        selection = {"metric": prep.metric, "chosen": setting_values(chosen_setting),
                     "label": setting_label(chosen_setting), "epoch": chosen.best_epoch,
                     "value": chosen.best_value, "candidates": candidates}
        log.info(f"chosen on validation ({prep.metric}): {selection['label']} at epoch {selection['epoch']} "
                 f"({prep.metric} = {selection['value']})")
    return chosen, selection


def calibrate_model(model, prep, device: str = "cpu") -> dict:
    """``calibrate`` on a trained model's validation rows; a fallback record when there are none. The training
    rows are never used: a zero-shot model's scores on its training classes are not its scores on new ones.
    A training-free method (``cosine``) keeps temperature 1: its scores carry the encoder's own logit scale."""
    if getattr(model, "training_free", False):
        return {"temperature": 1.0, "on": "none", "rows": 0, "source": "the method's own scale (the encoder's "
                "logit scale; not fitted)", "method": "none: softmax of the training-free method's scores"}
    if prep.val_set is None or not len(prep.val_set) or len(prep.val_classes) < 2:
        return fallback_record("no validation rows (the training rows are not used: a zero-shot model's scores "
                               "on its training classes are sharper than on new ones)")
    s = compute_scores(model, prep.val_class_emb, prep.val_set, device=device)
    # GZSL without unseen validation rows: held-out rows of the (trained) seen classes only
    seen_only = prep.trial.is_gzsl and prep.val_seen_mask is None
    return calibrate(s, prep.val_set.labels, "seen-class validation" if seen_only else "validation")


def write_checkpoint(prep: Prepared, config: TrainConfig, res: Outcome, out: Path, selection: dict | None = None,
                     device: str = "cpu") -> TrainResult:
    """Save the best epoch of ``res`` as a self-describing checkpoint at ``out``."""
    model = res.model
    sem = prep.inputs.semantic
    valid_ids = [c for c, ok in zip(sem.ids, sem.valid) if ok]
    trial = prep.trial
    classes = {"train": prep.train_classes, "val": prep.val_classes, "test": list(trial.test)}
    if trial.is_gzsl:
        classes.update(seen=list(trial.seen), unseen=list(trial.unseen))
    model.to(device)
    ckpt = new_checkpoint(
        calibration=calibrate_model(model, prep, device),  # zsl classify's probabilities
        provenance=provenance_of(prep.inputs), method=prep.cls.name, method_args=model.method_args(),
        state_dict=res.state, optimizer=res.optimizer, inputs=prep.inputs.input_records(),
        config=config.to_dict() | {"resolved": res.hyper} | ({"selection": selection} if selection else {})
        | ({"warnings": prep.warnings} if prep.warnings else {}),
        class_set_sha256=prep.inputs.class_set_sha256, classes=classes,
        semantic={"ids": valid_ids, "embeddings": torch.as_tensor(sem.matrix(valid_ids))},
        best={"metric": prep.metric, "value": res.best_value, "epoch": res.best_epoch}, history=res.history)
    save_checkpoint(out, ckpt)
    log.info(f"wrote {out} (best epoch {res.best_epoch}, {prep.metric} = {res.best_value})")
    loaded = {**ckpt, "optimizer": None, "path": str(out)}  # what load_checkpoint(out) gives, less the optimizer
    return TrainResult(checkpoint=out, method=prep.cls.name, best_metric=prep.metric, best_value=res.best_value,
                       best_epoch=res.best_epoch, epochs_run=len(res.history), history=res.history,
                       n_train=len(prep.train_set), n_val=0 if prep.val_set is None else len(prep.val_set),
                       selection=selection, warnings=prep.warnings, ckpt=loaded)


def train(config: TrainConfig) -> TrainResult:
    """Train one method on one split trial and write the best epoch's checkpoint to ``config.out``.

    With ``config.grid`` every setting of the grid is trained (as one batch where the method allows) and the
    one with the best validation value (at its best epoch) is kept; the checkpoint and the result record every
    candidate (``selection``)."""
    out = check_output(config.out, config.overwrite)
    if config.threads:
        torch.set_num_threads(int(config.threads))
    device = resolve_device(config.device)
    prep = prepare(config)
    settings, jobs = grid_jobs(prep, config)
    outcomes = train_jobs(jobs, device=device, tolerate_divergence=len(jobs) > 1)
    chosen, selection = choose(prep, config, settings, outcomes)
    return write_checkpoint(prep, config, chosen, out, selection, device=device)
