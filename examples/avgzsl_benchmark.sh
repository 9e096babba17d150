#!/usr/bin/env bash
# The audio-visual GZSL benchmark of AVCA-GZSL (UCF-GZSL, VGGSound-GZSL, ActivityNet-GZSL) with its released
# VGGish/C3D ("cls") or SeLaVi ("main") features, in its two-stage protocol, as one command: stage 1 trains on
# stage_1_train and chooses the epoch and calibrated stacking's beta on the validation rows (seen and unseen
# validation classes); stage 2 retrains on train + validation for that many epochs and tests with that beta.
# Compare stage 2 (the table) with the published tables (UCF-GZSL, cls features, HM: AVGZSLNet 36.51,
# CJME 28.65, ALE 35.37).
#
# What you download first (the script checks and says what is missing):
#   $BENCH/<DATASET>/   from https://github.com/ExplainableML/AVCA-GZSL (class-split/, MIT) and its features
#                       archive avgzsl_benchmark_datasets.zip (features/<FEATURES>/{audio,video,text}/)
set -euo pipefail

BENCH=${BENCH:-data/avgzsl_benchmark_datasets}
DATASET=${DATASET:-UCF}
FEATURES=${FEATURES:-cls_features}
SPLIT=${SPLIT:-cls_split}
OUT=${OUT:-runs/avgzsl-$DATASET}
SEED=${SEED:-0}
EPOCHS=${EPOCHS:-50}
ZSL=${ZSL:-zsl}

need() { for f in "$@"; do [[ -e "$f" ]] || { echo "missing $f (see the header of $0)" >&2; exit 1; }; done; }
need "$BENCH/$DATASET/class-split/$SPLIT" "$BENCH/$DATASET/features/$FEATURES"

# 1. The recipe: class set, the released word2vec vectors (text.h5), the audio and video files, and one split
#    file with both stages (split.json).
$ZSL prepare avgzsl-benchmark "$BENCH/$DATASET" --features "$FEATURES" --split "$SPLIT" --out "$OUT/data"

# 2. Both stages for every method: stage-1 choices (epoch, beta, val S/U/HM) in the caption, trials.csv and
#    results.json; the table is stage 2's test S/U/HM.
$ZSL --seed "$SEED" experiment --audio "$OUT/data/audio.h5" --video "$OUT/data/video.h5" --text "$OUT/data/text.h5" \
    --split "$OUT/data/split.json" --two-stage --method avgzslnet --method cjme --method concat \
    --epochs "$EPOCHS" --out "$OUT/results"
