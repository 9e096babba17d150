#!/usr/bin/env bash
# Dogan et al. (zero-shot audio classification with image embeddings as semantic information):
# AudioSet x Open Images mutual classes (79 -> 69 after hierarchy pruning), VGGish audio embeddings,
# ResNet101 image embeddings, word2vec label embeddings, "hybrid" = image || text; Tables III-V.
#
# What you download first (the script checks and says what is missing):
#   $DATA/ontology.json                    https://github.com/audioset/ontology (ontology.json)
#   $DATA/class_labels_indices.csv         http://storage.googleapis.com/us_audioset/youtube_corpus/v1/csv/class_labels_indices.csv
#   $DATA/balanced_train_segments.csv, unbalanced_train_segments.csv, eval_segments.csv
#                                          http://storage.googleapis.com/us_audioset/youtube_corpus/v1/csv/
#   $AUDIO/<YTID>_<start ms>.wav           the 10-s segments themselves (e.g. with yt-dlp + ffmpeg; the ids
#                                          are the manifest's; any format soundfile reads). Alternatively set
#                                          FEATURES=$DATA/audioset_v1_embeddings (the released 128-d
#                                          embeddings, features.tar.gz from the same site) to skip the audio.
#   $DATA/class-descriptions-boxable.csv   https://storage.googleapis.com/openimages/2018_04/class-descriptions-boxable.csv
#   $DATA/train-annotations-bbox.csv       https://storage.googleapis.com/openimages/2018_04/train/train-annotations-bbox.csv
#   $IMAGES/<ImageID>.jpg                  the Open Images training images (Open Images downloader)
#   $WEIGHTS/vggish-10086976.pth, vggish_pca_params-970ea276.pth
#                                          https://github.com/harritaylor/torchvggish/releases/download/v0.1/
#                                          (or PRETRAIN=1: train the audio network from scratch per trial)
#   $WEIGHTS/GoogleNews-vectors-negative300.bin   word2vec (https://code.google.com/archive/p/word2vec/), gunzipped
#   ResNet101 ImageNet weights come through torchvision (downloaded once into the torch hub cache when
#   online; offline: pass a state-dict path with --weights).
set -euo pipefail

DATA=${DATA:-data/audioset}
AUDIO=${AUDIO:-$DATA/audio}
IMAGES=${IMAGES:-$DATA/openimages}
WEIGHTS=${WEIGHTS:-weights}
OUT=${OUT:-runs/audioset_zsl}
SEED=${SEED:-0}
TRIALS=${TRIALS:-5}
ZSL=${ZSL:-zsl}
FEATURES=${FEATURES:-}
PRETRAIN=${PRETRAIN:-0}

# manifests store absolute paths: a relative path in a manifest is read relative to the manifest's folder
case $AUDIO in /*) ;; *) AUDIO=$PWD/$AUDIO ;; esac
case $IMAGES in /*) ;; *) IMAGES=$PWD/$IMAGES ;; esac

need() { for f in "$@"; do [[ -e "$f" ]] || { echo "missing $f (see the header of $0)" >&2; exit 1; }; done; }
need "$DATA/ontology.json" "$DATA/class_labels_indices.csv" "$DATA/class-descriptions-boxable.csv" \
     "$DATA/train-annotations-bbox.csv" "$WEIGHTS/GoogleNews-vectors-negative300.bin"
mkdir -p "$OUT/features" "$OUT/models" "$OUT/results"

# 1. Classes: mutual AudioSet/Open Images classes by MID, hierarchy pruning (Animal, Musical instrument,
#    Vehicle dropped; Bird, Insect, Car, Aircraft, Tools keep their one or two children as merged MIDs).
$ZSL build-classes --ontology "$DATA/ontology.json" --audio-classes "$DATA/class_labels_indices.csv" \
    --image-classes "$DATA/class-descriptions-boxable.csv" --out "$OUT/classes.json"

# 2. Selection: at most 300 clips and 1000 crops per class (seeded).
if [[ -z "$FEATURES" ]]; then
  need "$DATA/balanced_train_segments.csv" "$DATA/unbalanced_train_segments.csv" "$DATA/eval_segments.csv"
  $ZSL --seed "$SEED" select-audio "$DATA"/{balanced_train,unbalanced_train,eval}_segments.csv \
      --classes "$OUT/classes.json" --per-class 300 --path-template "$AUDIO/{id}.wav" --out "$OUT/clips.csv"
fi
$ZSL --seed "$SEED" select-images "$DATA/train-annotations-bbox.csv" --classes "$OUT/classes.json" \
    --per-class 1000 --path-template "$IMAGES/{image_id}.jpg" --out "$OUT/crops.csv"

# 3. Protocols: random 23/23/23 x 5 trials (Table III), within categories (Table IV, the paper's Table II
#    membership), across pairs of categories (Table V).
$ZSL --seed "$SEED" split "$OUT/classes.json" --protocol random --sizes 23,23,23 --trials "$TRIALS" --out "$OUT/split_random.json"
for cat in "Musical instrument" Animal Vehicle; do
  $ZSL --seed "$SEED" split "$OUT/classes.json" --protocol within --category "$cat" --membership paper \
      --trials "$TRIALS" --out "$OUT/split_within_${cat// /_}.json"
done
for pair in "Animal,Musical instrument" "Animal,Vehicle" "Musical instrument,Vehicle"; do
  $ZSL --seed "$SEED" split "$OUT/classes.json" --protocol across --categories "$pair" --membership paper \
      --trials "$TRIALS" --out "$OUT/split_across_${pair//[ ,]/_}.json"
done

# 4. Embeddings. Audio: VGGish, 0.96-s examples averaged per clip (shard across machines with
#    --shard K/N and join with `zsl merge`). Images: ResNet101 1000-d classification layer on the crops,
#    averaged per class. Text: word2vec of the labels (multi-word labels averaged). Hybrid: image || text.
if [[ -n "$FEATURES" ]]; then
  $ZSL --seed "$SEED" import-audioset "$FEATURES"/bal_train "$FEATURES"/unbal_train "$FEATURES"/eval \
      --class-index "$DATA/class_labels_indices.csv" --classes "$OUT/classes.json" --per-class 300 \
      --out "$OUT/features/audio.h5"
else
  $ZSL extract-audio "$OUT/clips.csv" --classes "$OUT/classes.json" --model vggish \
      --weights "$WEIGHTS/vggish-10086976.pth" --embedding raw --out "$OUT/features/audio.h5"
fi
$ZSL extract-image "$OUT/crops.csv" --classes "$OUT/classes.json" --model resnet101 --weights IMAGENET1K_V1 \
    --layer logits --out "$OUT/features/image-crops.h5"
$ZSL prototypes "$OUT/features/image-crops.h5" --out "$OUT/features/image.h5"
$ZSL extract-text --classes "$OUT/classes.json" --vectors "$WEIGHTS/GoogleNews-vectors-negative300.bin" \
    --out "$OUT/features/text.h5"
$ZSL combine "$OUT/features/image.h5" "$OUT/features/text.h5" --out "$OUT/features/hybrid.h5"
$ZSL prototypes "$OUT/features/audio.h5" --out "$OUT/features/audio-prototypes.h5"

# Optional: the audio network trained from scratch on each trial's training classes (no seen-class bias).
if [[ "$PRETRAIN" == 1 && -z "$FEATURES" ]]; then
  for ((k = 0; k < TRIALS; k++)); do
    $ZSL --seed "$SEED" pretrain-audio "$OUT/clips.csv" --classes "$OUT/classes.json" \
        --split "$OUT/split_random.json" --trial "$k" --out "$OUT/models/vggish-scratch-$k.pth"
    $ZSL extract-audio "$OUT/clips.csv" --classes "$OUT/classes.json" \
        --weights "$OUT/models/vggish-scratch-$k.pth" --out "$OUT/features/audio-scratch-$k.h5"
  done
fi

# 5. Tables III-V: the projection model, each semantic space, mean +- SD over the trials.
$ZSL --seed "$SEED" experiment --audio "$OUT/features/audio.h5" --split "$OUT/split_random.json" \
    --method projection --text "$OUT/features/text.h5" --image "$OUT/features/image.h5" \
    --hybrid "$OUT/features/hybrid.h5" --audio-prototypes "$OUT/features/audio-prototypes.h5" \
    --out "$OUT/results/table3"
for f in "$OUT"/split_within_*.json; do
  $ZSL --seed "$SEED" experiment --audio "$OUT/features/audio.h5" --split "$f" --method projection \
      --text "$OUT/features/text.h5" --image "$OUT/features/image.h5" --hybrid "$OUT/features/hybrid.h5" \
      --audio-prototypes "$OUT/features/audio-prototypes.h5" --out "$OUT/results/table4_$(basename "$f" .json)"
done
for f in "$OUT"/split_across_*.json; do
  $ZSL --seed "$SEED" experiment --audio "$OUT/features/audio.h5" --split "$f" --method projection \
      --text "$OUT/features/text.h5" --image "$OUT/features/image.h5" --hybrid "$OUT/features/hybrid.h5" \
      --audio-prototypes "$OUT/features/audio-prototypes.h5" --out "$OUT/results/table5_$(basename "$f" .json)"
done

# 6. Significance across semantic spaces (Friedman + Nemenyi critical difference).
#    results.json holds one method (projection) with four class-embedding sources over the trials, so the
#    sources are compared (each trial is a block).
$ZSL compare "$OUT/results/table3/results.json" --by semantic --out "$OUT/results/compare_table3.json" \
    --plot "$OUT/results/cd_table3.png"
