"""Selection manifests: the CSV file lists that the extractors consume.

Clip manifest (``zsl select-audio``), one row per audio clip::

    id,path,labels,start,end
    YTID_30000,/data/audioset/YTID.wav,/m/0bt9lr;/m/05tny_,30.0,40.0

- ``id``: unique clip id (``<YTID>_<start in ms>`` for AudioSet segments).
- ``path``: where the audio file lives (filled from the user's path template); a relative path is
  relative to the manifest's folder (:func:`resolve_manifest_path`), whatever the current directory.
- ``labels``: class ids of the class set, joined with ``;`` (merged child MIDs already mapped to parents).
- ``start``, ``end``: segment bounds in seconds inside the file (empty = the whole file).

Crop manifest (``zsl select-images``), one row per bounding box::

    id,image_id,path,class,xmin,xmax,ymin,ymax,is_group_of,is_depiction,source_label

- ``id``: unique crop id (``<ImageID>_<row number>``); ``class``: class id of the class set;
  ``xmin..ymax``: box corners as fractions of the image size (Open Images convention);
  ``source_label``: the MID in the annotation (may be a merged child MID).

The same rule for a crop's ``path``. Lines starting with ``#`` are comments. Extra columns are kept as
strings.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Iterable, Sequence

from zsltool.errors import ZslError
from zsltool.files.checks import atomic_write_text, read_text
from zsltool.files.provenance import stamp

CLIP_COLUMNS = ["id", "path", "labels", "start", "end"]
CROP_COLUMNS = ["id", "image_id", "path", "class", "xmin", "xmax", "ymin", "ymax", "is_group_of",
                "is_depiction", "source_label"]
LABEL_SEP = ";"


def _read_rows(path: str | os.PathLike, required: list[str], what: str) -> list[dict]:
    p = Path(path)
    text = read_text(p, what, hint=f"expected a {what} (CSV)")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise ZslError(f"{p} is not a {what}: missing column(s) {', '.join(missing)}",
                       hint=f"expected columns {','.join(required)}")
    rows = []
    for row in reader:
        rows.append({(k or "").strip(): (v if v is not None else "") for k, v in row.items()})
    return rows


def _float_or_none(v: str, p, n: int, col: str) -> float | None:
    v = (v or "").strip()
    if v == "":
        return None
    try:
        x = float(v)
    except ValueError:
        raise ZslError(f"{p}: row {n}: {col} {v!r} is not a number", hint=f"give {col} as a number") from None
    if not math.isfinite(x):
        raise ZslError(f"{p}: row {n}: {col} {v!r} is not a finite number",
                       hint=f"give {col} in seconds (or leave it empty for the whole file)" if col in ("start", "end")
                       else f"give {col} as a number")
    return x


def read_manifest_header(path: str | os.PathLike) -> dict:
    """The ``# key: value`` provenance lines at the top of a manifest (values as strings)."""
    out = {}
    with open(path, encoding="utf-8-sig") as f:
        for ln in f:
            if not ln.startswith("#"):
                break
            k, _, v = ln[1:].partition(":")
            if _:
                out[k.strip()] = v.strip()
    return out


def resolve_manifest_path(manifest: str | os.PathLike, path: str | os.PathLike) -> Path:
    """The file a manifest row names: ``~`` expanded; a relative path is taken relative to the folder of
    ``manifest`` (never the current directory), so every extractor reads the same file for the same row."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(manifest).resolve().parent / p


def _rows_with_ids(rows: list[dict], path, what: str):
    """(row number, row, stripped id) of each data row; an empty or repeated id is an error."""
    seen = set()
    for n, r in enumerate(rows, start=2):
        cid = r["id"].strip()
        if not cid:
            raise ZslError(f"{path}: row {n} has an empty id", hint="every row needs an id in the id column")
        if cid in seen:
            raise ZslError(f"{path}: duplicate {what} id {cid!r}", hint=f"every {what} needs its own id (the id "
                           "column); rename or remove the repeated row")
        seen.add(cid)
        yield n, r, cid


def read_clip_manifest(path: str | os.PathLike) -> list[dict]:
    """Read a clip manifest -> list of ``{"id", "path", "labels": [class ids], "start", "end"}``.

    ``start``/``end`` are floats in seconds or ``None`` (whole file). Ids must be unique.
    """
    rows = _read_rows(path, CLIP_COLUMNS, "clip manifest")
    out = []
    for n, r, cid in _rows_with_ids(rows, path, "clip"):
        labels = [x.strip() for x in r["labels"].split(LABEL_SEP) if x.strip()]
        item = dict(r)
        start, end = _float_or_none(r["start"], path, n, "start"), _float_or_none(r["end"], path, n, "end")
        if start is not None and start < 0:
            raise ZslError(f"{path}: row {n}: start {start:g} is negative", hint="start and end are seconds from the "
                           "beginning of the file, with 0 <= start < end")
        if end is not None and end <= (start or 0.0):
            raise ZslError(f"{path}: row {n}: end {end:g} is not after start {start or 0.0:g}",
                           hint="start and end are seconds from the beginning of the file, with 0 <= start < end")
        item.update(id=cid, path=r["path"].strip(), labels=labels, start=start, end=end)
        out.append(item)
    if not out:
        raise ZslError(f"{path}: manifest lists no clips", hint="a clip manifest needs a row per clip under its "
                       "header id,path,labels,start,end")
    return out


def read_crop_manifest(path: str | os.PathLike) -> list[dict]:
    """Read a crop manifest -> list of dicts with ``id, image_id, path, class`` and float box corners."""
    rows = _read_rows(path, ["id", "image_id", "path", "class", "xmin", "xmax", "ymin", "ymax"], "crop manifest")
    out = []
    for n, r, cid in _rows_with_ids(rows, path, "crop"):
        item = dict(r)
        item.update(id=cid, image_id=r["image_id"].strip(), path=r["path"].strip(), **{"class": r["class"].strip()})
        for col in ("xmin", "xmax", "ymin", "ymax"):
            v = _float_or_none(r[col], path, n, col)
            if v is None:
                raise ZslError(f"{path}: row {n}: {col} is empty", hint="every crop needs its box: xmin, xmax, ymin, "
                               "ymax as fractions of the image (0-1)")
            item[col] = v
        for col in ("is_group_of", "is_depiction"):
            if col in item:
                item[col] = str(item[col]).strip() in ("1", "true", "True")
        out.append(item)
    if not out:
        raise ZslError(f"{path}: manifest lists no crops", hint="a crop manifest needs a row per box under its header")
    return out


def _fmt_num(v) -> str:
    if v is None or v == "":
        return ""
    return repr(float(v)) if not isinstance(v, str) else v


def manifest_header(class_set_sha256: str, inputs: list, **extra) -> dict:
    """A manifest's provenance lines: what wrote it, when, from which class set and inputs (``extra``: e.g. the
    dataset of ``zsl prepare``)."""
    return {"format": "zsl.manifest", **stamp(), **extra, "class_set_sha256": class_set_sha256, "inputs": inputs}


def _write_manifest(path: str | os.PathLike, columns, rows: Iterable[list], header: dict | None) -> None:
    buf = io.StringIO()  # provenance first, as ``# key: value`` comment lines (the readers skip them)
    buf.writelines(f"# {k}: {v if isinstance(v, str) else json.dumps(v)}\n" for k, v in (header or {}).items())
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def write_clip_manifest(path: str | os.PathLike, rows: Iterable[dict], header: dict | None = None,
                        extra_columns: Sequence[str] = ()) -> None:
    """Write a clip manifest atomically (rows: id, path, labels list, start, end, and the ``extra_columns``, such
    as a dataset's ``fold``); ``header``: provenance."""
    _write_manifest(path, CLIP_COLUMNS + list(extra_columns),
                    ([r["id"], r["path"], LABEL_SEP.join(r["labels"]), _fmt_num(r.get("start")),
                      _fmt_num(r.get("end"))] + [r.get(c, "") for c in extra_columns] for r in rows), header)


def write_crop_manifest(path: str | os.PathLike, rows: Iterable[dict], header: dict | None = None) -> None:
    """Write a crop manifest atomically; ``header``: provenance comment lines."""
    _write_manifest(path, CROP_COLUMNS, ([r["id"], r["image_id"], r["path"], r["class"], _fmt_num(r["xmin"]),
                                          _fmt_num(r["xmax"]), _fmt_num(r["ymin"]), _fmt_num(r["ymax"]),
                                          int(bool(r.get("is_group_of"))), int(bool(r.get("is_depiction"))),
                                          r.get("source_label", "")] for r in rows), header)
