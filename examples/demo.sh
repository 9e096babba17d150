#!/usr/bin/env bash
# The embedded demo through the CLI, one subcommand at a time (what `zsl demo` does in one call).
#
# Needs nothing but zsl: the data (described sound classes such as "a high whistle with fast clicking",
# their images, MP4 videos and word vectors) is made by `zsl demo --data-only`, and the audio network is
# trained from scratch on the seen classes with `zsl pretrain-audio` (no download, runs offline).
#
#   examples/demo.sh [OUT]            # default OUT=zsl-demo-steps
#   SMALL=1 examples/demo.sh OUT      # the small, fast setting (the test suite runs this)
#   ZSL="python -m zsltool" examples/demo.sh   # without an installed `zsl`
#
# Files it writes (all under OUT):
#   data/      classes.json classes.csv descriptions.csv words.bin split.json split_gzsl.json
#              audio.csv images.csv video.csv audio/*.wav images/*.png video/*.mp4 dataset.json
#   audio-net.pth   the audio network trained on the training classes only
#   features/  audio.h5 (instance level), text.h5, audio-prototypes.h5 (class level)
#   models/    projection.pt        results/   zsl.json retrieval.json        plots/  *.png
set -euo pipefail

OUT=${1:-zsl-demo-steps}
SEED=${SEED:-0}
ZSL=${ZSL:-zsl}
SIZE=()
EPOCHS=${EPOCHS:-15}      # pretrain-audio epochs (the same settings as `zsl demo`)
THREADS=${THREADS:-1}     # torch CPU threads (1 is fastest on a busy 2-core machine)
export OMP_NUM_THREADS=$THREADS
if [[ "${SMALL:-0}" == 1 ]]; then SIZE=(--small); EPOCHS=${EPOCHS_SMALL:-40}; fi
D="$OUT/data"
mkdir -p "$OUT/features" "$OUT/models" "$OUT/results" "$OUT/plots"

# 1. The dataset, its class set and its split (train / val / test classes; the test classes are new
#    combinations of attribute values that the training classes show).
$ZSL --seed "$SEED" demo --data-only --out "$OUT" "${SIZE[@]}"
$ZSL inspect "$D/split.json"

# 2. The class set, rebuilt from the class list exactly as for any custom set (same content hash as
#    data/classes.json, so the split made with it applies).
$ZSL build-classes --from-list "$D/classes.csv" --name-column name --id-column id \
    --out "$OUT/classes.json" --overwrite

# 3. Train the audio network from scratch on the training classes only (paper 000's recommendation),
#    then embed every clip with it.
$ZSL --seed "$SEED" pretrain-audio "$D/audio.csv" --classes "$OUT/classes.json" --split "$D/split.json" \
    --trial 0 --width 0.125 --lr 1e-3 --epochs "$EPOCHS" --max-seconds 2 --workers 0 --out "$OUT/audio-net.pth" --overwrite
$ZSL extract-audio "$D/audio.csv" --classes "$OUT/classes.json" --weights "$OUT/audio-net.pth" \
    --max-seconds 2 --workers 0 --out "$OUT/features/audio.h5" --overwrite

# 4. Side information: word vectors of the class labels (multi-word labels averaged over their
#    words), and the "semantic audio" upper bound (mean audio embedding per class).
$ZSL extract-text --classes "$OUT/classes.json" --vectors "$D/words.bin" --out "$OUT/features/text.h5" --overwrite
$ZSL prototypes "$OUT/features/audio.h5" --out "$OUT/features/audio-prototypes.h5" --overwrite

# 5. Train the projection model (paper 000) on the training classes, selecting the epoch on the
#    validation classes; evaluate on the unseen test classes; retrieve clips per class text.
$ZSL --seed "$SEED" train --audio "$OUT/features/audio.h5" --text "$OUT/features/text.h5" \
    --split "$D/split.json" --trial 0 --method projection --optimizer adam --lr 1e-3 --epochs 100 \
    --threads "$THREADS" --out "$OUT/models/projection.pt" --overwrite
$ZSL evaluate "$OUT/models/projection.pt" --audio "$OUT/features/audio.h5" --split "$D/split.json" --trial 0 \
    --out "$OUT/results/zsl.json" --json
$ZSL retrieve "$OUT/models/projection.pt" --audio "$OUT/features/audio.h5" --split "$D/split.json" --trial 0 \
    --out "$OUT/results/retrieval.json"

# 6. Figures: t-SNE of the test clips in the learned space with the class texts as stars, confusion matrix.
$ZSL plot "$OUT/models/projection.pt" --audio "$OUT/features/audio.h5" --split "$D/split.json" --trial 0 \
    --out "$OUT/plots"

echo "chance level among the test classes: $(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['chance']['zsl_test'], 3))" "$D/dataset.json")" >&2
