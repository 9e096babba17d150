"""AudioSet segments already on disk: the job of ``zsl select-audio`` without sampling, reporting which listed
segments have no audio file.

``SEGMENTS.csv`` is AudioSet's own list (``# YTID, start_seconds, end_seconds, positive_labels``); files are
found under ``--audio-dir`` by ``--path-template`` (default ``{id}.wav`` with ``id = YTID_<start in ms>``, the
names ``select-audio`` uses; ``{ytid}.wav``, ``Y{ytid}.wav`` ... for other downloaders). With ``--classes`` the
labels are mapped onto that class set (merged child MIDs count as their parent; clips with none of its classes
are left out); without it every MID is a class, named from ``--class-labels`` (AudioSet's
class_labels_indices.csv) when given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from zsltool.classes.classset import ClassSet
from zsltool.errors import ZslError
from zsltool.prepare.common import Prepared, need_folder, present_unique, read_csv, write_prepared

def load_audioset(segments: Sequence[str | os.PathLike], audio_dir: str | os.PathLike, *, classes=None,
                  class_labels=None, path_template: str = "{id}.wav") -> Prepared:
    from zsltool.classes.select import AUDIO_FIELDS, _check_template, read_segments, segment_fields

    _check_template(path_template, AUDIO_FIELDS, "--path-template")
    adir = need_folder(audio_dir, "audio folder")
    segs = read_segments(list(segments))
    inputs = [str(p) for p in segments]
    cs = None
    if classes is not None:
        cs = ClassSet.load(classes)
        inputs.append(str(classes))
    names: dict[str, str] = {}
    if class_labels is not None:
        for r in read_csv(Path(class_labels), ["mid", "display_name"], "AudioSet class_labels_indices.csv"):
            names[r["mid"]] = r["display_name"]
        inputs.append(str(class_labels))
    rows, no_class = [], 0
    for s in segs:
        labels = list(s["labels"])
        if cs is not None:
            m2c = cs.mid_to_class
            labels = list(dict.fromkeys(m2c[m] for m in labels if m in m2c))
            if not labels:
                no_class += 1
                continue
        f = segment_fields(s)
        rows.append({"id": f["id"], "path": str(adir / path_template.format(**f)), "labels": labels})
    present, missing, dup = present_unique(rows)
    if cs is not None:
        cls = list(cs.classes)
    else:
        mids = sorted({m for r in present for m in r["labels"]})
        cls = [{"id": m, "name": names.get(m, m), "mid": m} for m in mids]
    if not cls:
        raise ZslError(f"no listed segment of {', '.join(map(str, segments))} has an audio file under {adir} "
                       f"(looked for e.g. {rows[0]['path'] if rows else path_template})",
                       hint="check --audio-dir and --path-template")
    return Prepared(dataset="AudioSet", classes=cls, clips=present, missing=missing, duplicates=dup, inputs=inputs,
                    notes={"segments": len(segs), "no_class_of_the_set": no_class, "path_template": path_template})


def prepare_audioset(segments: Sequence[str | os.PathLike], out: str | os.PathLike, *, audio_dir, classes=None,
                     class_labels=None, path_template: str = "{id}.wav", overwrite: bool = False) -> dict:
    """Write ``classes.json`` and ``clips.csv`` for the listed segments found on disk; missing ones reported."""
    return write_prepared(load_audioset(segments, audio_dir, classes=classes, class_labels=class_labels,
                                        path_template=path_template), out, overwrite=overwrite)
