"""A tiny folder in UrbanSound8K's published layout (metadata/UrbanSound8K.csv, audio/fold<N>/<fsID>-<classID>-
<occurrence>-<slice>.wav) with the dataset's ten classes, and the words of its labels for a word vector file
(``zsltool.testing.esc50.write_vectors(path, words=WORDS)``)."""

from __future__ import annotations

from zsltool.testing.esc50 import SR, clip

CLASSES = ["air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling", "engine_idling", "gun_shot",
           "jackhammer", "siren", "street_music"]
WORDS = sorted({w for n in CLASSES for w in n.split("_")})
COLUMNS = "slice_file_name,fsID,start,end,salience,fold,classID,class"


def make_urbansound8k(root, per_class: int = 3, seconds: float = 1.0):
    """``per_class`` synthetic tone clips per class, spread over the ten official clip folds."""
    import soundfile as sf

    (root / "metadata").mkdir(parents=True)
    lines = [COLUMNS]
    for k, name in enumerate(CLASSES):
        for i in range(per_class):
            fs_id, fold = 1000 + 10 * k + i, (k + i) % 10 + 1
            fn = f"{fs_id}-{k}-0-{i}.wav"
            (root / "audio" / f"fold{fold}").mkdir(parents=True, exist_ok=True)
            sf.write(root / "audio" / f"fold{fold}" / fn, clip(k, i, seconds), SR)
            lines.append(f"{fn},{fs_id},{0.5 * i},{0.5 * i + seconds},{1 + i % 2},{fold},{k},{name}")
    (root / "metadata" / "UrbanSound8K.csv").write_text("\n".join(lines) + "\n")
    return root
