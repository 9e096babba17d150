#!/usr/bin/env bash
# Zero-shot classification on UrbanSound8K with text side information, leak-free: its 10 classes in 5 class
# folds of 2 (trial k tests fold k, selects on fold k+1, trains on the rest), an audio network trained from
# scratch on each trial's training classes only, one `zsl experiment` over the folds and its mean ± SD table.
# UrbanSound8K's own ten folds are *clip* folds (every class in every fold; kept in clips.csv's `fold` column
# for supervised work), so the zero-shot trials use class folds.
#
#   prepare urbansound8k -> (examples/class_folds_zsl.sh) extract-text -> per fold: pretrain-audio (that
#   fold's training classes only) -> extract-audio -> experiment --audio 'audio.fold{fold}.h5' -> report
#
# What you download first (the script checks and says what is missing):
#   $US8K/metadata/UrbanSound8K.csv, $US8K/audio/fold1..10/*.wav   https://urbansounddataset.weebly.com
#   (Salamon et al. 2014, CC BY-NC 3.0)
#   $VECTORS: word2vec GoogleNews-vectors-negative300.bin, gunzipped (https://code.google.com/archive/p/word2vec/)
# Settings (environment): those of examples/class_folds_zsl.sh (METHODS, NET_EPOCHS, WIDTH, WORKERS, EPOCHS,
# ZSL="python -m zsltool" without an installed `zsl`).
set -euo pipefail

US8K=${US8K:-data/UrbanSound8K}
WEIGHTS=${WEIGHTS:-weights}
export VECTORS=${VECTORS:-$WEIGHTS/GoogleNews-vectors-negative300.bin}
export OUT=${OUT:-runs/urbansound8k}
export SEED=${SEED:-0}
export FOLDS=${FOLDS:-5}
export MAX_SECONDS=${MAX_SECONDS:-4}   # UrbanSound8K slices are at most 4 s
export ZSL=${ZSL:-zsl}

need() { for f in "$@"; do [[ -e "$f" ]] || { echo "missing $f (see the header of $0)" >&2; exit 1; }; done; }
need "$US8K/metadata/UrbanSound8K.csv" "$US8K/audio" "$VECTORS"

# 1. The recipe: the 10 classes as written ("dog_bark"; extract-text splits the underscores), a clip manifest
#    of the 8732 slices (the official clip folds in its `fold` column) and FOLDS zero-shot class folds.
[[ -e "$OUT/us8k/split_class_folds.json" ]] ||
  $ZSL --seed "$SEED" prepare urbansound8k "$US8K" --class-folds "$FOLDS" --out "$OUT/us8k"

# 2-5. Text embeddings, one audio network and embedding file per fold, one experiment, its mean ± SD table.
PREPARED="$OUT/us8k" bash "$(dirname "$0")/class_folds_zsl.sh"
