"""A tiny folder in ESC-50's published layout (meta/esc50.csv, audio/<fold>-<src>-<take>-<target>.wav) and a word
vector file covering its labels: the data of the classify tests (tests/conftest.py, ``esc50_inputs``) and the
GPU checks."""

from __future__ import annotations

import numpy as np

# ESC-50's own (underscored) class names; the classify labels below are never training classes.
ESC = ["dog", "sea_waves", "crackling_fire", "chirping_birds", "church_bells", "car_horn", "door_wood_knock",
       "vacuum_cleaner", "clock_tick", "glass_breaking"]
NEW_LABELS = ["siren", "thunderstorm", "keyboard typing"]
WORDS = sorted({w for n in ESC for w in n.split("_")} | {"vacuum_cleaner", "siren", "thunderstorm", "keyboard",
                                                          "typing", "filler", "noise"})
SR = 16000


def clip(k: int, i: int, seconds: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng([k, i])
    t = np.arange(int(SR * seconds)) / SR
    f0 = 150.0 * (1.35 ** k) * (1 + 0.02 * i)
    x = 0.4 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * (1 + k) * t))
    return (x + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def make_esc50(root, per_class: int = 3):
    """A folder in ESC-50's layout: meta/esc50.csv with the real columns, audio/<fold>-<src>-<take>-<target>.wav."""
    import soundfile as sf

    (root / "meta").mkdir(parents=True)
    (root / "audio").mkdir()
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for k, name in enumerate(ESC):
        for i in range(per_class):
            fold, src, take = i % 5 + 1, 100000 + 10 * k + i, "ABC"[i % 3]
            fn = f"{fold}-{src}-{take}-{k}.wav"
            sf.write(root / "audio" / fn, clip(k, i), SR)
            lines.append(f"{fn},{fold},{k},{name},{'True' if k < 4 else 'False'},{src},{take}")
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    return root


def write_vectors(path, dim: int = 16, seed: int = 0, words: list[str] | None = None):
    """A word2vec text file of random vectors for ``words`` (default: the words of this module's labels)."""
    words = WORDS if words is None else words
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((len(words), dim)).astype(np.float32)
    with open(path, "w") as fh:
        fh.write(f"{len(words)} {dim}\n")
        for w, row in zip(words, V):
            fh.write(w + " " + " ".join(f"{x:.6f}" for x in row) + "\n")
    return path
