"""A folder with one sub-folder per class (``DIR/dog/*.wav``, ``DIR/siren/*.wav``): the layout most private data
sets have. Class ids are the sub-folder names; a clip's id is its path relative to ``DIR``. Audio files directly
in ``DIR`` or deeper than one level are counted (deeper files belong to their top-level sub-folder's class)."""

from __future__ import annotations

import logging
import os

from zsltool.errors import ZslError
from zsltool.prepare.common import Prepared, need_folder, write_prepared


def load_folder(root: str | os.PathLike) -> Prepared:
    from zsltool.extract.audio.io import AUDIO_EXTENSIONS
    from zsltool.extract.inputs import find_files

    root = need_folder(root, "dataset folder")
    files = find_files(root, AUDIO_EXTENSIONS)
    loose = [f for f in files if f.parent == root]
    files = [f for f in files if f.parent != root]
    if not files:
        raise ZslError(f"{root} has no audio files in sub-folders",
                       hint="expected one sub-folder per class: DIR/CLASS/*.wav")
    names = sorted({f.relative_to(root).parts[0] for f in files})
    clips = [{"id": f.relative_to(root).as_posix(), "path": str(f), "labels": [f.relative_to(root).parts[0]]}
             for f in files]
    return Prepared(dataset=root.name, classes=[{"id": n, "name": n} for n in names], clips=clips,
                    notes={"loose_files_ignored": len(loose)})


def prepare_folder(root: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False) -> dict:
    """Write ``classes.json`` (one class per sub-folder) and ``clips.csv``."""
    prep = load_folder(root)
    if prep.notes["loose_files_ignored"]:
        logging.getLogger("zsltool.prepare").warning(
            f"{prep.notes['loose_files_ignored']} audio files directly in {root} have no class folder and are left out")
    return write_prepared(prep, out, overwrite=overwrite)
