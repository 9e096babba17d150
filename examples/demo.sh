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
#   data/      classes.json classes.csv descriptions.csv words.bin split.json unseen.txt
#              audio.csv images.csv video.csv audio/*.wav images/*.png video/*.mp4 dataset.json
#   split-gzsl.json                the GZSL split (Mazumder et al.), made before the audio network is trained
#   audio-pretrain.csv             the clips the audio network may learn from (no GZSL val/test clip)
#   audio-net.pth, image-net.pth   the audio and image networks, trained on the training classes only
#   features/  audio.h5 image.h5 (instance level); text.h5 audio-prototypes.h5 image-prototypes.h5
#              hybrid.h5 (class level)
#   models/    projection.pt        results/   zsl.json retrieval.json table3/ (results.json, table.csv)
#   plots/     tsne.png confusion.png per-class.png
#   video-net.pth, features/video.h5, results/av/ (Mazumder et al.: audio-visual GZSL, Tables 1-2)
set -euo pipefail

OUT=${1:-zsl-demo-steps}
SEED=${SEED:-0}
ZSL=${ZSL:-zsl}
SIZE=()
EPOCHS=${EPOCHS:-15}      # pretrain-audio epochs (the same settings as `zsl demo`)
IEPOCHS=${IEPOCHS:-20}    # pretrain-image epochs
IBATCH=16
THREADS=${THREADS:-1}     # torch CPU threads (1 is fastest on a busy 2-core machine)
MAXSEC=2                  # clip length in seconds (1 in the small setting)
VEPOCHS=${VEPOCHS:-20}    # pretrain-video epochs
VBATCH=16
export OMP_NUM_THREADS=$THREADS
if [[ "${SMALL:-0}" == 1 ]]; then
  SIZE=(--small); EPOCHS=${EPOCHS_SMALL:-40}; IEPOCHS=${IEPOCHS_SMALL:-30}; IBATCH=8; MAXSEC=1; VBATCH=8
fi
D="$OUT/data"
mkdir -p "$OUT/features" "$OUT/models" "$OUT/results" "$OUT/plots"

# 1. The dataset, its class set and its split (train / val / test classes; the test classes are new
#    combinations of attribute values that the training classes show).
$ZSL --seed "$SEED" demo --data-only --video --out "$OUT" "${SIZE[@]}"
$ZSL inspect "$D/split.json"

# 2. The class set, rebuilt from the class list exactly as for any custom set (same content hash as
#    data/classes.json, so the split made with it applies).
$ZSL build-classes --from-list "$D/classes.csv" --name-column name --id-column id \
    --out "$OUT/classes.json" --overwrite

# 3. The GZSL split of step 10 (Mazumder et al.), made now because the one audio network serves both parts: seen =
#    the training + validation classes above, unseen = the test classes (data/unseen.txt); the seen classes'
#    clips 60/20/20 into train / val / test-seen, 20 % of each unseen class's clips into val_unseen (only for
#    choosing calibrated stacking's beta).
$ZSL --seed "$SEED" split "$OUT/classes.json" --protocol gzsl --instances "$D/audio.csv" --unseen "$D/unseen.txt" \
    --unseen-val-fraction 0.2 --out "$OUT/split-gzsl.json" --overwrite

# 4. Train the audio network from scratch on the training classes only (Dogan et al.'s recommendation), and
#    only on their clips that the GZSL split does not keep for validation or testing (the manifest without
#    the GZSL val / test_seen / val_unseen clips), then embed every clip with it.
python3 - "$D/audio.csv" "$OUT/split-gzsl.json" "$OUT/audio-pretrain.csv" <<'PY'
import csv, json, sys
src, split, dst = sys.argv[1:]
inst = json.load(open(split))["trials"][0]["instances"]
held = {i for k in ("val", "test_seen", "val_unseen") for i in inst.get(k, [])}
with open(src, newline="") as f, open(dst, "w", newline="") as g:
    rows = csv.DictReader(f)
    w = csv.DictWriter(g, fieldnames=rows.fieldnames, lineterminator="\n"); w.writeheader()
    w.writerows(r for r in rows if r["id"] not in held)
PY
$ZSL --seed "$SEED" pretrain-audio "$OUT/audio-pretrain.csv" --classes "$OUT/classes.json" --split "$D/split.json" \
    --trial 0 --width 0.125 --lr 1e-3 --epochs "$EPOCHS" --max-seconds "$MAXSEC" --workers 0 \
    --out "$OUT/audio-net.pth" --overwrite
$ZSL extract-audio "$D/audio.csv" --classes "$OUT/classes.json" --weights "$OUT/audio-net.pth" \
    --max-seconds "$MAXSEC" --workers 0 --out "$OUT/features/audio.h5" --overwrite

# 5. The same for pictures: a small CNN trained from scratch on the training classes' pictures only
#    (no pretrained image weights offline), then every class's pictures embedded (128-d penultimate layer).
$ZSL --seed "$SEED" pretrain-image "$D/images.csv" --classes "$OUT/classes.json" --split "$D/split.json" \
    --trial 0 --model smallcnn --image-size 64 --epochs "$IEPOCHS" --batch-size "$IBATCH" --lr 3e-3 \
    --out "$OUT/image-net.pth" --overwrite
$ZSL extract-image "$D/images.csv" --classes "$OUT/classes.json" --model smallcnn --weights "$OUT/image-net.pth" \
    --image-size 64 --layer penultimate --device cpu --out "$OUT/features/image.h5" --overwrite

# 6. Class embeddings: word vectors of the labels (multi-word labels averaged over their words), the
#    pictures' mean per class, hybrid = image || text (concatenated as they are, as Dogan et al. do and as
#    `zsl experiment --image --text` builds it in memory), and the "semantic audio"
#    upper bound (mean audio embedding per class).
$ZSL extract-text --classes "$OUT/classes.json" --vectors "$D/words.bin" --out "$OUT/features/text.h5" --overwrite
$ZSL prototypes "$OUT/features/image.h5" --out "$OUT/features/image-prototypes.h5" --overwrite
$ZSL combine "$OUT/features/image-prototypes.h5" "$OUT/features/text.h5" \
    --out "$OUT/features/hybrid.h5" --overwrite
$ZSL prototypes "$OUT/features/audio.h5" --out "$OUT/features/audio-prototypes.h5" --overwrite

# 7. Train the projection model (Dogan et al.) on the training classes with word vectors, selecting the epoch
#    on the validation classes; evaluate on the unseen test classes; retrieve clips per class text.
$ZSL --seed "$SEED" train --audio "$OUT/features/audio.h5" --text "$OUT/features/text.h5" \
    --split "$D/split.json" --trial 0 --method projection --optimizer adam --lr 1e-3 --epochs 100 \
    --threads "$THREADS" --out "$OUT/models/projection.pt" --overwrite
$ZSL evaluate "$OUT/models/projection.pt" --audio "$OUT/features/audio.h5" --split "$D/split.json" --trial 0 \
    --out "$OUT/results/zsl.json" --overwrite --json
$ZSL retrieve "$OUT/models/projection.pt" --audio "$OUT/features/audio.h5" --split "$D/split.json" --trial 0 \
    --out "$OUT/results/retrieval.json" --overwrite

# 8. Figures: t-SNE of the test clips in the learned space with the class texts as stars, confusion
#    matrix (from the checkpoint), per-class accuracy (from the results file).
$ZSL plot "$OUT/models/projection.pt" --audio "$OUT/features/audio.h5" --split "$D/split.json" --trial 0 \
    --out "$OUT/plots" --overwrite
$ZSL plot per-class "$OUT/results/zsl.json" --out "$OUT/plots/per-class.png" --overwrite

# 9. Dogan et al. Table III: every class-embedding source (audio, image, text, hybrid) in one experiment.
$ZSL --seed "$SEED" experiment --audio "$OUT/features/audio.h5" --split "$D/split.json" --method projection \
    --audio-prototypes "$OUT/features/audio-prototypes.h5" --image "$OUT/features/image-prototypes.h5" \
    --text "$OUT/features/text.h5" --hybrid "$OUT/features/hybrid.h5" --optimizer adam --lr 1e-3 --epochs 100 \
    --no-refit --threads "$THREADS" --out "$OUT/results/table3"  # the paper's protocol, as zsl demo

# 10. Mazumder et al.: audio-visual generalized zero-shot learning on the GZSL split of step 3. A small 3-D CNN is
#    trained from scratch on the seen classes' training videos only and embeds every video; AVGZSLNet and
#    CJME learn from audio + video + word vectors and are tested on audio, video and both (S, U, HM;
#    retrieval mAP), with the audio-only baseline on audio.
$ZSL --seed "$SEED" pretrain-video "$D/video.csv" --classes "$OUT/classes.json" --split "$OUT/split-gzsl.json" \
    --model small3d --frame-size 32 --clip-len 16 --epochs "$VEPOCHS" --batch-size "$VBATCH" --lr 3e-3 \
    --device cpu --out "$OUT/video-net.pth" --overwrite
$ZSL extract-video "$D/video.csv" --classes "$OUT/classes.json" --model small3d --weights "$OUT/video-net.pth" \
    --crop-size 32 --clip-len 16 --clips 1 --batch-size 16 --device cpu --out "$OUT/features/video.h5" --overwrite
$ZSL --seed "$SEED" experiment --audio "$OUT/features/audio.h5" --video "$OUT/features/video.h5" \
    --text "$OUT/features/text.h5" --split "$OUT/split-gzsl.json" --method avgzslnet --method cjme \
    --modalities audio,video,both --calibrate --no-refit --threads "$THREADS" --out "$OUT/results/av"
$ZSL --seed "$SEED" experiment --audio "$OUT/features/audio.h5" --video "$OUT/features/video.h5" \
    --text "$OUT/features/text.h5" --split "$OUT/split-gzsl.json" --method audio-only --modalities audio \
    --calibrate --no-refit --threads "$THREADS" --out "$OUT/results/av/audio-only"

echo "chance level among the test classes: $(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['chance']['zsl_test'], 3))" "$D/dataset.json")" >&2
echo "GZSL chance level (random guess among all classes): $(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['chance']['gzsl'], 3))" "$D/dataset.json")" >&2
