"""The audio-visual GZSL benchmark of AVCA-GZSL (Mercea et al. 2022): UCF-GZSL, VGGSound-GZSL, ActivityNet-GZSL.

Layout of one dataset folder (``avgzsl_benchmark_datasets/UCF``), as released::

    class-split/all_class.txt                      every class of the source dataset
    class-split/<dataset>_w2v_class_names.csv      original,manual: class name -> name used for word2vec
    class-split/<split>/stage_{1_train,1_val_seen,1_val_unseen,2_train,2_test_seen,2_test_unseen}.txt
    class-split/<split>/stage_*.csv                filename,label,label_code (the README says
                                                   video_name,class_name,label_code; the real files do not)
    features/<features>/{audio,video}/<stage_...>/<Class>.h5   datasets data (N x D) and video_urls (S80)
    features/<features>/text/word_embeddings_<dataset>_normed.npy   pickled {class name: 300-d vector}

``<split>`` is ``cls_split`` (C3D/VGGish features, ``cls_features``) or ``main_split`` (SeLaVi,
``main_features``). The recipe writes the rows of every stage folder into one ``audio.h5`` and one
``video.h5`` and both stages of the protocol into one split file ``split.json`` (params
``two_stage: [[0, 1]]``; ``zsl experiment --two-stage`` runs it, ``zsltool.evaluate.two_stage``):

* trial 0, stage 1: seen = ``stage_1_train`` classes, unseen = ``stage_1_val_unseen`` classes; train on the
  ``stage_1_train`` rows; validation rows ``stage_1_val_seen`` (``instances.val``) and ``stage_1_val_unseen``
  (``instances.val_unseen``) choose the epoch and calibrated stacking's beta; no test rows.
* trial 1, stage 2: seen = ``stage_2_train`` classes, unseen = ``stage_2_test_unseen``; retrain on train +
  validation (the rows of the ``stage_1_train``, ``stage_1_val_seen`` and ``stage_1_val_unseen`` folders, as
  the reference loader does) and test on ``stage_2_test_seen`` + ``stage_2_test_unseen``
  (``instances.test_seen``, ``instances.test_unseen``).

Class lists come from the ``stage_*.txt`` files, as in the reference loader: feature rows of other classes are
left out and counted (UCF's ``stage_2_test_unseen.csv`` lists 9 classes, its ``.txt`` 6). The CSVs are used to
cross-check: ids listed there without features, and feature rows not listed, are reported.
``text.h5`` holds the released word embeddings, read with a restricted unpickler (``safe_npy``).
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

import numpy as np

from zsltool.classes.classset import ClassSet
from zsltool.classes.splits import Split, Trial
from zsltool.errors import ZslError
from zsltool.files.provenance import input_record
from zsltool.prepare.common import all_or_none, need_folder
from zsltool.store import StoreMeta, write_embeddings

log = logging.getLogger("zsltool.prepare")

STAGES = ("stage_1_train", "stage_1_val_seen", "stage_1_val_unseen", "stage_2_train", "stage_2_test_seen",
          "stage_2_test_unseen")
PUBLISHED = ("published UCF-GZSL (cls features, VGGish/C3D) HM: AVGZSLNet 36.51, CJME 28.65, ALE 35.37")


def _class_split_dir(root: Path) -> Path:
    for name in ("class-split", "class_split"):
        if (root / name).is_dir():
            return root / name
    raise ZslError(f"{root} does not look like an AVGZSL benchmark dataset folder: expected class-split/ in it",
                   hint="give e.g. avgzsl_benchmark_datasets/UCF")


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise ZslError(f"expected the class list {path}", hint="check --split (cls_split or main_split)")
    return [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]


def _csv_ids(path: Path) -> dict[str, str]:
    """filename -> label of a stage CSV (header filename,label,label_code or video_name,class_name,...)."""
    if not path.is_file():
        return {}
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    if not rows:
        return {}
    head = [h.strip() for h in rows[0]]
    if head[:2] not in (["filename", "label"], ["video_name", "class_name"]):
        raise ZslError(f"{path}: unexpected header {','.join(head)}", hint="expected filename,label,label_code")
    return {r[0].strip(): r[1].strip() for r in rows[1:] if len(r) >= 2}


def _w2v_names(csplit: Path, dataset: str) -> dict[str, str]:
    """original class name -> the name used for word2vec."""
    cand = [csplit / f"{dataset.lower()}_w2v_class_names.csv"] + sorted(csplit.glob("*_w2v_class_names.csv"))
    path = next((c for c in cand if c.is_file()), None)
    if path is None:
        return {}
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    return {r["original"].strip(): r["manual"].strip() for r in rows if r.get("original") and r.get("manual")}


def _read_h5(path: Path) -> tuple[np.ndarray, list[str]]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "data" not in f or "video_urls" not in f:
                raise ZslError(f"{path} has no datasets data and video_urls", hint="expected the benchmark's .h5")
            X = np.asarray(f["data"][()], dtype=np.float32)
            urls = [u.decode("utf-8", "replace") if isinstance(u, bytes) else str(u) for u in f["video_urls"][()]]
    except OSError as e:
        raise ZslError(f"cannot read {path} as HDF5 ({e})", hint="the benchmark's feature files are HDF5; download "
                       "or unpack it again") from None
    if X.ndim != 2 or len(urls) != len(X):
        raise ZslError(f"{path}: data has shape {X.shape} for {len(urls)} video_urls")
    return X, [u.strip() for u in urls]


def _stage_rows(folder: Path, classes: set, rows: dict, left: dict) -> list[str]:
    """Add to ``rows`` ({id: (class, vector)}) the rows of one stage folder's classes that it does not hold yet (the
    first occurrence wins: a test row is never also a stage-1 row); the ids added. ``left`` counts the rows of
    other classes, those classes and the repeated ids."""
    added = []
    for f in sorted(folder.glob("*.h5")):
        X, urls = _read_h5(f)
        if f.stem not in classes:
            left["other_class_rows"] += len(urls)
            left["other_classes"].add(f.stem)
            continue
        for u, x in zip(urls, X):
            if u in rows:
                left["duplicate_ids"] += 1
                continue
            rows[u] = (f.stem, x)
            added.append(u)
    return added


def _write_instances(path: Path, rows: dict, classes: list[str], modality: str, feature_name: str, inputs) -> int:
    ids = list(rows)
    pos = {c: i for i, c in enumerate(classes)}
    X = np.stack([rows[i][1] for i in ids]) if ids else np.zeros((0, 1), np.float32)
    meta = StoreMeta(kind="instance", modality=modality, extractor=f"avgzsl-benchmark:{feature_name}",
                     extractor_meta={"source": "AVCA-GZSL benchmark features", "features": feature_name,
                                     "note": "imported: zsl classify needs --embeddings for new clips"},
                     inputs=inputs)
    write_embeddings(path, meta=meta, ids=ids, X=X, classes=classes, labels=[[pos[rows[i][0]]] for i in ids],
                     overwrite=True)
    return len(ids)


GROUPS = {"s1_train": ("stage_1_train", "stage_1_train"), "s1_val": ("stage_1_val_seen", "stage_1_train"),
          "s1_val_unseen": ("stage_1_val_unseen", "stage_1_val_unseen"),
          "s2_test_seen": ("stage_2_test_seen", "stage_2_train"),
          "s2_test_unseen": ("stage_2_test_unseen", "stage_2_test_unseen")}  # group: (stage folder, class list)


def prepare_avgzsl_benchmark(root: str | os.PathLike, out: str | os.PathLike, *, features: str = "cls_features",
                             split: str = "cls_split", overwrite: bool = False) -> dict:
    """Write the class set, the text file, and per stage the audio and video files and the split file (all five
    or none: ``all_or_none``)."""
    from zsltool.prepare.safe_npy import load_vector_dict

    root = need_folder(root, "benchmark dataset folder")
    dataset = root.name
    csplit = _class_split_dir(root)
    sdir = csplit / split
    if not sdir.is_dir():
        have = sorted(p.name for p in csplit.iterdir() if p.is_dir())
        raise ZslError(f"{csplit} has no split folder {split!r}", hint=f"choose one of: {', '.join(have) or 'none'}")
    lists = {st: _lines(sdir / f"{st}.txt") for st in STAGES}
    feat = root / "features" / features
    if not feat.is_dir():
        have = sorted(p.name for p in (root / "features").iterdir() if p.is_dir()) if (root / "features").is_dir() \
            else []
        raise ZslError(f"expected the features folder {feat}",
                       hint=f"--features is one of: {', '.join(have)}" if have else
                       "download the benchmark's features (avgzsl_benchmark_datasets.zip) into the dataset folder")
    npys = sorted((feat / "text").glob("word_embeddings_*.npy"))
    if not npys:
        raise ZslError(f"expected the word embeddings {feat / 'text' / f'word_embeddings_{dataset.lower()}_normed.npy'}",
                       hint="the benchmark's features folder holds text/word_embeddings_<dataset>_normed.npy")
    miss = [feat / m / f for m in ("audio", "video") for f, _ in GROUPS.values() if not (feat / m / f).is_dir()]
    if miss:
        raise ZslError(f"expected the feature folder {miss[0]}", hint=f"{feat} holds audio/ and video/ with one "
                       "folder per stage, as the benchmark's features download")
    w2v_exact = _w2v_names(csplit, dataset)
    w2v_ci = {k.lower(): v for k, v in w2v_exact.items()}
    vecs = load_vector_dict(npys[0])
    all_classes = sorted({c for st in STAGES for c in lists[st]})
    # UCF's split lists write HandStandPushups where all_class.txt and the w2v names have HandstandPushups
    case_only = [c for c in all_classes if c not in w2v_exact and c.lower() in w2v_ci]
    w2v = {c: w2v_exact.get(c) or w2v_ci.get(c.lower()) for c in all_classes
           if c in w2v_exact or c.lower() in w2v_ci}
    names = ["classes.json", "text.h5", "audio.h5", "video.h5", "split.json"]
    cls = [{"id": c, "name": w2v.get(c, c)} for c in all_classes]
    cs = ClassSet(classes=cls, name=f"{dataset}-GZSL ({split})", source={"benchmark": "AVCA-GZSL", "split": split})
    summary = {"dataset": dataset, "out": str(out), "split": split, "features": features,
               "classes": len(all_classes), "w2v_names_matched_ignoring_case": case_only, "published": PUBLISHED}
    with all_or_none(out, names, overwrite) as out:
        cs.save(out / "classes.json", overwrite=True, inputs=[input_record(sdir / f"{st}.txt") for st in STAGES])
        summary["text_valid"] = _write_text(out / "text.h5", cs, w2v, vecs, npys[0])
        listed = {st: _csv_ids(sdir / f"{st}.csv") for st in STAGES}
        ids_of = {}
        for modality in ("audio", "video"):
            summary[modality], part_ids = _write_modality(out, modality, feat, lists, features, sdir, listed,
                                                          all_classes)
            ids_of = ids_of or part_ids  # the audio file's rows define the split
        summary["stages"] = _write_split(out, cs, lists, ids_of, dataset, split)
    summary["files"] = {n: str(out / n) for n in names}
    return summary


def _write_text(path: Path, cs, w2v: dict, vecs: dict, npy: Path) -> int:
    """text.h5: the released vectors keyed by the word2vec name (or the original name); the valid count."""
    ids = [c["id"] for c in cs.classes]
    X, valid, reasons = [], [], []
    for c in ids:
        v = vecs.get(w2v.get(c, c), vecs.get(c))
        valid.append(v is not None)
        reasons.append("" if v is not None else f"no vector for {w2v.get(c, c)!r} in {npy.name}")
        X.append(v if v is not None else np.zeros(len(next(iter(vecs.values()))), np.float32))
    tmeta = StoreMeta(kind="class", modality="text", extractor="avgzsl-benchmark:w2v",
                      extractor_meta={"source": str(npy), "note": "the benchmark's released word2vec vectors"},
                      inputs=[input_record(npy)], class_set_sha256=cs.sha256)
    write_embeddings(path, meta=tmeta, ids=ids, X=np.stack(X), classes=ids, valid=np.array(valid), reasons=reasons,
                     overwrite=True)
    return int(sum(valid))


def _write_modality(out: Path, modality: str, feat: Path, lists: dict, features: str, sdir: Path, listed: dict,
                    all_classes: list[str]) -> tuple[dict, dict]:
    """The rows of every stage folder in one ``<modality>.h5``; (its summary, the ids of each group).
    Stage 2 trains on the stage-1 train + validation rows, as the reference loader does."""
    folders = [f for f, _ in GROUPS.values()]
    rows: dict = {}
    left_total = {"other_class_rows": 0, "other_classes": set(), "duplicate_ids": 0}
    part_ids = {g: _stage_rows(feat / modality / folder, set(lists[class_list]), rows, left_total)
                for g, (folder, class_list) in GROUPS.items()}
    n = _write_instances(out / f"{modality}.h5", rows, all_classes, modality, features,
                         [input_record(sdir / f"{s}.txt") for s in folders])
    csv_ids = {i for f in folders for i in listed.get(f, {})}
    rec = {"rows": n, "left_out_other_classes": sorted(left_total["other_classes"]),
           "left_out_rows": left_total["other_class_rows"], "duplicate_ids": left_total["duplicate_ids"],
           "listed_without_features": len(csv_ids - set(rows)) if csv_ids else None,
           "features_not_listed": len(set(rows) - csv_ids) if csv_ids else None}
    if rec["left_out_rows"]:
        log.warning(f"{modality}: {rec['left_out_rows']} rows of classes not in the stages' class lists left out "
                    f"({', '.join(rec['left_out_other_classes'][:5])})")
    return rec, part_ids


def _write_split(out: Path, cs, lists: dict, ids_of: dict, dataset: str, split: str) -> dict:
    """split.json: both stages of the protocol (checked by ``check_stages``); the per-stage summary."""
    from zsltool.evaluate.two_stage import check_stages

    seen1, unseen1 = lists["stage_1_train"], lists["stage_1_val_unseen"]
    seen2, unseen2 = lists["stage_2_train"], lists["stage_2_test_unseen"]
    s2_train_ids = ids_of["s1_train"] + ids_of["s1_val"] + ids_of["s1_val_unseen"]
    stage1 = Trial(train=list(seen1), val=[], test=list(seen1) + list(unseen1), seen=list(seen1), unseen=list(unseen1),
                   instances={"train": ids_of["s1_train"], "val": ids_of["s1_val"],
                              "val_unseen": ids_of["s1_val_unseen"], "test_seen": [], "test_unseen": []})
    stage2 = Trial(train=list(seen2), val=[], test=list(seen2) + list(unseen2), seen=list(seen2), unseen=list(unseen2),
                   instances={"train": s2_train_ids, "test_seen": ids_of["s2_test_seen"],
                              "test_unseen": ids_of["s2_test_unseen"]})
    sp = Split(trials=[stage1, stage2], protocol="gzsl", seed=0, class_set_sha256=cs.sha256,
               params={"benchmark": "AVCA-GZSL", "dataset": dataset, "split": split, "two_stage": [[0, 1]],
                       "stage_folders": {g: f for g, (f, _) in GROUPS.items()},
                       "meaning": "trial 0 = stage 1 (train; choose the epoch and beta on val + val_unseen), "
                                  "trial 1 = stage 2 (retrain on train + validation, test): zsl experiment "
                                  "--two-stage"})
    sp.path = out / "split.json"
    check_stages(sp, 0, 1)
    sp.save(out / "split.json", overwrite=True, inputs=[input_record(out / "classes.json")])
    return {
        1: {"seen": len(seen1), "unseen": len(unseen1), "train_rows": len(ids_of["s1_train"]),
            "val_seen_rows": len(ids_of["s1_val"]), "val_unseen_rows": len(ids_of["s1_val_unseen"])},
        2: {"seen": len(seen2), "unseen": len(unseen2), "train_rows": len(s2_train_ids),
            "test_seen_rows": len(ids_of["s2_test_seen"]), "test_unseen_rows": len(ids_of["s2_test_unseen"])}}
