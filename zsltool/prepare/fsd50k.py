"""FSD50K (Fonseca et al. 2022) as downloaded: ``FSD50K.ground_truth/{dev,eval,vocabulary}.csv`` and
``FSD50K.dev_audio/``, ``FSD50K.eval_audio/``.

``dev.csv``: fname, labels, mids, split (train/val); ``eval.csv``: fname, labels, mids; labels and mids are
comma-separated (multi-label clips, the ancestors of each leaf label included). ``vocabulary.csv`` (no
header): index, label, mid. Class ids are the AudioSet MIDs (so that ``zsl build-classes`` can intersect the
set with Open Images), names the FSD50K labels (``Accelerating_and_revving_and_vroom``; extract-text splits
the underscores). The manifest's ``fold`` column is FSD50K's own partition: train, val (both from dev) or eval.
FSD50K defines no zero-shot split; make one with ``zsl split``.
"""

from __future__ import annotations

import os

from zsltool.errors import ZslError
from zsltool.prepare.common import Prepared, need_file, need_folder, present_unique, read_csv, write_prepared

GT = "FSD50K.ground_truth"


def load_fsd50k(root: str | os.PathLike) -> Prepared:
    root = need_folder(root, "FSD50K folder")
    voc = need_file(root, f"{GT}/vocabulary.csv", "FSD50K")
    dev = need_file(root, f"{GT}/dev.csv", "FSD50K")
    ev = need_file(root, f"{GT}/eval.csv", "FSD50K")
    vocab = read_csv(voc, ["index", "label", "mid"], "FSD50K", header=False, fieldnames=["index", "label", "mid"])
    if vocab and vocab[0]["label"] == "label":  # tolerate a header line
        vocab = vocab[1:]
    mids = {v["mid"]: v["label"] for v in vocab}
    if not mids:
        raise ZslError(f"{voc} lists no classes")
    clips = []
    for path, part_of, audio in ((dev, "dev", "FSD50K.dev_audio"), (ev, "eval", "FSD50K.eval_audio")):
        rows = read_csv(path, ["fname", "labels", "mids"] + (["split"] if part_of == "dev" else []), "FSD50K")
        for n, r in enumerate(rows, start=2):
            ms = [m.strip() for m in r["mids"].split(",") if m.strip()]
            unknown = [m for m in ms if m not in mids]
            if unknown:
                raise ZslError(f"{path}: row {n}: MID {unknown[0]} is not in {voc.name}")
            clips.append({"id": r["fname"], "path": str(root / audio / f"{r['fname']}.wav"), "labels": ms,
                          "fold": r.get("split") or "eval", "fsd50k_labels": r["labels"]})
    clips, missing, dup = present_unique(clips)
    cls = [{"id": v["mid"], "name": v["label"], "mid": v["mid"], "fsd50k_index": int(v["index"])} for v in vocab]
    multi = sum(len(c["labels"]) > 1 for c in clips)
    return Prepared(dataset="FSD50K", classes=cls, clips=clips, extra_columns=["fold"], missing=missing,
                    duplicates=dup, inputs=[str(voc), str(dev), str(ev)],
                    notes={"fold_column": "FSD50K's partition: train / val (dev set) or eval",
                           "multi_label_clips": multi})


def prepare_fsd50k(root: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False) -> dict:
    """Write ``classes.json`` (ids = AudioSet MIDs) and ``clips.csv`` (multi-label, ``fold`` = train/val/eval)."""
    return write_prepared(load_fsd50k(root), out, overwrite=overwrite)
