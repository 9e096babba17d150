"""Feature files per trial in ``zsl experiment``: ``--audio`` (and ``--video``, ``--image``,
``--audio-prototypes``, ``--hybrid``: every file a trial's network may have made) as a template.

A zero-shot trial must not use a feature network that saw its validation or test classes, so on class folds
every trial has its own network and its own embedding file (``zsl pretrain-audio --trial K`` then
``zsl extract-audio``). A path holding ``{trial}``, ``{fold}`` or ``{split}`` names one file per trial:

* ``{trial}`` / ``{fold}``: the trial number K (0-based; ``--trial K`` of train and pretrain-audio; the pair
  number with ``--two-stage``). On class folds trial K tests class fold K, so both name the same number;
* ``{split}``: the split file's stem (one network per split file and trial).

``features/audio.fold{fold}.h5`` is then ``features/audio.fold0.h5`` for trial 0, and so on; each trial
trains on its own file, the leakage guard (``zsltool.runtime.guards.network_leakage``) checks each file's network
against that trial's classes, and the config hash holds that file's sha256. ``{{`` and ``}}`` are literal
braces. A path without a placeholder is one file for every trial, as before.
"""

from __future__ import annotations

import string
from pathlib import Path

from zsltool.errors import ZslError

FIELDS = ("trial", "fold", "split")
PER_TRIAL = ("audio", "video", "image", "audio_prototypes", "hybrid")   # the ExperimentSpec files that may be
TRAIN_KEY = {"hybrid": "semantic_file"}                                 # templates (their TrainConfig fields)


def is_template(path: str) -> bool:
    """A path with a brace is a template (a placeholder, or an escaped literal brace); it is checked by
    :func:`fields`."""
    return bool(fields(path)) or "{" in path or "}" in path


def fields(template: str) -> list[str]:
    """The placeholders of a path (``[]`` for a plain path); a ZslError for an unknown or malformed one."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise ZslError(f"{template!r}: {e} in a per-trial file template",
                       hint="placeholders are {trial}, {fold} and {split}; write {{ or }} for a literal brace") from None
    bad = [f for f in names if f not in FIELDS]
    if bad:
        raise ZslError(f"{template!r}: unknown placeholder {{{bad[0]}}} in a per-trial file template",
                       hint="placeholders are {trial}, {fold} (the trial number) and {split} (the split file's "
                            "stem)")
    return names


def expand(template: str, split_path: str, k: int, option: str = "--audio") -> str:
    """The file of trial ``k`` of ``split_path`` (a path without a brace: itself, unchecked); a ZslError
    naming the trial when that file is missing."""
    if not is_template(template):
        return template
    path = template.format(trial=k, fold=k, split=Path(split_path).stem)
    if not Path(path).is_file():
        raise ZslError(f"{option} {template}: no file {path} for trial {k} of {split_path}",
                       hint="make one embedding file per trial (zsl pretrain-audio --trial K, then zsl "
                            "extract-audio), or run only the trials that have one (--trials)")
    return path


def templates(spec) -> dict[str, str]:
    """``{name: template}`` of the spec's per-trial files (those with a placeholder)."""
    return {k: getattr(spec, k) for k in PER_TRIAL if getattr(spec, k) and is_template(getattr(spec, k))}


def input_files(spec, units: list) -> list[str]:
    """The feature files of the run manifest's inputs: each plain file, and every file of a template that a
    unit trains on, in order."""
    out = []
    for k in PER_TRIAL:
        v = getattr(spec, k)
        if v and is_template(v):
            out += [getattr(u.train, TRAIN_KEY.get(k, k)) for u in units if getattr(u.train, TRAIN_KEY.get(k, k))]
        elif v:
            out.append(v)
    return list(dict.fromkeys(out))
