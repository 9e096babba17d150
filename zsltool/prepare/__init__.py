"""Dataset recipes (``zsl prepare``): a dataset folder as its users download it -> class set, clip manifest
(absolute paths, labels, the dataset's own folds) and, where the dataset defines one, split files.

Each recipe is a plain function; ``RECIPES`` lists them for the CLI and the docs::

    from zsltool.prepare import prepare_esc50
    summary = prepare_esc50("ESC-50-master", "esc50/")
"""

from __future__ import annotations

from zsltool.prepare.audioset import prepare_audioset
from zsltool.prepare.avgzsl import prepare_avgzsl_benchmark
from zsltool.prepare.esc50 import prepare_esc50
from zsltool.prepare.folder import prepare_folder
from zsltool.prepare.fsd50k import prepare_fsd50k
from zsltool.prepare.urbansound8k import prepare_urbansound8k

RECIPES = {
    "esc50": (prepare_esc50, "ESC-50 / ESC-10: meta/esc50.csv + audio/ (clip folds kept, class folds written)"),
    "urbansound8k": (prepare_urbansound8k, "UrbanSound8K: metadata/UrbanSound8K.csv + audio/fold1..10/"),
    "fsd50k": (prepare_fsd50k, "FSD50K: ground-truth CSVs + dev/eval audio (multi-label, AudioSet MIDs)"),
    "audioset": (prepare_audioset, "AudioSet segment CSVs for clips already on disk (missing ones reported)"),
    "folder": (prepare_folder, "one class per sub-folder (DIR/CLASS/*.wav)"),
    "avgzsl-benchmark": (prepare_avgzsl_benchmark, "AVCA-GZSL benchmark (UCF/VGGSound/ActivityNet-GZSL) features "
                                                   "and two-stage splits"),
}

__all__ = ["RECIPES", "prepare_audioset", "prepare_avgzsl_benchmark", "prepare_esc50", "prepare_folder",
           "prepare_fsd50k", "prepare_urbansound8k"]
