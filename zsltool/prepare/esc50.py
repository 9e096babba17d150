"""ESC-50 (Piczak 2015) as downloaded (``ESC-50-master/``): ``meta/esc50.csv`` (filename, fold, target, category,
esc10, src_file, take) and ``audio/*.wav``.

ESC-50's five official folds are *clip* folds (every class in every fold): the manifest keeps them in its
``fold`` column for supervised work. Zero-shot work needs *class* folds: ``split_class_folds.json`` holds five
folds of the classes (trial k tests fold k, validates on fold k+1, trains on the rest), seeded.
"""

from __future__ import annotations

import os

from zsltool.errors import ZslError
from zsltool.prepare.common import (Prepared, need_file, need_folder, numbered_classes, present_unique, read_csv,
                                    write_with_class_folds)

COLUMNS = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]


def load_esc50(root: str | os.PathLike, *, esc10: bool = False) -> Prepared:
    root = need_folder(root, "ESC-50 folder")
    meta = need_file(root, "meta/esc50.csv", "ESC-50")
    rows = read_csv(meta, COLUMNS, "ESC-50")
    if esc10:
        rows = [r for r in rows if r["esc10"].lower() == "true"]
        if not rows:
            raise ZslError(f"{meta} marks no clip as ESC-10 (column esc10)", hint="drop --esc10 for all 50 classes")
    cls = [{"id": name, "name": name, "target": t, "esc10": esc10 or None}
           for t, name in numbered_classes(meta, rows, "target", "category")]
    clips, missing, dup = present_unique([
        {"id": r["filename"].rsplit(".", 1)[0], "path": str(root / "audio" / r["filename"]), "labels": [r["category"]],
         "fold": r["fold"], "esc10": r["esc10"], "src_file": r["src_file"], "take": r["take"]} for r in rows])
    cls = [{k: v for k, v in c.items() if v is not None} for c in cls]
    return Prepared(dataset="ESC-10" if esc10 else "ESC-50", classes=cls, clips=clips,
                    extra_columns=["fold", "esc10", "src_file", "take"], missing=missing, duplicates=dup,
                    inputs=[str(meta)],
                    notes={"fold_column": "ESC-50's official clip folds 1-5 (supervised protocol)"})


def prepare_esc50(root: str | os.PathLike, out: str | os.PathLike, *, esc10: bool = False, class_folds: int = 5,
                  seed: int = 0, overwrite: bool = False) -> dict:
    """Write ``classes.json``, ``clips.csv`` (with the official clip ``fold``) and ``split_class_folds.json``
    (zero-shot class folds) for ESC-50 (or its ESC-10 subset); returns the summary."""
    res = write_with_class_folds(load_esc50(root, esc10=esc10), out, class_folds=class_folds, seed=seed,
                                 overwrite=overwrite)
    res["split_class_folds"] = (f"{class_folds} class folds (zero-shot: test classes never trained on), "
                                f"seed {seed}")
    return res
