"""The two-stage GZSL protocol of the audio-visual benchmarks (the AVGZSLNet benchmark as re-released with
AVCA-GZSL: UCF-GZSL, VGGSound-GZSL, ActivityNet-GZSL), run by ``zsl experiment --two-stage``: this module
defines the protocol (trial pairs and their checks, stage 1's validation, stage 2's config);
``zsltool.evaluate.units.run_stage2`` runs it.

* Stage 1 trains on the stage-1 training rows (seen classes) and chooses, on validation rows of seen classes
  (``instances.val``) and of unseen validation classes (``instances.val_unseen``) only: the setting (with
  ``--grid``) and the epoch by calibrated validation HM (``val_hm``, ``zsltool.train.loop``), then calibrated
  stacking's beta on the same rows at that epoch (one beta per test modality).
* Stage 2 retrains on training + validation classes (its trial's ``instances.train``) with the chosen
  setting for exactly the chosen number of epochs (no validation, no early stopping: the last epoch is kept)
  and tests on its ``test_seen`` + unseen test rows with stage 1's beta.

A two-stage split file holds both stages as ordinary GZSL trials and names them in its params:
``"two_stage": [[STAGE1_TRIAL, STAGE2_TRIAL], ...]`` (``zsl prepare avgzsl-benchmark`` writes one). Each
pair is one trial of the experiment (``--trials`` counts pairs). The checks below refuse a pair where a test
row or class could reach a stage-1 choice.

Refit after selection (``zsl experiment --refit``) is the same protocol on any ZSL or GZSL trial with
validation classes or rows: stage 1 is the trial itself (the setting and the epoch chosen on its validation
data), stage 2 its refit trial (:func:`refit_trial`: training + validation classes, or rows, train; nothing
validates; the same test classes and rows), written next to the results (``refit/<split>.t<K>.json``).
GZSL: calibrated stacking's beta comes from stage 1's validation rows when they include unseen ones
(``val_unseen``), else there is none (beta 0).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from zsltool.errors import ZslError
from zsltool.runtime.progress import count_of

log = logging.getLogger("zsltool.evaluate.experiment")
KEY = "two_stage"
HINT = "make one with `zsl prepare avgzsl-benchmark`, or see docs/evaluate.md (\"The two-stage protocol\")"


def stage_pairs(split, two_stage: bool = True) -> list[tuple[int, int]] | None:
    """The (stage-1, stage-2) trial pairs of a two-stage split, checked; None for an ordinary split when
    ``two_stage`` is False. ZslError when the split and the request do not match."""
    raw = (split.params or {}).get(KEY)
    if not two_stage:
        if raw:
            raise ZslError(f"{split.path} holds both stages of the two-stage GZSL protocol (params.two_stage)",
                           hint="add --two-stage, or train one stage by hand with zsl train --trial N")
        return None
    if not raw:
        raise ZslError(f"{split.path} is not a two-stage split: its params have no \"two_stage\" trial pairs",
                       hint=HINT)
    ok = isinstance(raw, list) and all(isinstance(p, list) and len(p) == 2 and all(
        isinstance(i, int) and not isinstance(i, bool) for i in p) for p in raw)
    if not ok:
        raise ZslError(f"{split.path}: params.two_stage must be a list of [stage-1 trial, stage-2 trial] pairs, "
                       f"found {str(raw)[:60]}", hint=HINT)
    pairs = [(int(a), int(b)) for a, b in raw]
    for a, b in pairs:
        check_stages(split, a, b)
    return pairs


def pair_of(split, pairs: list[tuple[int, int]], k: int) -> tuple[int, int]:
    if not 0 <= k < len(pairs):
        raise ZslError(f"two-stage trial {k} does not exist: {split.path} has {count_of(len(pairs), 'stage pair')}",
                       hint=f"use --trials 0..{len(pairs) - 1}")
    return pairs[k]


def check_stages(split, s1: int, s2: int) -> None:
    """ZslError unless stage 1 can choose on validation rows and no stage-2 test row or class is in stage 1."""
    t1, t2 = split.trial(s1), split.trial(s2)
    where = f"{split.path}: two-stage trials {s1} (stage 1) and {s2} (stage 2)"
    if s1 == s2 or not t1.is_gzsl or not t2.is_gzsl:
        raise ZslError(f"{where}: both stages must be distinct GZSL trials", hint=HINT)
    i1, i2 = t1.instances, t2.instances
    if not (i1.get("train") and i1.get("val") and i1.get("val_unseen")):
        raise ZslError(f"{where}: stage 1 needs training rows and validation rows of seen and unseen classes "
                       "(instances train, val and val_unseen)", hint=HINT)
    if i2.get("val") or i2.get("val_unseen") or not i2.get("train"):
        raise ZslError(f"{where}: stage 2 retrains on its training rows without validation (instances train; "
                       "no val or val_unseen)", hint=HINT)
    stage1_classes = set(t1.seen) | set(t1.unseen)
    leaked = sorted(set(t2.unseen) & stage1_classes)
    if leaked:
        raise ZslError(f"{where}: stage-2 test classes are stage-1 classes: {', '.join(leaked[:5])}", hint=HINT)
    stage1_rows = set(i1["train"]) | set(i1["val"]) | set(i1["val_unseen"])
    test_rows = set(i2.get("test_seen") or []) | set(i2.get("test_unseen") or [])
    if stage1_rows & test_rows:
        raise ZslError(f"{where}: {len(stage1_rows & test_rows)} stage-2 test rows are stage-1 rows, e.g. "
                       f"{sorted(stage1_rows & test_rows)[0]}", hint=HINT)
    if set(t2.seen) != stage1_classes:
        log.warning(f"{where}: stage 2's seen classes are not stage 1's training + validation classes")


def unit_stages(split, pairs, k: int, refit: bool) -> tuple[tuple[int, int] | None, bool]:
    """(stage-1, stage-2) trials of experiment trial ``k`` (None: one stage), and whether it is a refit: a
    two-stage split's pair, or with ``refit`` (k, 0 of its refit split) when trial k has validation data."""
    if pairs:
        return pair_of(split, pairs, k), False
    if refit and has_validation(split.trial(k)):
        return (k, 0), True
    return None, False


def has_validation(trial) -> bool:
    """Whether a trial can choose on validation data (ZSL: validation classes; GZSL: validation rows)."""
    return bool(trial.instances.get("val")) if trial.is_gzsl else bool(trial.val)


def refit_trial(trial):
    """Stage 2 of a refit: ``trial`` with its validation classes (ZSL) or seen validation rows (GZSL) moved into
    training; its test classes and rows (and GZSL's ``val_unseen``, kept apart from testing) unchanged."""
    from zsltool.classes.splits import Trial

    if not trial.is_gzsl:
        return Trial(train=list(trial.train) + list(trial.val), val=[], test=list(trial.test))
    inst = {k: list(v) for k, v in trial.instances.items() if k != "val"}
    inst["train"] = list(trial.instances.get("train") or []) + list(trial.instances.get("val") or [])
    return Trial(train=list(trial.train), val=[], test=list(trial.test), seen=list(trial.seen),
                 unseen=list(trial.unseen), instances=inst)


def refit_split(split_path: str, k: int, out_dir: str):
    """The refit split file of trial ``k`` of ``split_path`` (one trial) under ``out_dir/refit/`` (written
    once; its content depends on the split only)."""
    from pathlib import Path

    from zsltool.classes.splits import Split, load_split

    sp = load_split(split_path)
    path = Path(out_dir) / "refit" / f"{Path(split_path).stem}.t{k}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        Split(trials=[refit_trial(sp.trial(k))], protocol=sp.protocol,
              params={**sp.params, "refit_of": {"split": str(split_path), "trial": int(k)}},
              seed=sp.seed, class_set_sha256=sp.class_set_sha256).save(path, overwrite=True)
    return path


def stage1_validation(checkpoint, modality: str = "both", device: str = "cpu") -> dict:
    """Calibrated stacking's beta chosen on stage 1's validation rows (seen ``val`` + ``val_unseen``) and
    S/U/HM there at that beta, with the AUSUC of those rows. Never reads a test row.
    ``checkpoint``: a path or a checkpoint in memory (``TrainResult.ckpt``)."""
    from zsltool.evaluate.evaluate import load_for_evaluation, score
    from zsltool.scores import metrics as M

    ld = load_for_evaluation(checkpoint, modality=modality)
    ld.model.to(device)
    t = ld.trial
    classes = list(t.seen) + list(t.unseen)
    seen_mask = np.array([c in set(t.seen) for c in classes])
    inst, s = score(ld, classes, ids=list(t.instances["val"]) + list(t.instances["val_unseen"]), device=device)
    beta, _ = M.search_beta(s, inst.labels, seen_mask)
    r = M.gzsl_metrics(s, inst.labels, seen_mask, beta=beta)
    is_seen = seen_mask[inst.labels]
    return {"beta": float(beta), "S": r.S, "U": r.U, "HM": r.HM, "AUSUC": M.ausuc(s, inst.labels, seen_mask),
            "n_val_seen": int(is_seen.sum()), "n_val_unseen": int((~is_seen).sum())}


def stage2_config(cfg1, tr1, stage2_trial: int, out: str, split: str | None = None):
    """Stage 2's ``TrainConfig``: stage 1's with the setting chosen on validation (``--grid``, a preset axis
    included), exactly the chosen number of epochs with stage 1's learning rate of each of them (a plateau
    schedule is replayed, ``zsltool.train.schedule``), no grid and no early stopping, on the stage-2 trial."""
    from zsltool.methods.base import get_method
    from zsltool.train.grid import setting_label, settings_for

    changes: dict = {}
    args = dict(cfg1.method_args)
    if cfg1.grid:
        label = tr1.selection["label"]
        st = next(st for st in settings_for(cfg1.grid, get_method(cfg1.method)) if setting_label(st) == label)
        changes.update(st["train"])
        args.update(st["args"])
        if "preset" in st:
            changes["preset"] = st["preset"]
    epochs = int(tr1.best_epoch)
    rates = [float(r["lr"]) for r in tr1.history[:epochs] if "lr" in r]
    changes.update(trial=int(stage2_trial), epochs=epochs, grid=None, patience=None, method_args=args,
                   out=str(out), lr_schedule=rates if rates and len(rates) == epochs else None,
                   split=str(split or cfg1.split))
    return dataclasses.replace(cfg1, **changes)
