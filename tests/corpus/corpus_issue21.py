"""The bad-input corpus's cases from issue 21 (test_corpus.py runs them with every other case): inputs and
cases that were an internal error, a silent wrong result, exit 0 on a violation, or an error without a hint."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def issue21_inputs(d: Path, tone: np.ndarray, sr: int) -> None:
    """Inputs of the issue-21 cases: grids, a deep JSON, a tiny ESC-50, AudioSet segments whose list is named
    like an output, an AVCA-GZSL benchmark folder without audio features."""
    import soundfile as sf

    (d / "grid_dict.json").write_text('{"lr": {"a": 1}}')
    (d / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (d / "esc50" / "meta").mkdir(parents=True)
    (d / "esc50" / "audio").mkdir()
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    for k, cat in enumerate(("dog", "rain", "siren", "clock_tick")):
        sf.write(d / "esc50" / "audio" / f"1-{k}-A-{k}.wav", tone * (k + 1) / 4, sr)
        rows.append(f"1-{k}-A-{k}.wav,1,{k},{cat},False,{k},A")
    (d / "esc50" / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
    (d / "aset" / "audio").mkdir(parents=True)
    sf.write(d / "aset" / "audio" / "abc_0.wav", tone, sr)
    (d / "aset" / "clips.csv").write_text('# YTID, start_seconds, end_seconds, positive_labels\nabc, 0.0, 10.0, '
                                          '"/m/x"\n')
    ucf = d / "UCF"
    for st, cl in {"stage_1_train": "AB", "stage_1_val_seen": "AB", "stage_1_val_unseen": "C",
                   "stage_2_train": "ABC", "stage_2_test_seen": "ABC", "stage_2_test_unseen": "D"}.items():
        (ucf / "class-split" / "cls_split").mkdir(parents=True, exist_ok=True)
        (ucf / "class-split" / "cls_split" / f"{st}.txt").write_text("\n".join(cl) + "\n")
        (ucf / "features" / "cls_features" / "video" / st).mkdir(parents=True, exist_ok=True)  # no audio/
    (ucf / "features" / "cls_features" / "text").mkdir()
    np.save(ucf / "features" / "cls_features" / "text" / "word_embeddings_ucf_normed.npy",
            {c: np.full(3, k, np.float32) for k, c in enumerate("ABCD")})


def issue21_two_stage(syn, d: Path) -> None:
    from zsltool.train.synthetic import make_two_stage_split

    make_two_stage_split(syn, d / "two.json", n_seen=3, n_val_unseen=1)


def issue21_cases(C, o: Path):
    """Issue 21's bad inputs (each was an internal error, a silent wrong result, exit 0, or a missing hint)."""
    d, syn = C.d, C.syn
    two = d / "two.json"  # the two-stage split of C's fixture (made by issue21_two_stage)
    ex = ["experiment", "--audio", syn.audio, "--split", syn.split, "--text", syn.text, "--epochs", "1", "-o", o]
    tr = ["train", "--audio", syn.audio, "--split", syn.split, "--text", syn.text, "--epochs", "1", "-o",
          o.with_suffix(".pt")]
    return [
        ("grid-not-a-number", [*ex, "--grid", "lr=abc,0.1"], 1, ["grid key 'lr'", "'abc' must be a number", "hint:"]),
        ("grid-file-dict-value", [*ex, "--grid", d / "grid_dict.json"], 1, ["{'a': 1} must be a number", "hint:"]),
        ("grid-fractional-epochs", [*ex, "--grid", "epochs=1.5"], 1, ["1.5 must be a whole number", "hint:"]),
        ("grid-train-fractional-batch", [*tr, "--grid", "batch_size=4,2.5"], 1, ["must be a whole number"]),
        ("grid-method-arg-type", [*ex, "--grid", "zscore=1"], 1, ["'zscore'", "must be true or false", "hint:"]),
        ("report-deep-json", ["report", d / "deep.json"], 1, ["nested too deeply", "hint:"]),
        ("report-folder", ["report", d / "folder"], 1, ["is a directory", "hint:"]),
        ("prepare-esc50-out-is-file", ["prepare", "esc50", d / "esc50", "--class-folds", "2", "-o", d / "res"], 1,
         ["is a file; zsl prepare writes a folder", "hint:"]),
        # the segment list is named like an output: refused before classes.json is written (the tree hash)
        ("prepare-audioset-out-is-input", ["prepare", "audioset", d / "aset" / "clips.csv", "--audio-dir",
                                           d / "aset" / "audio", "-o", d / "aset", "--overwrite"], 1,
         ["same file as input"]),
        ("prepare-avgzsl-no-audio-features", ["prepare", "avgzsl-benchmark", d / "UCF", "-o", o], 1,
         ["expected the feature folder", "audio", "hint:"]),
        ("inspect-foreign-h5-no-check", ["inspect", d / "foreign.h5"], 1, ["not a zsl embedding file", "hint:"]),
        ("experiment-unknown-method", [*ex, "--method", "projecton"], 2, ["'projecton' is not one of"]),
        ("experiment-unknown-semantics", [*ex, "--semantics", "smell"], 2, ["'smell' is not one of"]),
        ("experiment-trial-twice", [*ex, "--trials", "0,0"], 1, ["trial 0 is given twice", "hint:"]),
        ("two-stage-not-a-two-stage-split", [*ex, "--two-stage"], 1, ["is not a two-stage split", "hint:"]),
        ("two-stage-split-without-flag", [*ex[:4], two, *ex[5:]], 1, ["holds both stages", "hint:"]),
        ("two-stage-pair-missing", [*ex[:4], two, *ex[5:], "--two-stage", "--trials", "5"], 1,
         ["has 1 stage pair (hint:"]),
        ("plot-tsne-of-results", ["plot", "tsne", d / "plain.json", "-o", o.with_suffix(".png")], 1,
         ["needs a checkpoint", "hint:"]),
        ("plot-kind-typo", ["plot", "tnse", d / "evil.pt", "-o", o.with_suffix(".png")], 2,
         ["'tnse' is neither a plot kind nor a file", "did you mean tsne"]),
        ("classify-clips-and-embeddings", ["classify", d / "nope.pt", d / "good.wav", "--embeddings", d / "nope.h5",
                                           "--labels", "dog,cat"], 1, ["not both", "hint:"]),
    ]
