"""Evaluate a checkpoint on embedding files: ZSL top-1 / mean per-class accuracy, GZSL S/U/HM with calibrated
stacking, and retrieval mAP (class text -> instances).

Which rows are tested (docs/evaluate.md):

* ZSL trial: every instance whose single label is a ``test`` class, ranked among the ``test`` classes.
* GZSL trial: ``instances.test_seen`` plus every instance of an ``unseen`` class (except those kept apart in
  ``instances.val_unseen``; only those in ``instances.test_unseen`` when the trial lists them), ranked among
  seen + unseen.
  Calibrated stacking's beta is either given (``beta``) or chosen on validation rows only
  (``calibrate=True``): ``instances.val`` (seen) plus ``instances.val_unseen`` (``zsl split --protocol gzsl
  --unseen-val-fraction F``), or else instances of the trial's ``val`` classes that are neither seen nor unseen
  (without either, HM on validation is undefined and a ZslError says so).
  The test rows are read only after beta is fixed.
* Modality: ``both`` uses every modality the model has (rows missing one use the other), ``audio`` /
  ``video`` force one modality and drop rows where it is invalid.
* Calibration (``ece``, ``nll``): of ``softmax(scores / T)`` over the test candidates (GZSL: no beta), with the
  checkpoint's temperature, or each row's standard deviation without one: the probabilities of ``zsl classify``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from zsltool.errors import ZslError
from zsltool.evaluate.results import make_manifest, results_doc
from zsltool.names import SCORE_MODALITIES
from zsltool.scores import metrics as M
from zsltool.scores.retrieval import rank_instances, retrieval_metrics
from zsltool.scores.temperature import temperature_of

log = logging.getLogger("zsltool.evaluate")


@dataclass
class Loaded:
    ckpt: dict
    model: object
    inputs: object
    trial: object
    split_path: Path
    trial_index: int
    modality: str
    mods: tuple
    config: dict
    warnings: list = field(default_factory=list)  # validity issues to record in the results (zsltool.runtime.guards)


def _load_instances(audio, video):
    """Instance files as ``zsltool.train.data.Inputs`` (no semantic files: the checkpoint holds them)."""
    from zsltool.store import check_same_class_set
    from zsltool.train.data import Inputs, load_instance_files

    a, v, vX, vvalid = load_instance_files(audio, video)
    if v is not None:
        check_same_class_set([a, v])
    h = a.meta.class_set_sha256 or (v.meta.class_set_sha256 if v is not None else "")
    return Inputs(audio=a, video=v, video_X=vX, video_valid=vvalid, semantic=None, class_set_sha256=h)


def load_for_evaluation(checkpoint, *, audio=None, video=None, split=None, trial=None,
                        modality: str = "both", allow_other_extractor: bool = False) -> Loaded:
    """Checkpoint + instance files + split trial, cross-checked. ``checkpoint`` is a path, or a checkpoint already
    in memory (``load_checkpoint``'s dict, or ``TrainResult.ckpt`` of a model just trained and written).
    Missing paths default to the training ones
    (found next to the checkpoint when they moved with it: ``zsltool.files.checks.relocated``).
    Instance rows embedded otherwise than the training rows (extractor, weights) are refused unless
    ``allow_other_extractor`` (then a warning in ``Loaded.warnings``)."""
    from zsltool.classes.splits import load_split
    from zsltool.runtime.guards import other_extractor
    from zsltool.train.checkpoint import build_model, load_checkpoint
    from zsltool.train.data import check_model_inputs, check_split_class_set

    if modality not in SCORE_MODALITIES:
        raise ZslError(f"unknown modality {modality!r}", hint="use both, audio or video")
    ckpt = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    checkpoint = ckpt.get("path") or checkpoint
    cfg = ckpt.get("config") or {}
    audio = audio or _recorded(cfg.get("audio"), ckpt)
    video = video if video is not None else _recorded(cfg.get("video"), ckpt)
    split = split or _recorded(cfg.get("split"), ckpt)
    trial = int(cfg.get("trial", 0)) if trial is None else int(trial)
    if not audio:
        raise ZslError("no audio embedding file given", hint="pass --audio FILE")
    if not split:
        raise ZslError("no split file given", hint="pass --split FILE")
    model = build_model(ckpt)
    if modality == "video" and not model.uses_video:
        raise ZslError(f"method {ckpt['method']!r} was trained without video", hint="use --modality audio or both")
    if modality in ("both", "video") and model.uses_video and not video:
        if modality == "video":
            raise ZslError("--modality video needs a video embedding file", hint="pass --video FILE")
        log.warning("no video file: scoring with audio only")
    inputs = _load_instances(audio, video if model.uses_video else None)
    warnings = [w for what, e in (("audio", inputs.audio), ("video", inputs.video))
                for w in other_extractor(ckpt, what, e, allow_other_extractor)]
    ck_hash = ckpt.get("class_set_sha256") or ""
    if ck_hash and inputs.class_set_sha256 and ck_hash != inputs.class_set_sha256:
        raise ZslError(f"{audio} was built from class set {inputs.class_set_sha256[:12]}, but the checkpoint was "
                       f"trained on class set {ck_hash[:12]}", hint="evaluate on files made from the same class set")
    sp = load_split(split)
    check_split_class_set(inputs, sp)
    # what check_model_inputs reads, with the semantic dimension taken from the checkpoint
    semantic = SimpleNamespace(dim=int(ckpt["semantic"]["embeddings"].shape[1]), name="checkpoint's semantic")
    check_model_inputs(model, SimpleNamespace(audio=inputs.audio, video=inputs.video, semantic=semantic))
    mods = (modality,) if modality != "both" else tuple(
        m for m in model.modalities if m == "audio" or (model.uses_video and inputs.video is not None))
    return Loaded(ckpt=ckpt, model=model, inputs=inputs, trial=sp.trial(trial), split_path=Path(split),
                  trial_index=trial, modality=modality, mods=mods, warnings=warnings,
                  config={"checkpoint": str(checkpoint), "audio": str(audio), "video": str(video) if video else None,
                          "split": str(split), "trial": trial, "modality": modality, "method": ckpt["method"],
                          "semantic": cfg.get("semantic"), "train_config": cfg})


def _recorded(path, ckpt: dict):
    """A training file's recorded path, or where it is now next to the checkpoint when that path is gone."""
    from zsltool.files.checks import relocated

    if not path or Path(path).exists():
        return path
    return str(relocated(path, ckpt.get("path")) or path)


def score(ld: Loaded, classes, ids=None, device: str = "cpu"):
    """(instances, scores) of the rows whose single label is in ``classes`` (restricted to ``ids``)."""
    from zsltool.train.checkpoint import semantic_matrix
    from zsltool.train.data import compute_scores, select_instances

    inst = select_instances(ld.inputs, list(classes), ids=ids, modalities=ld.mods)
    C = semantic_matrix(ld.ckpt, list(classes)).numpy()
    mod = ld.modality if ld.modality != "both" else ("both" if "video" in ld.mods else "audio")
    if mod == "both" and "audio" not in ld.mods:
        mod = "video"
    s = compute_scores(ld.model, C, inst, modality=mod, device=device)
    return inst, s


def _test_unseen_rows(inst, seen_mask, trial) -> np.ndarray:
    """Rows of unseen classes that are test rows: those listed in ``instances.test_unseen`` when the trial
    lists them (a two-stage split does), else every one not kept apart for validation (``val_unseen``)."""
    if not len(inst):
        return np.zeros(0, bool)
    listed = trial.instances.get("test_unseen")
    if listed is not None:
        ok = set(listed)
        return ~seen_mask[inst.labels] & np.array([i in ok for i in inst.ids], dtype=bool)
    held_out = set(trial.instances.get("val_unseen") or [])
    return ~seen_mask[inst.labels] & np.array([i not in held_out for i in inst.ids], dtype=bool)


def _gzsl_test(ld: Loaded, classes, seen_mask, device: str):
    """A GZSL trial's test rows ranked among ``classes``: ``instances.test_seen``, then the unseen-class test
    rows. Returns (seen-row instances, unseen-class instances, which of those are test rows, labels, scores)."""
    si, ss = score(ld, classes, ids=list(ld.trial.instances.get("test_seen") or []), device=device)
    ui, us = score(ld, classes, device=device)
    keep = _test_unseen_rows(ui, seen_mask, ld.trial)
    return si, ui, keep, np.concatenate([si.labels, ui.labels[keep]]), np.vstack([ss, us[keep]])


def _calibrated_beta(ld: Loaded, classes, seen_mask, betas, device: str):
    """Calibrated stacking's beta and its curve, chosen on validation rows only: ``instances.val`` plus
    ``instances.val_unseen`` ranked among ``classes``, or else the ``val`` rows and the rows of the trial's
    validation classes that are neither seen nor unseen, ranked among seen + those classes."""
    t = ld.trial
    held_out = sorted(set(t.instances.get("val_unseen") or []))
    val_ids = list(t.instances.get("val") or [])
    if held_out:
        vi, val_s = score(ld, classes, ids=val_ids + held_out, device=device)
        val_y, vmask = vi.labels, seen_mask
    else:
        seen, taken = list(t.seen), set(t.seen) | set(t.unseen)
        val_unseen = [c for c in t.val if c not in taken]
        vclasses = seen + val_unseen
        vmask = np.array([True] * len(seen) + [False] * len(val_unseen))
        vi, val_s = score(ld, vclasses, ids=val_ids, device=device)
        val_y = vi.labels
        if val_unseen:
            ui, us = score(ld, vclasses, device=device)
            keep = ui.labels >= len(seen)
            val_s, val_y = np.vstack([val_s, us[keep]]), np.concatenate([val_y, ui.labels[keep]])
    beta, curve = M.search_beta(val_s, val_y, vmask, betas)
    log.info(f"calibrated stacking: beta = {beta:.4g} (chosen on {len(val_y)} validation rows)")
    return beta, curve


def _per_class_rows(classes, labels, pred, seen=None) -> list[dict]:
    """Per class: its test rows, how many are right, its accuracy (None without rows) and, GZSL, whether seen."""
    n = np.bincount(labels, minlength=len(classes))
    k = np.bincount(labels[pred == labels], minlength=len(classes))
    return [{"class": cid, "n": int(n[c]), "correct": int(k[c]), "accuracy": int(k[c]) / int(n[c]) if n[c] else None,
             **({"seen": bool(seen[c])} if seen is not None else {})} for c, cid in enumerate(classes)]


def _temperature(ld: Loaded, scores, transductive=None):
    """The temperature of the probabilities ``ece`` and ``nll`` judge, and its source: the checkpoint's (as
    ``zsl classify``); 1 for a transductive refiner's scores, which are log-probabilities already."""
    if transductive:
        return 1.0, f"transductive {transductive}: its log-responsibilities (T = 1)"
    return temperature_of(ld.ckpt.get("calibration"), scores)


def _inputs_of(ld: Loaded) -> list:
    paths = [ld.ckpt.get("path"), ld.config["audio"], ld.config["video"], ld.config["split"]]
    return [p for p in paths if p]


def _features(ld: Loaded, *insts) -> np.ndarray:
    """The test rows' input features for a transductive refiner (``zsltool.evaluate.transductive``)."""
    from zsltool.evaluate.transductive import instance_features

    return np.vstack([instance_features(i, ld.mods) for i in insts])


def _zsl_doc(ld: Loaded, config: dict, seed: int, device: str, transductive: str | None) -> dict:
    """The results document of a ZSL trial: its test rows ranked among its test classes."""
    from zsltool.evaluate.transductive import refine

    t = ld.trial
    classes = list(t.test)
    inst, s = score(ld, classes, device=device)
    if len(inst) == 0:
        raise ZslError(f"no test instances: no usable row of {ld.config['audio']} has a single label among the "
                       f"{len(classes)} test classes of trial {ld.trial_index}")
    if transductive:
        s = refine(transductive, s, _features(ld, inst))
    T, tsrc = _temperature(ld, s, transductive)
    r = M.zsl_metrics(s, inst.labels, temperature=T)
    cm = M.confusion_matrix(inst.labels, r["y_pred"], len(classes))
    metrics = {**{m.name: r[m.name] for m in M.metrics_of("zsl")}, "n_test": len(inst),
               "n_classes": len(classes), "chance": 1.0 / len(classes), "temperature_source": tsrc}
    return results_doc("zsl", make_manifest(config, _inputs_of(ld), seed), metrics,
                       per_class=_per_class_rows(classes, inst.labels, r["y_pred"]),
                       confusion={"classes": classes, "matrix": cm}, **_warnings(ld))


def evaluate_loaded(ld: Loaded, *, beta: float | None = None, calibrate: bool = False,
                    betas=None, seed: int = 0, device: str = "cpu", transductive: str | None = None) -> dict:
    """The results document (format ``zsl.results``) of one checkpoint on one trial. ``transductive`` (a name
    of ``zsltool.evaluate.transductive.REFINERS``) refines the test rows' scores with the unlabelled test rows
    taken together (the transductive setting; GZSL: started from the calibrated scores)."""
    from zsltool.evaluate.transductive import refine, refiner

    t = ld.trial
    if beta is not None and not np.isfinite(beta):
        raise ZslError(f"beta must be a finite number, got {beta}", hint="give --beta a number such as 0.5")
    if transductive is not None:
        refiner(transductive)  # an unknown name is refused before any scoring
    config = {**ld.config, "beta": beta, "calibrate": calibrate, "transductive": transductive}
    if not t.is_gzsl:
        if beta is not None or calibrate:
            log.warning(f"trial {ld.trial_index} of {ld.config['split']} is a ZSL trial: "
                        f"{'--beta' if beta is not None else '--calibrate'} applies to GZSL only and is ignored")
        return _zsl_doc(ld, config, seed, device, transductive)
    classes = list(t.seen) + list(t.unseen)
    seen_mask = np.array([c in set(t.seen) for c in classes])
    extra = {}
    if calibrate:
        beta, extra["beta_curve"] = _calibrated_beta(ld, classes, seen_mask, betas, device)
    beta = 0.0 if beta is None else float(beta)
    si, ui, unseen_rows, y, sc = _gzsl_test(ld, classes, seen_mask, device)
    if len(y) == 0:
        stage1 = "test_seen" in t.instances and not t.instances["test_seen"] and t.instances.get("val_unseen")
        raise ZslError(f"no GZSL test instances in {ld.config['audio']} for trial {ld.trial_index}",
                       hint="this trial holds validation rows only (stage 1 of a two-stage split): "
                            "zsl experiment --two-stage runs both stages" if stage1 else None)
    if transductive:  # refined from the calibrated assignment; beta is then part of the scores
        X = np.vstack([_features(ld, si), _features(ld, ui)[unseen_rows]])
        raw_sc = refine(transductive, sc, X)
        sc = refine(transductive, M.calibrated_stacking(sc, seen_mask, beta), X)
        res, raw = M.gzsl_metrics(sc, y, seen_mask, beta=0.0), M.gzsl_metrics(raw_sc, y, seen_mask, beta=0.0)
    else:
        res, raw = M.gzsl_metrics(sc, y, seen_mask, beta=beta), M.gzsl_metrics(sc, y, seen_mask, beta=0.0)
    cm = M.confusion_matrix(y, res.y_pred, len(classes))
    # S, U, HM and top-1 after calibrated stacking with beta; every other registered GZSL metric (AUSUC: no beta)
    # by its own function (ECE, NLL: of the probabilities zsl classify gives over these candidates, no beta)
    calibrated = ("S", "U", "HM", "top1")
    T, tsrc = _temperature(ld, sc, transductive)
    metrics = {"S": res.S, "U": res.U, "HM": res.HM,
               **{m.name: m.fn(M.probabilistic_input(m, sc, T), y, seen_mask) for m in M.metrics_of("gzsl")
                  if m.name not in calibrated},
               "beta": beta, "beta_source": "validation" if calibrate else "given", "top1": res.top1,
               "uncalibrated": raw.metrics(), "n_test_seen": int(len(si)),
               "n_test_unseen": int(unseen_rows.sum()), "n_classes": len(classes), "temperature_source": tsrc}
    config["beta"] = beta
    return results_doc("gzsl", make_manifest(config, _inputs_of(ld), seed), metrics,
                       per_class=_per_class_rows(classes, y, res.y_pred, seen_mask),
                       confusion={"classes": classes, "matrix": cm}, **extra, **_warnings(ld))


def _warnings(ld: Loaded) -> dict:
    return {"warnings": ld.warnings} if ld.warnings else {}


def _loaded_on(device: str, checkpoint, **inputs) -> tuple[Loaded, str]:
    """``load_for_evaluation`` with the model moved to ``device`` (resolved after the inputs: a missing file is
    reported before torch is imported)."""
    from zsltool.runtime.env import resolve_device

    ld = load_for_evaluation(checkpoint, **inputs)
    device = resolve_device(device)
    ld.model.to(device)
    return ld, device


def evaluate_checkpoint(checkpoint, *, audio=None, video=None, split=None, trial=None, modality="both",
                        beta=None, calibrate=False, seed: int = 0, device: str = "cpu",
                        transductive: str | None = None, allow_other_extractor: bool = False) -> dict:
    """Evaluate a checkpoint (``zsl evaluate``; the Python API's ``zsltool.evaluate_checkpoint``): ZSL top-1 /
    mean per-class accuracy, or GZSL S, U, HM. ``audio``, ``video``, ``split``, ``trial`` default to the
    training ones. Returns the results document (``metrics``, ``per_class``, ``confusion``, ``manifest``)."""
    ld, device = _loaded_on(device, checkpoint, audio=audio, video=video, split=split, trial=trial,
                            modality=modality, allow_other_extractor=allow_other_extractor)
    return evaluate_loaded(ld, beta=beta, calibrate=calibrate, seed=seed, device=device, transductive=transductive)


def retrieve_checkpoint(checkpoint, *, audio=None, video=None, split=None, trial=None, modality="both",
                        top: int | None = None, seed: int = 0, device: str = "cpu",
                        allow_other_extractor: bool = False) -> dict:
    """Class text -> instances retrieval over the trial's test rows: AP per class, mAP, GZSL S/U/HM of mAP."""
    ld, device = _loaded_on(device, checkpoint, audio=audio, video=video, split=split, trial=trial,
                            modality=modality, allow_other_extractor=allow_other_extractor)
    t = ld.trial
    if t.is_gzsl:
        classes = list(t.seen) + list(t.unseen)
        seen_mask = np.array([c in set(t.seen) for c in classes])
        si, ui, keep, labels, sc = _gzsl_test(ld, classes, seen_mask, device)
        ids = si.ids + [i for i, k in zip(ui.ids, keep) if k]
    else:
        classes, seen_mask = list(t.test), None
        inst, sc = score(ld, classes, device=device)
        ids, labels = inst.ids, inst.labels
    if len(ids) == 0:
        raise ZslError(f"no test instances for retrieval in {ld.config['audio']} (trial {ld.trial_index})")
    onehot = np.zeros((len(ids), len(classes)), dtype=bool)
    onehot[np.arange(len(ids)), labels] = True
    r = retrieval_metrics(sc, onehot, seen_mask)  # mAP, S, U, HM in one pass (what their fn gives, one at a time)
    ap = r["per_class_ap"]
    metrics = {m.name: v for m in M.metrics_of("retrieval")
               if (v := r[m.name] if m.name in r else m.fn(sc, onehot, seen_mask)) is not None}
    metrics["n_instances"] = len(ids)
    per_class = [{"class": c, "ap": ap[i], "n_relevant": int(onehot[:, i].sum()),
                  **({"seen": bool(seen_mask[i])} if seen_mask is not None else {})} for i, c in enumerate(classes)]
    ranked = rank_instances(sc, ids, top=top)
    config = {**ld.config, "top": top}
    return results_doc("retrieval", make_manifest(config, _inputs_of(ld), seed), metrics, per_class=per_class,
                       ranked=[{"class": c, "ranked": [{"id": i, "score": s} for i, s in rk]}
                               for c, rk in zip(classes, ranked)], **_warnings(ld))
