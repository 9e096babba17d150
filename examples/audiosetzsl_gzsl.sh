#!/usr/bin/env bash
# Mazumder et al. (AVGZSLNet): generalized zero-shot audio-visual classification and retrieval on AudioSetZSL
# (33 classes: 23 seen, 10 unseen; single-label clips; trn/val/tst lists per class), Tables 1-4 and Fig. 6.
#
# What you download first (the script checks and says what is missing):
#   $DATA/AudioSetZSL/                  https://github.com/krantiparida/AudioSetZSL : class-split/{all,seen,unseen}_class.txt
#                                       and youtube-id/{trn,val,tst}/<class>.txt (the clips of each class)
#   $DATA/ontology.json                 https://github.com/audioset/ontology (maps AudioSetZSL names to MIDs)
#   $VIDEOS/<YTID>_<start ms>.mp4       the 10-s video segments (e.g. yt-dlp + ffmpeg; audio track included),
#                                       listed in $DATA/clips.csv (id,path,labels,start,end; labels = class
#                                       names of all_class.txt; relative paths are relative to $DATA), e.g.
#                                       written from the youtube-id lists.
#   $WEIGHTS/GoogleNews-vectors-negative300.bin   word2vec, gunzipped (https://code.google.com/archive/p/word2vec/)
#   Video network: torchvision S3D with Kinetics-400 weights (1024-d, like the paper's I3D), downloaded once
#   into the torch hub cache when online; offline pass a state-dict path with --weights.
#   Audio network: as in the paper, trained on the seen classes' training clips (`pretrain-audio`), no
#   download needed.
set -euo pipefail

DATA=${DATA:-data/audiosetzsl}
VIDEOS=${VIDEOS:-$DATA/videos}
WEIGHTS=${WEIGHTS:-weights}
OUT=${OUT:-runs/audiosetzsl}
SEED=${SEED:-0}
ZSL=${ZSL:-zsl}
SPLITS="$DATA/AudioSetZSL/class-split"

need() { for f in "$@"; do [[ -e "$f" ]] || { echo "missing $f (see the header of $0)" >&2; exit 1; }; done; }
need "$SPLITS/all_class.txt" "$SPLITS/seen_class.txt" "$SPLITS/unseen_class.txt" "$DATA/clips.csv" \
     "$WEIGHTS/GoogleNews-vectors-negative300.bin"
mkdir -p "$OUT/features" "$OUT/models" "$OUT/results" "$OUT/plots"

# 1. The 33 classes with their seen/unseen lists, and the GZSL split: the seen classes' instances are split
#    into train / val / test-seen; 20 % of each unseen class's instances are kept apart (val_unseen) to choose
#    calibrated stacking's beta, the rest are test-unseen.
#    The repository's lists are written as Python list items ('dog',): strip the quotes and commas.
for f in all seen unseen; do sed -e "s/[',]//g" -e '/^[[:space:]]*$/d' "$SPLITS/${f}_class.txt" > "$OUT/$f.txt"; done
$ZSL build-classes --from-list "$OUT/all.txt" --seen "$OUT/seen.txt" --unseen "$OUT/unseen.txt" \
    --name audiosetzsl --out "$OUT/classes.json"
$ZSL --seed "$SEED" split "$OUT/classes.json" --protocol gzsl --instances "$DATA/clips.csv" \
    --fractions 0.6,0.2,0.2 --unseen-val-fraction 0.2 --out "$OUT/split.json"

# 2. Embeddings: video (S3D, clips of 16 frames averaged per video) writing each video's audio track to
#    WAV, so audio and video rows share ids; the audio network trained on the seen training clips;
#    word2vec of the class labels. Shard long extractions with --shard K/N (SLURM arrays or torchrun)
#    and join the parts with `zsl merge`.
$ZSL extract-video "$DATA/clips.csv" --classes "$OUT/classes.json" --model s3d --weights KINETICS400_V1 \
    --extract-audio "$OUT/wav" --out "$OUT/features/video.h5"      # + $OUT/wav/clips.csv: the WAVs, same ids
$ZSL --seed "$SEED" pretrain-audio "$OUT/wav/clips.csv" --classes "$OUT/classes.json" --split "$OUT/split.json" \
    --out "$OUT/models/audio-net.pth"
$ZSL extract-audio "$OUT/wav/clips.csv" --classes "$OUT/classes.json" --weights "$OUT/models/audio-net.pth" \
    --out "$OUT/features/audio.h5"
$ZSL extract-text --classes "$OUT/classes.json" --vectors "$WEIGHTS/GoogleNews-vectors-negative300.bin" \
    --out "$OUT/features/text.h5"

# 3. Methods (Table 1: classification S/U/HM of mean class accuracy, calibrated stacking with beta chosen
#    on the validation clips; Table 2: retrieval mAP), each tested on the modalities it has: the audio-visual
#    models on audio, video and both; audio-only on audio, video-only on video, concat on both.
#    AVGZSLNet with the attention module ("w/ attn" rows) is trained with --arg attention=true.
modalities() { case "$1" in audio-only) echo audio ;; video-only) echo video ;; concat) echo both ;;
                            *) echo audio video both ;; esac; }
for m in avgzslnet avgzslnet-attn cjme audio-only video-only concat gcca; do
  args=(--method "$m")
  [[ "$m" == avgzslnet-attn ]] && args=(--method avgzslnet --arg attention=true)
  $ZSL --seed "$SEED" train "${args[@]}" --audio "$OUT/features/audio.h5" --video "$OUT/features/video.h5" \
      --text "$OUT/features/text.h5" --split "$OUT/split.json" --out "$OUT/models/$m.pt"
  for mod in $(modalities "$m"); do
    $ZSL evaluate "$OUT/models/$m.pt" --audio "$OUT/features/audio.h5" --video "$OUT/features/video.h5" \
        --split "$OUT/split.json" --modality "$mod" --calibrate --out "$OUT/results/$m-$mod.json"
    $ZSL retrieve "$OUT/models/$m.pt" --audio "$OUT/features/audio.h5" --video "$OUT/features/video.h5" \
        --split "$OUT/split.json" --modality "$mod" --out "$OUT/results/$m-$mod-retrieval.json"
  done
done

# 4. Ablations (Tables 3 and 4): switch one loss term off at a time.
for term in rec cta ctv ta at tv vt; do
  $ZSL --seed "$SEED" train --method avgzslnet --disable-loss "$term" --audio "$OUT/features/audio.h5" \
      --video "$OUT/features/video.h5" --text "$OUT/features/text.h5" --split "$OUT/split.json" \
      --out "$OUT/models/avgzslnet-no-$term.pt"
  $ZSL evaluate "$OUT/models/avgzslnet-no-$term.pt" --audio "$OUT/features/audio.h5" \
      --video "$OUT/features/video.h5" --split "$OUT/split.json" --calibrate \
      --out "$OUT/results/ablation-no-$term.json"
done

# 5. Fig. 6: t-SNE of AVGZSLNet's learned space, one figure for audio and one for video: the test clips of 5
#    seen classes drawn at random (--classes 5), 8 each (40 query clips, as in the paper), coloured by class,
#    with the class text embeddings as stars. Without --classes: every seen and unseen class of the split.
$ZSL --seed "$SEED" plot "$OUT/models/avgzslnet.pt" --audio "$OUT/features/audio.h5" \
    --video "$OUT/features/video.h5" --split "$OUT/split.json" --kind tsne --classes 5 --max-per-class 8 \
    --out "$OUT/plots" --format pdf
