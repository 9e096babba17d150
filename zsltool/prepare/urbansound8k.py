"""UrbanSound8K (Salamon et al. 2014) as downloaded: ``metadata/UrbanSound8K.csv`` (slice_file_name, fsID, start,
end, salience, fold, classID, class) and ``audio/fold1..10/``.

Its ten official folds are clip folds (kept in the manifest's ``fold`` column: use them, never a random clip
split, for supervised work); ``split_class_folds.json`` holds zero-shot class folds (5 folds of 2 classes).
The CSV's ``start``/``end`` are positions in the original Freesound recording, not in the slice file, so the
manifest leaves start/end empty (each slice file is the whole clip) and keeps them as ``source_start``/
``source_end``.
"""

from __future__ import annotations

import os

from zsltool.prepare.common import (Prepared, need_file, need_folder, numbered_classes, present_unique, read_csv,
                                    write_with_class_folds)

COLUMNS = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]


def load_urbansound8k(root: str | os.PathLike) -> Prepared:
    root = need_folder(root, "UrbanSound8K folder")
    meta = need_file(root, "metadata/UrbanSound8K.csv", "UrbanSound8K")
    rows = read_csv(meta, COLUMNS, "UrbanSound8K")
    cls = [{"id": name, "name": name, "classID": i} for i, name in numbered_classes(meta, rows, "classID", "class")]
    clips, missing, dup = present_unique([
        {"id": r["slice_file_name"].rsplit(".", 1)[0],
         "path": str(root / "audio" / f"fold{r['fold']}" / r["slice_file_name"]), "labels": [r["class"]],
         "fold": r["fold"], "fsID": r["fsID"], "salience": r["salience"], "source_start": r["start"],
         "source_end": r["end"]} for r in rows])
    return Prepared(dataset="UrbanSound8K", classes=cls, clips=clips,
                    extra_columns=["fold", "fsID", "salience", "source_start", "source_end"], missing=missing,
                    duplicates=dup, inputs=[str(meta)],
                    notes={"fold_column": "UrbanSound8K's official clip folds 1-10 (supervised protocol)"})


def prepare_urbansound8k(root: str | os.PathLike, out: str | os.PathLike, *, class_folds: int = 5, seed: int = 0,
                         overwrite: bool = False) -> dict:
    """Write ``classes.json``, ``clips.csv`` (official clip ``fold``) and ``split_class_folds.json``."""
    res = write_with_class_folds(load_urbansound8k(root), out, class_folds=class_folds, seed=seed,
                                 overwrite=overwrite)
    res["split_class_folds"] = f"{class_folds} class folds (zero-shot), seed {seed}"
    return res
