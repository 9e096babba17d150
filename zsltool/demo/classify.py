"""The demo's last step: ``zsl classify`` on one clip of an unseen class, among the unseen classes' names.

The demo calls :func:`classify_unseen_clip` after training; it returns the exact command line (so a user can
run it again on the demo's files, or on their own clip) and the ranked labels with probabilities.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Sequence

from zsltool.classes.classset import ClassSet
from zsltool.classes.manifest import read_clip_manifest, resolve_manifest_path
from zsltool.classify.run import classify_clips
from zsltool.errors import ZslError


def classify_unseen_clip(model: str | os.PathLike, audio_manifest: str | os.PathLike, classes: str | os.PathLike,
                         unseen: Sequence[str], *, top: int = 3) -> dict:
    """Classify the first manifest clip whose one label is an unseen class, with the unseen classes' names as
    the candidate labels; returns ``{"command", "clip", "true_label", "labels", "top", "temperature_source"}``."""
    cs = ClassSet.load(classes)
    wanted = set(unseen)
    row = next((r for r in read_clip_manifest(audio_manifest) if len(r["labels"]) == 1 and r["labels"][0] in wanted),
               None)
    if row is None:
        raise ZslError(f"{audio_manifest} has no clip of an unseen class")
    clip = resolve_manifest_path(audio_manifest, row["path"])
    labels = [cs.get(c).get("name") or c for c in unseen]
    top = min(top, len(labels))
    preds = classify_clips(model, clip, labels=labels, top=top)
    cmd = ["zsl", "classify", str(model), str(clip), "--labels", ",".join(labels), "--top", str(top)]
    return {"command": " ".join(shlex.quote(x) for x in cmd), "clip": str(Path(clip)),
            "true_label": cs.get(row["labels"][0]).get("name") or row["labels"][0], "labels": labels,
            "top": preds[0]["top"], "valid": preds[0]["valid"],
            "temperature_source": preds.info["temperature_source"]}
