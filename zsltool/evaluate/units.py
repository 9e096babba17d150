"""Running the units of an experiment: one unit is one model trained and evaluated on one split trial (or, in
the two-stage protocol, one stage-1 model and its stage-2 retraining: :func:`run_stage2`, with the protocol's
pairs, checks and stage-2 config from ``zsltool.evaluate.two_stage``).

``run_units(units)`` trains every unit's models as one call of the training engine (models of a method family
with a batched kernel as one stacked computation, ``zsltool.train.engine``), writes each checkpoint, then
evaluates each from the model in memory (``TrainResult.ckpt``: no reload from disk) and writes its trial file
``trials/<name>.json``; ``finished_record`` reads a trial file back when its config hash matches.
It runs in-process or in a spawned worker process (``zsltool.evaluate.experiment``).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

from zsltool.errors import ZslError
from zsltool.evaluate.results import load_results, results_doc, write_results
from zsltool.evaluate.two_stage import HINT, refit_split, stage1_validation, stage2_config
from zsltool.evaluate.unit import Unit
from zsltool.files.provenance import jsonable

log = logging.getLogger("zsltool.evaluate.experiment")


def checkpoint_path(unit: Unit, suffix: str = "") -> Path:
    """``checkpoints/<name><suffix>.pt`` (the folder is made)."""
    ckpt = Path(unit.out_dir) / "checkpoints" / f"{unit.name}{suffix}.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    return ckpt


def unit_config(unit: Unit, suffix: str = ""):
    """The unit's ``TrainConfig`` (its checkpoint under ``checkpoints/``)."""
    from zsltool.train.config import TrainConfig

    return TrainConfig(out=str(checkpoint_path(unit, suffix)), overwrite=True, threads=unit.threads,
                       device=unit.device, strict=unit.strict, **unit.train.to_dict())


def train_configs(cfgs: list, names: list[str], batched: bool = True, device: str = "cpu") -> list:
    """Train every config (each with its grid) in one engine call, choose each one's setting and epoch on its
    validation data, and write each checkpoint; returns one ``TrainResult`` per config, in order."""
    from zsltool.train.engine import train_jobs
    from zsltool.train.loop import choose, grid_jobs, prepare, write_checkpoint
    from zsltool.files.checks import check_output

    preps = [prepare(c) for c in cfgs]
    grids = [grid_jobs(p, c, name=n) for p, c, n in zip(preps, cfgs, names)]  # (settings, jobs) per config
    jobs = [j for _, js in grids for j in js]
    from zsltool.train.kernels import batches_on

    n_batch = sum(1 for j in jobs if batches_on(j.cls, device)) if batched else 0
    log.info(f"training {len(jobs)} model(s)" + (f", {n_batch} of them batched" if n_batch > 1 else ""))
    results = train_jobs(jobs, device=device, batched=batched, tolerate_divergence=True)
    out, k = [], 0
    for name, p, c, (settings, js) in zip(names, preps, cfgs, grids):
        outs, k = results[k:k + len(js)], k + len(js)
        if len(js) == 1 and outs[0].error:
            raise ZslError(f"{name}: {outs[0].error}", hint="lower --lr, or standardize the features "
                           "(--arg zscore=true)")
        chosen, selection = choose(p, c, settings, outs)
        out.append(write_checkpoint(p, c, chosen, check_output(c.out, True), selection, device=device))
    return out


def _evaluate_modalities(unit: Unit, ckpt, betas: dict | None, transductive: str | None = None,
                         calibrate: bool = True):
    """({modality: metrics}, {modality: retrieval metrics}, {modality: results doc}) of one checkpoint (its path,
    or the checkpoint in memory) in one setting (inductive, or the transductive refiner ``transductive``: no
    retrieval rows then)."""
    from zsltool.evaluate.evaluate import evaluate_checkpoint, retrieve_checkpoint

    device = unit.device
    by_mod, retr, docs = {}, {}, {}
    for mod in unit.modalities:
        fixed = (betas or {}).get(mod)
        d = evaluate_checkpoint(ckpt, modality=mod, beta=fixed, seed=unit.train.seed, device=device,
                                calibrate=calibrate and fixed is None and unit.eval.calibrate
                                and unit.task == "gzsl",
                                transductive=transductive)
        docs[mod] = d
        by_mod[mod] = d["metrics"]
        if unit.task == "gzsl" and unit.eval.retrieval and not transductive:
            r = retrieve_checkpoint(ckpt, modality=mod, top=1, seed=unit.train.seed, device=device)
            retr[mod] = r["metrics"]
    return by_mod, retr, docs


def transductive_records(record: dict) -> list[dict]:
    """A trial's record followed by its transductive variants (``zsl experiment --transductive``), each a record
    of its own whose method names the setting, so that tables give it a row beside the inductive one."""
    return [record, *record.get("transductive", [])]


def evaluate_unit(unit: Unit, tr, extra: dict | None = None, betas: dict | None = None,
                  calibrate: bool = True) -> dict:
    """Evaluate one trained unit's checkpoint and write its trial file; returns its record. ``betas``
    ({modality: beta}) fixes calibrated stacking's beta per test modality (the two-stage protocol); ``extra``
    is merged into the record; ``calibrate=False`` never chooses a beta on this checkpoint's trial (a refit's
    stage 2 has no validation rows of its own). Each refiner of ``unit.eval.transductive`` evaluates the same checkpoint
    again in the transductive setting (``record["transductive"]``)."""
    from zsltool.evaluate.transductive import REFINERS

    ckpt = Path(tr.checkpoint)
    model = tr.ckpt if tr.ckpt is not None else ckpt  # the model just trained, in memory (its file is written)
    mods = unit.modalities
    by_mod, retr, docs = _evaluate_modalities(unit, model, betas, calibrate=calibrate)
    first = docs[mods[0]]
    record = {k: getattr(unit, k) for k in ("name", "config_hash", "task", "column", "protocol")}
    record.update(split=unit.train.split, trial=unit.train.trial, method=unit.train.method,
                  semantic=unit.row, modality=mods[0], metrics=by_mod,
                  retrieval=retr,
                  train={"best_metric": tr.best_metric, "best_value": tr.best_value, "best_epoch": tr.best_epoch,
                         "epochs_run": tr.epochs_run, "checkpoint": str(ckpt)})
    if unit.repeat is not None:  # zsl experiment --repeats: which training run of the trial, and its seed
        record.update(repeat=unit.repeat, seed=unit.train.seed)
    if tr.warnings:
        record["warnings"] = tr.warnings
    if tr.selection:
        record["selection"] = selection_record(tr.selection)
    record.update(extra or {})
    variants = []
    for name in unit.eval.transductive:
        t_mod, _, _ = _evaluate_modalities(unit, model, betas, transductive=name, calibrate=calibrate)
        variants.append({**{k: v for k, v in record.items() if k not in ("retrieval", "selection", "stage1")},
                         "method": f"{record['method']} ({REFINERS[name].label})", "base_method": record["method"],
                         "setting": f"transductive: {name}", "metrics": t_mod, "retrieval": {}})
    if variants:
        record["transductive"] = variants
    doc = results_doc(unit.task, first["manifest"] | {"config": {"unit": unit.to_dict()}}, first["metrics"],
                      per_class=first.get("per_class"), confusion=first.get("confusion"),
                      config_hash=unit.config_hash, record=record)
    write_results(unit.trial_file, doc, overwrite=True)
    return jsonable(record)


def selection_record(selection: dict) -> dict:
    """What a trial's record keeps of a grid's selection (``zsltool.train.loop.choose``)."""
    return {k: selection[k] for k in ("metric", "chosen", "label", "epoch", "value", "candidates")}


def run_unit(unit: Unit) -> dict:
    """Train + evaluate one unit and write its trial file; returns its record."""
    return run_units([unit])[0]


def run_units(units: list[Unit], batched: bool = True) -> list[dict]:
    """Train every unit (models of one method family as one batched computation, see
    ``zsltool.train.engine``), then evaluate each and write its trial file; returns the records in order.
    Two-stage units (``unit.two_stage``) train stage 1 with the others, then stage 2
    (:func:`run_stage2`). Every input file is read once (``run_cache``). Runs in-process or in a
    worker process."""
    import torch

    from zsltool.files.runcache import run_cache
    from zsltool.runtime.env import resolve_device

    if not units:
        return []
    if units[0].threads:
        torch.set_num_threads(int(units[0].threads))
    device = resolve_device(units[0].device)
    with run_cache():
        two = [u.two_stage is not None for u in units]
        trained = train_configs([unit_config(u, ".stage1" if t else "") for u, t in zip(units, two)],
                                [u.name for u in units], batched=batched, device=device)
        records: list[dict | None] = [None] * len(units)
        if any(two):
            idx = [i for i, t in enumerate(two) if t]
            for i, rec in zip(idx, run_stage2([units[i] for i in idx], [trained[i] for i in idx],
                                              batched=batched, device=device)):
                records[i] = rec
        for n, (u, tr) in enumerate(zip(units, trained), 1):
            if records[n - 1] is None:
                records[n - 1] = evaluate_unit(u, tr)
            log.info(f"[{n}/{len(units)}] done {u.name}")
    return records  # type: ignore[return-value]


class _NoValidationNote(logging.Filter):
    NOTES = ("no validation instances", "validation metric: seen-class accuracy")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(n in record.getMessage() for n in self.NOTES)


class _Quiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def _stage2_logging(refits_only: bool = False):
    """Stage 2 has no validation by design: drop the training loop's notes about it; a refit's stage 2 also
    drops the validity warnings (``zsltool.runtime.guards``) that stage 1 gave for the same trial (its record keeps
    them)."""
    filters = [(logging.getLogger("zsltool.train"), _NoValidationNote())]
    if refits_only:
        filters.append((logging.getLogger("zsltool.runtime.guards"), _Quiet()))
    for lg, f in filters:
        lg.addFilter(f)
    try:
        yield
    finally:
        for lg, f in filters:
            lg.removeFilter(f)


def run_stage2(units: list, stage1: list, batched: bool = True, device: str = "cpu") -> list[dict]:
    """For two-stage units whose stage-1 models are trained (``stage1``: their ``TrainResult``): choose beta
    on stage-1 validation, retrain stage 2 (all units as one engine call), test, and write the trial files;
    returns the records (stage-2 test metrics, and ``stage1`` / ``stage2`` with what was chosen and used)."""
    cfgs, chosen = [], []
    for u, tr1 in zip(units, stage1):
        refit = u.two_stage.refit
        if tr1.best_metric != "val_hm" and not refit:
            raise ZslError(f"{u.name}: stage 1 could not choose on calibrated validation HM (it used "
                           f"{tr1.best_metric}): the validation rows must have seen and unseen classes with "
                           "usable features", hint=HINT)
        if tr1.best_metric == "none":
            raise ZslError(f"{u.name}: stage 1 has no validation data to choose on",
                           hint="refit needs validation classes (ZSL) or validation rows (GZSL)")
        mods = u.modalities if u.task == "gzsl" else []
        by_hm = tr1.best_metric == "val_hm"
        if refit and mods and u.eval.calibrate and not by_hm:
            log.warning(f"{u.name}: no unseen validation rows to choose calibrated stacking's beta on before "
                        "the refit: tested with beta 0 (zsl split --unseen-val-fraction F adds them)")
        ckpt1 = tr1.ckpt if tr1.ckpt is not None else tr1.checkpoint  # in memory (its file is written)
        chosen.append({m: stage1_validation(ckpt1, m, device) for m in mods} if by_hm else {})
        split2 = refit_split(u.train.split, u.two_stage.stage1_trial, u.out_dir) if refit else None
        cfgs.append(stage2_config(unit_config(u, ".stage1"), tr1, u.two_stage.stage2_trial,
                                  out=str(checkpoint_path(u)), split=split2))
        betas = (" and beta " + ", ".join(f"{v['beta']:.4g} ({m})" for m, v in chosen[-1].items())
                 + f" on validation (HM {chosen[-1][mods[0]]['HM']:.4f})") if chosen[-1] else \
            f" on validation ({tr1.best_metric} {tr1.best_value:.4f})"
        log.info(f"{u.name}: stage 1 chose epoch {tr1.best_epoch}{betas}; stage 2 retrains for "
                 f"{tr1.best_epoch} epoch(s) on training + validation " + ("rows" if u.task == "gzsl" and refit
                                                                         else "classes"))
    with _stage2_logging(refits_only=all(u.two_stage.refit for u in units)):
        stage2 = train_configs(cfgs, [u.name for u in units], batched=batched, device=device)
    records = []
    for u, tr1, tr2, cfg, val in zip(units, stage1, stage2, cfgs, chosen):
        s1 = {"trial": u.two_stage.stage1_trial, "checkpoint": str(tr1.checkpoint), "metric": tr1.best_metric,
              "value": tr1.best_value, "epoch": tr1.best_epoch, "epochs_run": tr1.epochs_run, "validation": val}
        s2 = {"trial": cfg.trial, "epochs": cfg.epochs, "epochs_run": tr2.epochs_run, "n_train": tr2.n_train,
              "betas": {m: v["beta"] for m, v in val.items()},
              **({"refit": True, "split": cfg.split} if u.two_stage.refit else {})}
        extra = {"stage1": s1, "stage2": s2}
        if tr1.selection:
            extra["selection"] = selection_record(tr1.selection)
        if tr1.warnings:  # a refit's stage 2 repeats stage 1's checks on the same trial: one warning per code
            known = [w.get("code") for w in tr1.warnings] if s2.get("refit") else []
            extra["warnings"] = list(tr1.warnings) + [w for w in tr2.warnings or [] if w not in tr1.warnings
                                                      and w.get("code") not in known]
        records.append(evaluate_unit(u, tr2, extra=extra, betas=s2["betas"] or None,
                                     calibrate=not s2.get("refit")))
    return records


def finished_record(unit: Unit) -> dict | None:
    """The record of the unit's trial file when it was written for the same config hash; else None."""
    p = unit.trial_file
    if not p.exists():
        return None
    try:
        doc = load_results(p)
    except ZslError:
        return None
    if doc.get("config_hash") != unit.config_hash or "record" not in doc:
        return None
    return doc["record"]
