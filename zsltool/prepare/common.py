"""What every dataset recipe shares: reading the dataset's CSVs, writing the class set, the clip manifest (with
the dataset's own columns such as ``fold``) and split files atomically, and the summary."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from zsltool.classes.classset import ClassSet
from zsltool.classes.split_classes import split_folds
from zsltool.errors import ZslError
from zsltool.files.checks import ensure_writable_folder, read_text
from zsltool.files.provenance import input_record
from zsltool.files.safety import check_not_input, remove_if_empty

log = logging.getLogger("zsltool.prepare")

def need_folder(path: str | os.PathLike, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise ZslError(f"{what} not found: {p}", hint="give the dataset's folder as downloaded")
    if not p.is_dir():
        raise ZslError(f"{what} is not a folder: {p}", hint="give the dataset's folder as downloaded")
    return p.resolve()


def need_file(root: Path, rel: str, dataset: str) -> Path:
    p = root / rel
    if not p.is_file():
        raise ZslError(f"{root} does not look like {dataset}: expected the file {rel} in it",
                       hint=f"give the folder that holds {rel.split('/')[0]}")
    return p


def read_csv(path: Path, required: Sequence[str], dataset: str, header: bool = True,
             fieldnames: Sequence[str] | None = None) -> list[dict]:
    """Rows of a dataset CSV as dicts (stripped keys and values); a ZslError naming missing columns."""
    text = read_text(path, f"{dataset} metadata file")
    reader = csv.DictReader(io.StringIO(text, newline=""), fieldnames=None if header else list(fieldnames or []))
    cols = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in required if c not in cols]
    if missing:
        raise ZslError(f"{path} is not {dataset}'s metadata: missing column(s) {', '.join(missing)} "
                       f"(found {', '.join(cols) or 'none'})", hint=f"expected columns {','.join(required)}")
    return [{(k or "").strip(): (v or "").strip() for k, v in r.items() if k is not None} for r in reader]


@dataclass
class Prepared:
    """A recipe's result before writing: classes, clip rows and optional split files."""

    dataset: str
    classes: list[dict]
    clips: list[dict]  # id, path (absolute), labels (class ids), start, end, + dataset columns
    extra_columns: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # clip ids whose file is not on disk
    duplicates: list[str] = field(default_factory=list)
    notes: dict = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)


def check_outputs(out: Path, names: Iterable[str], overwrite: bool) -> None:
    """ZslError when ``out`` is a file, one of the ``names`` in it is an input of the command, or exists (without
    ``overwrite``); then ``out`` is created."""
    if out.exists() and not out.is_dir():
        raise ZslError(f"{out} is a file; zsl prepare writes a folder", hint="give a folder path (new or existing) "
                       "to -o")
    for n in names:
        check_not_input(out / n)  # before anything is written, even with --overwrite
    if not overwrite:
        clash = [n for n in names if (out / n).exists()]
        if clash:
            raise ZslError(f"output already exists: {out / clash[0]}", hint="pass --overwrite to replace it")
    ensure_writable_folder(out)


@contextlib.contextmanager
def all_or_none(out: str | os.PathLike, names: Sequence[str], overwrite: bool) -> Iterator[Path]:
    """The output folder of a recipe that writes ``names`` into it: all of them, or none. Checked first
    (``check_outputs``); when the recipe fails, the files it wrote are removed, those it replaced (--overwrite)
    are put back, and a folder it created is removed again."""
    out = Path(out)
    created = not out.exists()
    check_outputs(out, names, overwrite)
    backups = {}
    try:
        for n in names:
            if (out / n).is_file():  # kept under a hidden name until the run has succeeded
                backups[n] = out / f".{n}.zsl-replaced"
                shutil.copy2(out / n, backups[n])
        yield out
    except BaseException:
        for n in names:
            if n in backups:
                os.replace(backups.pop(n), out / n)
            else:
                (out / n).unlink(missing_ok=True)
        if created:
            remove_if_empty(out)
        raise
    finally:
        for b in backups.values():
            b.unlink(missing_ok=True)


def numbered_classes(meta: Path, rows: list[dict], number: str, name: str) -> list[tuple[int, str]]:
    """(class number, name) of the rows of a dataset CSV, by number: every row's ``number`` column must be an
    integer that names the same class (column ``name``) on every row."""
    classes: dict[int, str] = {}
    for n, row in enumerate(rows, start=2):
        try:
            k = int(row[number])
        except ValueError:
            raise ZslError(f"{meta}: row {n}: {number} {row[number]!r} is not a number") from None
        if classes.setdefault(k, row[name]) != row[name]:
            raise ZslError(f"{meta}: {number} {k} is both {classes[k]!r} and {row[name]!r}")
    return sorted(classes.items())


def write_with_class_folds(prep: Prepared, out: str | os.PathLike, *, class_folds: int, seed: int,
                           overwrite: bool) -> dict:
    """``write_prepared`` plus ``split_class_folds.json``: seeded zero-shot class folds (trial k tests fold k)."""
    split = split_folds(ClassSet(classes=prep.classes), folds=class_folds, seed=seed)
    return write_prepared(prep, out, splits={"split_class_folds.json": split}, overwrite=overwrite)


def present_unique(rows: list[dict]) -> tuple[list[dict], list[str], list[str]]:
    """(the rows whose id is new and whose file exists, the ids of those whose file is missing, the repeated ids)."""
    seen, keep, missing, dup = set(), [], [], []
    for r in rows:
        if r["id"] in seen:
            dup.append(r["id"])
            continue
        seen.add(r["id"])
        if Path(r["path"]).is_file():
            keep.append(r)
        else:
            missing.append(r["id"])
    return keep, missing, dup


def write_prepared(prep: Prepared, out: str | os.PathLike, *, splits: dict | None = None,
                   overwrite: bool = False, extra_files: dict | None = None) -> dict:
    """Write ``classes.json``, ``clips.csv`` (``id,path,labels,start,end`` plus the dataset's columns: ``fold``,
    ...) and the split files (name -> Split) into ``out``; the summary."""
    from zsltool.classes.manifest import manifest_header, write_clip_manifest

    out = Path(out)
    names = ["classes.json", "clips.csv", *(splits or {}), *(extra_files or {})]
    if not prep.clips:
        raise ZslError(f"no clip of {prep.dataset} was found on disk ({len(prep.missing)} listed files are missing)",
                       hint="check the dataset folder: the audio files should be where the metadata says")
    with all_or_none(out, names, overwrite):
        cs = ClassSet(classes=prep.classes, name=prep.dataset, source={"dataset": prep.dataset})
        cs.save(out / "classes.json", overwrite=True, inputs=[input_record(p) for p in prep.inputs])
        header = manifest_header(cs.sha256, [input_record(p) for p in prep.inputs], dataset=prep.dataset)
        write_clip_manifest(out / "clips.csv", prep.clips, header, prep.extra_columns)
        written = {"classes": str(out / "classes.json"), "clips": str(out / "clips.csv")}
        for name, split in (splits or {}).items():
            split.class_set_sha256 = cs.sha256
            split.save(out / name, overwrite=True, inputs=[input_record(out / "classes.json")])
            written[name] = str(out / name)
        for name, writer in (extra_files or {}).items():
            writer(out / name)
            written[name] = str(out / name)
    counts = Counter(c for r in prep.clips for c in r["labels"])
    if prep.missing:
        log.warning(f"{len(prep.missing)} listed clips have no file on disk and are left out "
                    f"(first: {', '.join(prep.missing[:3])})")
    if prep.duplicates:
        log.warning(f"{len(prep.duplicates)} duplicate clip ids were left out (first: {prep.duplicates[0]})")
    return {"dataset": prep.dataset, "out": str(out), "classes": len(prep.classes), "clips": len(prep.clips),
            "missing_files": len(prep.missing), "missing_ids": prep.missing[:20],
            "duplicate_ids": len(prep.duplicates), "duplicate_examples": prep.duplicates[:20],
            "empty_classes": [c["id"] for c in prep.classes if not counts.get(c["id"])],
            "class_set_sha256": cs.sha256, "files": written, **prep.notes}
