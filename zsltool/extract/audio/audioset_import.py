"""``import_audioset``: AudioSet's released embedding TFRecords -> an instance-level embedding file.

Two streaming passes over the TFRecords keep memory small: the first reads ids and labels and selects the
clips (labels mapped through class_labels_indices.csv and the class set, merged MIDs counting as their
parent; clips with no class of the set dropped; ``single_label``; ``per_class`` cap), the second
dequantizes (q / 255 * 4 - 2), averages per clip over its seconds and writes the selected rows.

Cap rule (``per_class=N``): the candidate clips are visited in a seeded random order; a clip is kept when at
least one of its classes has fewer than N kept clips so far, and then counts for every one of its classes.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.extract.audio.audioset_tfrecord import dequantize, iter_segments
from zsltool.files.provenance import input_record

log = logging.getLogger("zsltool.extract.audio")


def read_class_index(path: str | os.PathLike) -> dict[int, str]:
    """class_labels_indices.csv (``index,mid,display_name``) -> {index: mid}."""
    p = Path(path)
    if not p.is_file():
        raise ZslError(f"AudioSet class index not found: {p}", hint="pass class_labels_indices.csv to --class-index")
    out: dict[int, str] = {}
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ZslError(f"{p} is not a text file", hint="pass class_labels_indices.csv to --class-index") from None
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"index", "mid"} <= {f.strip() for f in reader.fieldnames}:
        raise ZslError(f"{p} is not an AudioSet class index (needs columns index,mid,display_name)")
    for row in reader:
        try:
            out[int(row["index"])] = row["mid"].strip()
        except (TypeError, ValueError, AttributeError):
            raise ZslError(f"{p}: line {reader.line_num} is not index,mid,display_name") from None
    return out


def tfrecord_files(paths: Sequence[str | os.PathLike]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*.tfrecord") if q.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            raise ZslError(f"TFRecord input not found: {p}", hint="give .tfrecord files or folders holding them")
    if not files:
        raise ZslError("no .tfrecord files found", hint="AudioSet's features archive unpacks into bal_train/, "
                       "eval/ and unbal_train/ folders of .tfrecord files")
    return files


def select_clips(candidates: list[tuple[str, list[int]]], per_class: int | None, seed: int) -> set[str]:
    """Apply the per-class cap (see the module docstring) to (id, class indices) candidates."""
    if not per_class:
        return {cid for cid, _ in candidates}
    order = np.random.default_rng(seed).permutation(len(candidates))
    counts: dict[int, int] = {}
    kept: set[str] = set()
    for i in order.tolist():
        cid, labs = candidates[i]
        if any(counts.get(c, 0) < per_class for c in labs):
            kept.add(cid)
            for c in labs:
                counts[c] = counts.get(c, 0) + 1
    return kept


def import_audioset(tfrecords: Sequence[str | os.PathLike], out: str | os.PathLike, *,
                    class_index: str | os.PathLike, classes_path: str | os.PathLike, per_class: int | None = None,
                    single_label: bool = False, frames: bool = False, seed: int = 0, verify_crc: bool = True,
                    overwrite: bool = False) -> dict:
    """Import the released embeddings of the clips that belong to the class set; returns a summary dict."""
    from zsltool.classes.classset import ClassSet
    from zsltool.files.checks import check_output
    from zsltool.files.provenance import command_line
    from zsltool.store import StoreMeta

    if per_class is not None and per_class < 1:
        raise ZslError(f"--per-class must be at least 1, got {per_class}", hint="e.g. --per-class 50")
    check_output(out, overwrite)
    cs = ClassSet.load(classes_path)
    idx_to_mid = read_class_index(class_index)
    files = tfrecord_files(tfrecords)
    problems: list = []
    candidates, stats = _candidates(files, idx_to_mid, cs, single_label, verify_crc, problems)
    kept = select_clips(candidates, per_class, seed)
    if not kept:
        raise ZslError(f"none of the {stats['segments']} segments belongs to the class set "
                       f"{cs.name!r} after the filters", hint="check --class-index and --classes")
    meta = StoreMeta(
        kind="instance", modality="audio", extractor="audioset-release",
        extractor_meta={"source": "AudioSet released embeddings (VGGish, PCA + 8-bit quantized)",
                        "dequantize": "q / 255 * 4 - 2", "pooling": "mean over the 1-s frames",
                        "per_class": per_class, "single_label": single_label, "seed": seed, "frames": frames,
                        "cap_rule": "seeded order; kept while any of its classes is under the cap"},
        inputs=[input_record(p) for p in files] + [input_record(class_index), input_record(classes_path)],
        class_set_sha256=cs.sha256, command=command_line())
    written, counts = _write_clips(files, {c: labs for c, labs in candidates if c in kept}, out, meta, cs,
                                   frames=frames, verify_crc=verify_crc, overwrite=overwrite)
    for p, off, reason in problems[:10]:
        log.warning(f"corrupt record in {p} at byte {off}: {reason}")
    return {"out": str(out), "files": len(files), **stats, "candidates": len(candidates),
            "written": written, "corrupt_records": len(problems),
            "corrupt": [{"file": p, "offset": o, "reason": r} for p, o, r in problems[:100]],
            "per_class": {cs.ids[i]: int(n) for i, n in enumerate(counts)}}


def _candidates(files: list[Path], idx_to_mid: dict[int, str], cs, single_label: bool, verify_crc: bool,
                problems: list) -> tuple[list[tuple[str, list[int]]], dict]:
    """Pass 1: the (id, class positions) of every clip the filters keep, in file order, and the counts of what
    they dropped; corrupt records go to ``problems``. A ZslError when no record could be read."""
    class_pos = {c: i for i, c in enumerate(cs.ids)}
    candidates: list[tuple[str, list[int]]] = []
    seen: set[str] = set()
    stats = {"segments": 0, "duplicates": 0, "no_class": 0, "multi_label_dropped": 0, "no_embedding": 0,
             "unknown_label_indices": 0}
    for f in files:
        for seg in iter_segments(f, verify=verify_crc, problems=problems):
            stats["segments"] += 1
            if seg.id in seen:
                stats["duplicates"] += 1
                continue
            seen.add(seg.id)
            mids = [idx_to_mid.get(li) for li in seg.labels]
            stats["unknown_label_indices"] += mids.count(None)
            labs = {class_pos[cs.mid_to_class[m]] for m in mids if m in cs.mid_to_class}
            drop = ("no_class" if not labs else "multi_label_dropped" if single_label and len(labs) > 1
                    else "no_embedding" if seg.embedding.shape[0] == 0 else None)
            if drop:
                stats[drop] += 1
            else:
                candidates.append((seg.id, sorted(labs)))
    if not stats["segments"]:
        first = f" (first problem: {problems[0][0]} at byte {problems[0][1]}: {problems[0][2]})" if problems else ""
        raise ZslError(f"no AudioSet record could be read from {', '.join(str(f) for f in files[:3])}"
                       f"{' ...' if len(files) > 3 else ''}{first}",
                       hint="give the .tfrecord files of AudioSet's released embeddings (features archive)")
    return candidates, stats


def _write_clips(files: list[Path], labels_of: dict[str, list[int]], out, meta, cs, *, frames: bool,
                 verify_crc: bool, overwrite: bool) -> tuple[int, np.ndarray]:
    """Pass 2: dequantize the clips of ``labels_of`` in file order, write each one's mean over its seconds (and
    with ``frames`` the seconds themselves); returns the number of clips written, and per class."""
    from zsltool.store import EmbeddingWriter

    per_class = np.zeros(len(cs), dtype=np.int64)
    done: set[str] = set()  # the clips written, in file order
    with EmbeddingWriter(out, meta=meta, dim=128, classes=cs.ids, overwrite=overwrite, resume=False,
                         frame_dim=128 if frames else None) as w:
        for f in files:
            for seg in iter_segments(f, verify=verify_crc, problems=[]):
                if seg.id not in labels_of or seg.id in done:
                    continue
                done.add(seg.id)
                x = dequantize(seg.embedding)
                w.add(seg.id, x.mean(axis=0), labels=labels_of[seg.id], frames=x if frames else None)
                per_class[labels_of[seg.id]] += 1
    return len(done), per_class
