"""Data selection: AudioSet segments -> clip manifest, Open Images boxes -> crop manifest.

Labels are mapped onto the class set by MID (merged child MIDs count as their parent). Each class keeps at
most ``per_class`` items, sampled with a seeded RNG (Dogan et al.: 300 clips and 1000 crops per class).
The manifest formats and their readers are in :mod:`zsltool.classes.manifest`.
"""

from __future__ import annotations

import csv
import logging
import os
import string
from collections import Counter
from typing import Sequence

from zsltool.classes.classset import ClassSet
from zsltool.classes.manifest import manifest_header, write_clip_manifest, write_crop_manifest
from zsltool.errors import ZslError
from zsltool.files.checks import check_output, require_file
from zsltool.files.provenance import input_record

log = logging.getLogger("zsltool.classes.select")

AUDIO_FIELDS = ("id", "ytid", "start", "end", "start_ms", "start_int", "end_int")
IMAGE_FIELDS = ("image_id", "source")


def _check_template(template: str, fields: Sequence[str], opt: str) -> None:
    try:
        used = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise ZslError(f"bad {opt} {template!r}: {e}") from None
    bad = [f for f in used if f not in fields]
    if bad:
        raise ZslError(f"{opt} {template!r} uses unknown field {{{bad[0]}}}",
                       hint=f"fields: {', '.join('{' + f + '}' for f in fields)}")


def read_segments(paths: Sequence[str | os.PathLike]) -> list[dict]:
    """AudioSet segment CSVs (``# ...`` header lines; YTID, start_seconds, end_seconds, "quoted,labels")."""
    out = []
    for path in paths:
        p = require_file(path, "AudioSet segment CSV")
        with open(p, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader((ln for ln in f if ln.strip() and not ln.lstrip().startswith("#")),
                                skipinitialspace=True)
            for n, row in enumerate(_text_rows(reader, p, "an AudioSet segment CSV"), start=1):
                if len(row) < 4:
                    raise ZslError(f"{p}: data row {n} has {len(row)} fields, expected "
                                   "YTID, start_seconds, end_seconds, positive_labels")
                if n == 1 and row[0].strip() in ("YTID", "ytid"):
                    continue
                try:
                    start, end = float(row[1]), float(row[2])
                except ValueError:
                    raise ZslError(f"{p}: data row {n}: start/end are not numbers: {row[1]!r}, {row[2]!r}") from None
                labels = [x.strip() for x in ",".join(row[3:]).split(",") if x.strip()]
                out.append({"ytid": row[0].strip(), "start": start, "end": end, "labels": labels})
    if not out:
        raise ZslError(f"no segments in {', '.join(str(p) for p in paths)}",
                       hint="expected AudioSet segment CSVs (YTID, start_seconds, end_seconds, positive_labels)")
    return out


def segment_fields(s: dict) -> dict:
    """The ``--path-template`` fields (``AUDIO_FIELDS``) of a segment; its clip id is ``<YTID>_<start in ms>``."""
    start_ms = int(round(s["start"] * 1000))
    return {"id": f"{s['ytid']}_{start_ms}", "ytid": s["ytid"], "start": s["start"], "end": s["end"],
            "start_ms": start_ms, "start_int": int(s["start"]), "end_int": int(s["end"])}


def _text_rows(rows, path, what: str):
    """Iterate CSV rows, turning a binary file's decode error into a ZslError."""
    try:
        yield from rows
    except UnicodeDecodeError:
        raise ZslError(f"{path} is not a text file", hint=f"expected {what}") from None


def _nothing_selected(n_items: int, what: str, cs: ClassSet) -> ZslError:
    return ZslError(f"none of the {n_items} {what} has a class of the class set ({len(cs)} classes)",
                    hint="check that the class set and the annotation files use the same MIDs")


def _cap_select(items: list[dict], cap: int, seed: int) -> list[dict]:
    """At most ``cap`` items per class; classes are filled from the rarest up, an item is taken only when none
    of its classes is full, candidates are visited in a seeded random order."""
    import numpy as np

    if cap < 1:
        raise ZslError(f"--per-class must be at least 1, got {cap}", hint="e.g. --per-class 50")
    items = sorted(items, key=lambda r: r["id"])
    by_class: dict[str, list[int]] = {}
    for i, r in enumerate(items):
        for c in r["labels"]:
            by_class.setdefault(c, []).append(i)
    rng = np.random.default_rng(seed)
    order = sorted(by_class, key=lambda c: (len(by_class[c]), c))
    perms = {c: [by_class[c][j] for j in rng.permutation(len(by_class[c]))] for c in sorted(by_class)}
    count = {c: 0 for c in by_class}
    taken: set[int] = set()
    for c in order:
        for i in perms[c]:
            if count[c] >= cap:
                break
            if i in taken or any(count[x] >= cap for x in items[i]["labels"]):
                continue
            taken.add(i)
            for x in items[i]["labels"]:
                count[x] += 1
    return [items[i] for i in sorted(taken)]


def _per_class(cs: ClassSet, rows: list[dict], key) -> dict:
    """The summary's ``empty_classes`` and ``counts`` (by class name) of the selected ``rows``."""
    counts = Counter(c for r in rows for c in key(r))
    return {"empty_classes": [cs.names[i] for i, c in enumerate(cs.ids) if counts[c] == 0],
            "counts": {cs.names[i]: counts[c] for i, c in enumerate(cs.ids)}}


def select_audio(segments: Sequence[str | os.PathLike], classes: str | os.PathLike, out: str | os.PathLike, *,
                 per_class: int = 300, seed: int = 0, single_label: bool = False,
                 path_template: str = "{id}.wav", trimmed: bool = True, overwrite: bool = False) -> dict:
    """AudioSet segments -> clip manifest. ``trimmed``: the audio files hold only the segment (start/end left
    empty); otherwise they hold the whole video and the manifest records the segment bounds."""
    _check_template(path_template, AUDIO_FIELDS, "--path-template")
    check_output(out, overwrite)
    cs = ClassSet.load(classes)
    m2c = cs.mid_to_class
    segs = read_segments(segments)
    rows, n_none, n_multi, ids = [], 0, 0, set()
    for s in segs:
        labels = list(dict.fromkeys(m2c[m] for m in s["labels"] if m in m2c))
        if not labels:
            n_none += 1
            continue
        if single_label and len(labels) != 1:
            n_multi += 1
            continue
        f = segment_fields(s)
        cid = f["id"]
        if cid in ids:
            log.warning("duplicate segment %s skipped", cid)
            continue
        ids.add(cid)
        rows.append({"id": cid, "path": path_template.format(**f), "labels": labels,
                     "start": None if trimmed else s["start"], "end": None if trimmed else s["end"]})
    if not rows:
        raise _nothing_selected(len(segs), "segments" if not single_label else "single-label segments", cs)
    chosen = _cap_select(rows, per_class, seed)
    inputs = [input_record(classes)] + [input_record(p) for p in segments]
    write_clip_manifest(out, chosen, header=manifest_header(cs.sha256, inputs))
    return {"out": str(out), "class_set_sha256": cs.sha256, "segments": len(segs), "matching": len(rows),
            "no_class": n_none, "multi_class_dropped": n_multi, "selected": len(chosen), "per_class": per_class,
            "seed": seed, **_per_class(cs, chosen, lambda r: r["labels"])}


def _flag(v: str | None) -> bool:
    return str(v or "").strip() == "1"


def select_images(annotations: Sequence[str | os.PathLike], classes: str | os.PathLike, out: str | os.PathLike, *,
                  per_class: int = 1000, seed: int = 0, drop_group_of: bool = False, drop_depiction: bool = False,
                  path_template: str = "{image_id}.jpg", overwrite: bool = False) -> dict:
    """Open Images box annotation CSVs -> crop manifest (one row per box of a class-set class)."""
    _check_template(path_template, IMAGE_FIELDS, "--path-template")
    check_output(out, overwrite)
    cs = ClassSet.load(classes)
    m2c = cs.mid_to_class
    need = ["ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax"]
    rows, n_boxes, n_filtered, per_image = [], 0, 0, {}
    for path in annotations:
        p = require_file(path, "Open Images box annotation CSV")
        with open(p, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            try:
                fieldnames = reader.fieldnames or []
            except UnicodeDecodeError:
                raise ZslError(f"{p} is not a text file", hint="expected an Open Images box annotation CSV") from None
            missing = [c for c in need if c not in fieldnames]
            if missing:
                raise ZslError(f"{p} is not an Open Images box annotation CSV: missing {', '.join(missing)}",
                               hint="expected ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,...")
            for n, r in enumerate(_text_rows(reader, p, "an Open Images box annotation CSV"), start=2):
                n_boxes += 1
                img = r["ImageID"]
                k = per_image.get(img, 0)
                per_image[img] = k + 1  # box number within its image, counted over every box
                cid = m2c.get(r["LabelName"])
                if cid is None:
                    continue
                g, d = _flag(r.get("IsGroupOf")), _flag(r.get("IsDepiction"))
                if (drop_group_of and g) or (drop_depiction and d):
                    n_filtered += 1
                    continue
                try:
                    box = [float(r[c]) for c in ("XMin", "XMax", "YMin", "YMax")]
                except ValueError:
                    raise ZslError(f"{p}: line {n}: box coordinates are not numbers") from None
                rows.append({"id": f"{img}_{k}", "image_id": img,
                             "path": path_template.format(image_id=img, source=r.get("Source", "")),
                             "class": cid, "labels": [cid], "xmin": box[0], "xmax": box[1], "ymin": box[2],
                             "ymax": box[3], "is_group_of": g, "is_depiction": d, "source_label": r["LabelName"]})
    if not rows and not n_filtered:
        raise _nothing_selected(n_boxes, "boxes", cs)
    chosen = _cap_select(rows, per_class, seed)
    inputs = [input_record(classes)] + [input_record(p) for p in annotations]
    write_crop_manifest(out, chosen, header=manifest_header(cs.sha256, inputs))
    return {"out": str(out), "class_set_sha256": cs.sha256, "boxes": n_boxes, "matching": len(rows) + n_filtered,
            "filtered": n_filtered, "selected": len(chosen), "per_class": per_class, "seed": seed,
            **_per_class(cs, chosen, lambda r: [r["class"]])}

