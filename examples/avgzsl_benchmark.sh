#!/usr/bin/env bash
# The audio-visual GZSL benchmark of AVCA-GZSL (UCF-GZSL, VGGSound-GZSL, ActivityNet-GZSL) with its released
# VGGish/C3D ("cls") or SeLaVi ("main") features, in its two-stage protocol: stage 1 trains on stage_1_train
# and evaluates on the validation rows (choose epochs and calibrated stacking's beta there); stage 2 retrains
# on train + validation and tests. Compare stage 2 with the published tables (UCF-GZSL, cls features, HM:
# AVGZSLNet 36.51, CJME 28.65, ALE 35.37).
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
BETAS=${BETAS:-0 0.1 0.2 0.5 1 2}
ZSL=${ZSL:-zsl}

need() { for f in "$@"; do [[ -e "$f" ]] || { echo "missing $f (see the header of $0)" >&2; exit 1; }; done; }
need "$BENCH/$DATASET/class-split/$SPLIT" "$BENCH/$DATASET/features/$FEATURES"
mkdir -p "$OUT/models" "$OUT/results"

# 1. The recipe: class set, the released word2vec vectors (text.h5), and per stage the audio/video files and
#    the split file.
$ZSL prepare avgzsl-benchmark "$BENCH/$DATASET" --features "$FEATURES" --split "$SPLIT" --out "$OUT/data"

# 2. Each method: stage 1 (validation: one evaluation per beta), then stage 2 with the beta that gave the best
#    validation HM.
for m in avgzslnet cjme concat; do
  $ZSL --seed "$SEED" train --method "$m" --audio "$OUT/data/audio_stage1.h5" --video "$OUT/data/video_stage1.h5" \
      --text "$OUT/data/text.h5" --split "$OUT/data/split_stage1.json" --epochs "$EPOCHS" \
      --out "$OUT/models/$m-stage1.pt"
  best=0; best_hm=-1
  for b in $BETAS; do
    $ZSL evaluate "$OUT/models/$m-stage1.pt" --beta "$b" --out "$OUT/results/$m-stage1-beta$b.json"
    hm=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['metrics']['HM'])" \
         "$OUT/results/$m-stage1-beta$b.json")
    if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$hm" "$best_hm"; then
      best=$b; best_hm=$hm
    fi
  done
  echo "$m: beta $best (stage-1 validation HM $best_hm)" >&2
  $ZSL --seed "$SEED" train --method "$m" --audio "$OUT/data/audio_stage2.h5" --video "$OUT/data/video_stage2.h5" \
      --text "$OUT/data/text.h5" --split "$OUT/data/split_stage2.json" --epochs "$EPOCHS" \
      --out "$OUT/models/$m-stage2.pt"
  $ZSL evaluate "$OUT/models/$m-stage2.pt" --beta "$best" --out "$OUT/results/$m-stage2.json"
done
for m in avgzslnet cjme concat; do
  python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; print(sys.argv[2], 'S %.4f U %.4f HM %.4f' % (m['S'], m['U'], m['HM']))" \
      "$OUT/results/$m-stage2.json" "$m"
done
