"""Dataset recipes (``zsl prepare``): a dataset folder as its users download it -> class set, clip manifest
(absolute paths, labels, the dataset's own folds) and, where the dataset defines one, split files.

Each recipe is a plain function; ``RECIPES`` registers them for the CLI (``zsl prepare NAME``)::

    from zsltool.prepare import prepare_esc50
    summary = prepare_esc50("ESC-50-master", "esc50/")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from zsltool.prepare.audioset import prepare_audioset
from zsltool.prepare.avgzsl import prepare_avgzsl_benchmark
from zsltool.prepare.esc50 import prepare_esc50
from zsltool.prepare.folder import prepare_folder
from zsltool.prepare.fsd50k import prepare_fsd50k
from zsltool.prepare.urbansound8k import prepare_urbansound8k


@dataclass(frozen=True)
class Recipe:
    """A dataset recipe of ``zsl prepare NAME``: ``fn`` the library function, ``help`` its command's help line.
    ``root_help`` (a recipe that takes only the dataset folder, ``fn(root, out, *, overwrite=False)``): what
    the folder holds; its command is built from this entry. None: the command, with options of the recipe's
    own, is written out in ``zsltool/cli/commands/prepare.py``."""

    fn: Callable[..., dict]
    help: str
    root_help: str | None = None


RECIPES: dict[str, Recipe] = {
    "esc50": Recipe(prepare_esc50, "ESC-50: clip manifest with the official clip folds, and zero-shot class folds "
                                   "(split_class_folds.json)."),
    "urbansound8k": Recipe(prepare_urbansound8k, "UrbanSound8K: clip manifest with the official 10 clip folds, "
                                                 "and zero-shot class folds."),
    "fsd50k": Recipe(prepare_fsd50k, "FSD50K: multi-label clip manifest (class ids = AudioSet MIDs; fold = "
                                     "train/val/eval).",
                     "The FSD50K folder (FSD50K.ground_truth/, FSD50K.dev_audio/, FSD50K.eval_audio/)."),
    "audioset": Recipe(prepare_audioset, "AudioSet segments already on disk: clip manifest; listed segments "
                                         "without a file are reported."),
    "folder": Recipe(prepare_folder, "One class per sub-folder (DIR/CLASS/*.wav): class set and clip manifest.",
                     "A folder with one sub-folder of audio files per class."),
    "avgzsl-benchmark": Recipe(prepare_avgzsl_benchmark, "The AVCA-GZSL audio-visual benchmark: audio/video/text "
                                                         "files and one split file with both stages."),
}

__all__ = ["RECIPES", "prepare_audioset", "prepare_avgzsl_benchmark", "prepare_esc50", "prepare_folder",
           "prepare_fsd50k", "prepare_urbansound8k"]
