"""What the extract commands read: files, folders and manifests -> items with ids and labels (no torch).

One collector per modality, all with the same shape::

    items, class_ids, records = collect_inputs("video", ["videos/", "more.csv"], class_set)

``class_ids`` is the file's class list (the class set's ids when one is given, else the classes the
manifests name, sorted); ``records`` are the provenance input records (path + sha256).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable, Sequence

from zsltool.classes.manifest import read_clip_manifest, read_crop_manifest, resolve_manifest_path
from zsltool.errors import ZslError
from zsltool.extract.audio.io import AUDIO_EXTENSIONS
from zsltool.extract.runner import Item
from zsltool.files.provenance import input_record

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg")


def _labelled(rows, class_set, what: str) -> tuple[list[Item], list[str]]:
    """Rows ``(id, source, [class names], extra)`` -> items with class indices, and the class list (the class
    set's, else the classes the rows name, sorted)."""
    seen: dict[str, object] = {}
    for rid, src, _c, _x in rows:
        if rid in seen:
            raise ZslError(f"two inputs have the same id {rid!r} ({seen[rid]} and {src})",
                           hint="ids are paths under the folder, or file names without extension: rename one")
        seen[rid] = src
    class_ids = class_set.ids if class_set else sorted({c for r in rows for c in r[2]})
    resolve = class_set.resolve if class_set else None
    index = {c: i for i, c in enumerate(class_ids)}
    items = []
    for rid, src, labels, extra in rows:
        idx = []
        for c in labels:
            cid = resolve(c) if resolve else c
            if cid not in index:
                raise ZslError(f"{what} {rid!r} has class {c!r}, which is not in the class set")
            if index[cid] not in idx:
                idx.append(index[cid])
        items.append(Item(id=rid, source=src, labels=sorted(idx), extra={"labels": list(labels), **extra}))
    return items, list(class_ids)


def find_files(folder: str | os.PathLike, extensions: Sequence[str]) -> list[Path]:
    """Files under ``folder`` (recursive, by extension), sorted by path. A sub-folder that cannot be read is a
    ZslError (``Path.rglob`` would skip it without a word, and its files would be missing)."""

    def refuse(e: OSError):
        raise ZslError(f"cannot read folder {e.filename}: {e.strerror or e}",
                       hint="give zsl read access to it (chmod), or move it out of the folder") from None

    found = []
    for dirpath, _, files in os.walk(folder, onerror=refuse):
        found += [Path(dirpath) / f for f in files if Path(f).suffix.lower() in extensions]
    return sorted(p for p in found if p.is_file())


# -- audio ---------------------------------------------------------------------------------------------------
def audio_rows(inputs: Sequence[str], stdin=None) -> tuple[list[tuple], list[dict]]:
    rows, records = [], []
    for raw in inputs:
        if str(raw) == "-":
            rows.extend((s, s, [], {}) for s in paths_from_lines(stdin if stdin is not None else sys.stdin))
            records.append({"path": "<stdin>", "sha256": ""})
            continue
        p = Path(raw)
        if p.is_dir():
            files = find_files(p, AUDIO_EXTENSIONS)
            if not files:
                raise ZslError(f"no audio files under {p}", hint="expected .wav, .flac, .ogg, .mp3, ...")
            records.append({"path": str(p), "sha256": ""})
            rows.extend((f.relative_to(p).as_posix(), str(f), [], {}) for f in files)
        elif not p.exists():
            raise ZslError(f"input not found: {p}",
                           hint="give a clip manifest (.csv), a folder of audio, or - for stdin")
        elif p.suffix.lower() in AUDIO_EXTENSIONS:
            records.append(input_record(p))
            rows.append((p.name, str(p), [], {}))
        else:
            records.append(input_record(p))
            for r in read_clip_manifest(p):
                rows.append((r["id"], str(resolve_manifest_path(p, r["path"])), r["labels"],
                             {"start": r.get("start"), "end": r.get("end")}))
    return rows, records


def paths_from_lines(lines: Iterable[str]) -> list[str]:
    """One path per line (blank lines and ``#`` comments skipped, repeats dropped)."""
    out, seen = [], set()
    for line in lines:
        s = line.strip()
        if s and not s.startswith("#") and s not in seen:
            seen.add(s)
            out.append(s)
    if not out:
        raise ZslError("no audio paths were given on stdin")
    return out


def collect_audio(inputs: Sequence[str], class_set=None, stdin=None):
    """Clip manifests (``id,path,labels,start,end``), folders, audio files, or ``-`` (paths on stdin)."""
    rows, records = audio_rows([str(i) for i in inputs], stdin)
    if class_set is None:  # no class set: the rows carry no labels (the file has no class list)
        rows = [(rid, src, [], extra) for rid, src, _c, extra in rows]
    items, class_ids = _labelled(rows, class_set, "clip")
    return items, class_ids, records


# -- images and videos --------------------------------------------------------------------------------------
def _collect_media(inputs, class_set, media: str, extensions: Sequence[str], unit: str, manifest_suffixes,
                   manifest_rows, no_span: tuple):
    """Files, folders (recursive) and manifests of ``media``; ``manifest_rows(manifest)`` yields a manifest's
    rows; a plain file's or folder file's source is ``(path, *no_span)`` and its id the path without extension
    (under the folder, for folders)."""
    rows, records = [], []
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise ZslError(f"input not found: {p}", hint=f"give {media} files, folders or {unit} manifests (.csv)")
        if p.is_file() and p.suffix.lower() in manifest_suffixes:
            records.append(input_record(p))
            rows.extend(manifest_rows(p))
        elif p.is_dir():
            files = find_files(p, extensions)
            if not files:
                raise ZslError(f"no {media}s ({', '.join(extensions)}) under {p}")
            records.append({"path": str(p), "sha256": "", "files": len(files)})
            rows.extend((f.relative_to(p).with_suffix("").as_posix(), (str(f), *no_span), [], {}) for f in files)
        else:
            records.append(input_record(p))
            rows.append((p.stem, (str(p), *no_span), [], {}))
    if not rows:
        raise ZslError("no inputs to embed")
    items, class_ids = _labelled(rows, class_set, unit)
    return items, class_ids, records


def _crop_rows(manifest: Path):
    for r in read_crop_manifest(manifest):
        path = resolve_manifest_path(manifest, r["path"])
        yield r["id"], (str(path), (r["xmin"], r["xmax"], r["ymin"], r["ymax"])), [r["class"]], {}


def _clip_rows(manifest: Path):
    for r in read_clip_manifest(manifest):
        yield r["id"], (str(resolve_manifest_path(manifest, r["path"])), r["start"], r["end"]), r["labels"], {}


def collect_image(inputs: Sequence[str | os.PathLike], class_set=None, stdin=None):
    """Image files, folders of images (recursive) and crop manifests (``zsl select-images``).

    Crop rows are labelled with their ``class``; plain images get no label; their id is the file name without
    extension (the path under the folder, without extension, for folders).
    """
    return _collect_media(inputs, class_set, "image", IMAGE_EXTENSIONS, "crop", (".csv", ".tsv"), _crop_rows,
                          (None,))


def collect_video(inputs: Sequence[str | os.PathLike], class_set=None, stdin=None):
    """Video files, folders of videos and clip manifests (``id,path,labels,start,end``)."""
    return _collect_media(inputs, class_set, "video", VIDEO_EXTENSIONS, "clip", (".csv",), _clip_rows,
                          (None, None))


COLLECTORS = {"audio": collect_audio, "image": collect_image, "video": collect_video}


def collect_inputs(modality: str, inputs: Sequence, class_set=None, stdin=None):
    if modality not in COLLECTORS:
        raise ZslError(f"no input collector for modality {modality!r}")
    return COLLECTORS[modality](inputs, class_set, stdin)
