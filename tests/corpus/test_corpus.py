"""The bad-input corpus: bad files, bad values and faults against every subcommand.

For every case: exit code 1 (user error) or 2 (usage error), exactly one ``Error:`` line on stderr with a hint, no
traceback, no file (nor partial folder, nor temporary file) under the output name, and every input byte-for-byte unchanged
(sha256 of the whole input folder before and after). Inputs that zsl handles correctly (8-channel or odd-rate
audio, a BOM or CRLF line ends in a manifest) are checked for their correct result instead. What these tests
guarantee is written down in docs/DESIGN.md, "What zsl promises".

All cases run in-process through the `cli` fixture (tests/conftest.py); only kill -9 needs a subprocess.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.corpus.corpus_issue21 import issue21_cases, issue21_inputs, issue21_two_stage


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def _tree_hash(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def C(tmp_path_factory) -> SimpleNamespace:
    """Every input of the corpus, in one folder (hashed before and after each case)."""
    import h5py
    import soundfile as sf
    import torch

    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial
    from zsltool.extract.audio.vggish import VGGish
    from zsltool.store import read_embeddings, write_embeddings
    from zsltool.train.synthetic import make_synthetic

    d = tmp_path_factory.mktemp("corpus")
    syn = make_synthetic(d / "syn", n_classes=6, per_class=4, audio_dim=6, video_dim=5, text_dim=4, image_dim=3)
    other = make_synthetic(d / "other", n_classes=5, per_class=2, audio_dim=6, text_dim=4, seed=3)
    tones = ClassSet(classes=[{"id": c, "name": c} for c in ("low", "high", "other", "x")], name="tones")
    tones.save(d / "C.json")
    Split(trials=[Trial(train=["low", "high"], val=["other"], test=["x"])], protocol="random",
          class_set_sha256=tones.sha256, seed=0).save(d / "S.json")
    torch.manual_seed(0)
    torch.save(VGGish(width=1 / 16).state_dict(), d / "w.pth")
    sr = 16000
    t = np.arange(sr) / sr
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(d / "good.wav", tone, sr)
    (d / "trunc.wav").write_bytes((d / "good.wav").read_bytes()[:60])
    (d / "empty.wav").write_bytes(b"")
    (d / "notaudio.wav").write_text("this is not audio\n" * 20)
    nan = tone.copy()
    nan[100:200] = np.nan
    sf.write(d / "nan.wav", nan, sr, subtype="FLOAT")
    sf.write(d / "silent.wav", np.zeros(sr, np.float32), sr)
    sf.write(d / "ch8.wav", np.stack([tone * (k + 1) / 8 for k in range(8)], axis=1), sr)
    sf.write(d / "rate8k.wav", tone[::2], 8000)
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    (d / "notvideo.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 20)
    m = "id,path,labels,start,end\n"
    (d / "m_good.csv").write_text(m + "c0,good.wav,low,,\nc1,good.wav,high,0.1,0.9\n")
    (d / "m_header_only.csv").write_text(m)
    (d / "m_missing_cols.csv").write_text("id,path\nc0,good.wav\n")
    (d / "m_dup.csv").write_text(m + "c0,good.wav,low,,\nc0,good.wav,high,,\n")
    (d / "m_neg_start.csv").write_text(m + "c0,good.wav,low,-1,\n")
    (d / "m_start_end.csv").write_text(m + "c0,good.wav,low,5,2\n")
    (d / "m_nan_time.csv").write_text(m + "c0,good.wav,low,nan,\n")
    (d / "m_no_files.csv").write_text(m + "c0,gone1.wav,low,,\nc1,gone2.wav,high,,\n")
    (d / "m_bad_label.csv").write_text(m + "c0,good.wav,nosuchclass,,\n")
    (d / "m_binary.csv").write_bytes(bytes(range(256)))
    (d / "m_bom.csv").write_bytes(("\ufeff" + m + "c0,good.wav,low,,\n").encode("utf-8"))
    (d / "m_crlf.csv").write_bytes((m + "c0,good.wav,low,,\nc1,good.wav,high,,\n").replace("\n", "\r\n").encode())
    crop = "id,image_id,path,class,xmin,xmax,ymin,ymax\n"
    (d / "crops_bad_box.csv").write_text(crop + "k0,i0,corrupt.png,low,0.8,0.2,0.1,0.9\n")
    (d / "crops_empty_box.csv").write_text(crop + "k0,i0,corrupt.png,low,,0.2,0.1,0.9\n")
    (d / "crops_header_only.csv").write_text(crop)
    (d / "trunc.h5").write_bytes(syn.audio.read_bytes()[:1500])
    with h5py.File(d / "foreign.h5", "w") as f:
        f.create_dataset("x", data=np.arange(4))
    a = read_embeddings(syn.audio)
    X = a.X.copy()
    X[0, 0] = np.nan
    write_embeddings(d / "audio_ok.h5", meta=a.meta, ids=a.ids, X=a.X, classes=a.classes, labels=a.labels,
                     valid=a.valid)
    shutil.copy(d / "audio_ok.h5", d / "nanrow.h5")
    with h5py.File(d / "nanrow.h5", "a") as f:
        f["embeddings"][0, 0] = np.nan  # a valid row holding NaN (hand-edited or corrupt)
    torch.save({"w": Payload(d / "PWNED")}, d / "evil.pt")
    (d / "evil.kv").write_bytes(pickle.dumps(Payload(d / "PWNED"), protocol=4))
    arr = np.empty(1, dtype=object)
    arr[0] = Payload(d / "PWNED")
    np.save(d / "evil.npy", arr, allow_pickle=True)
    np.save(d / "m3x2.npy", np.ones((3, 2), np.float32))
    (d / "ids2.csv").write_text("id\na\nb\n")
    (d / "ids_dup.csv").write_text("id\na\na\nb\n")
    (d / "plain.json").write_text('{"a": 1}')
    (d / "bad.json").write_text('{"a": 1')
    (d / "names.txt").write_text("Qwerty\nZzyzx\n")
    (d / "empty_list.txt").write_text("# nothing\n\n")
    (d / "mixed.txt").write_text("3 4\ndog 1 2 3 4\ncat 1 2 3\nbird 1 2 3 4\n")
    (d / "v.txt").write_text("2 3\ndog 1 2 3\ncat 4 5 6\n")
    (d / "garbage.tfrecord").write_bytes(os.urandom(300))
    (d / "index.csv").write_text("index,mid,display_name\n0,/m/x,X\n")
    (d / "segments.csv").write_text("# YTID, start_seconds, end_seconds, positive_labels\nabc, 0.0, 10.0\n")
    (d / "folder").mkdir()
    (d / "res").write_text("an existing file")
    (d / "emptydir").mkdir()
    issue21_inputs(d, tone, sr)
    issue21_two_stage(syn, d)
    return SimpleNamespace(d=d, syn=syn, other=other)


@pytest.fixture
def case(cli, C, tmp_path, check_user_error, check_usage_error):
    """``case(args, code, frags)``: run one corpus case and check every promise."""

    def run(args, code=1, frags=(), keep=()):
        return _case(cli, C, tmp_path, args, code, frags, keep, check_usage_error if code == 2 else check_user_error)

    return run


def _case(cli, C, tmp_path, args, code, frags, keep, check, out_name="out"):
    before = _tree_hash(C.d)
    res = cli(*args)
    err = check(res, *frags)
    assert "(hint: " in err, f"an error without a hint: {err}"  # issue 21: a hint on every error
    assert _tree_hash(C.d) == before, "an input changed"
    # nothing under the output name, no temporary file; a hidden .NAME.partial/ folder stays only when it holds
    # committed rows for a resume
    left = [p.name for p in tmp_path.iterdir() if (p.name.startswith(out_name) or p.name.startswith(f".{out_name}"))
            and not (p.name.endswith(".partial") and list(p.glob("part-*.npz"))) and p.name not in keep]
    assert left == [], f"left under the output name: {left}"
    assert not (C.d / "PWNED").exists(), "a payload ran"
    return err


def _cases(C, o: Path):
    """(id, argv, expected exit code, fragments of the error line); ``o`` is the output stem."""
    d, syn, other = C.d, C.syn, C.other
    w = ["--weights", d / "w.pth", "--workers", "0"]
    ea = ["extract-audio"]
    tr = ["train", "--audio", syn.audio, "--split", syn.split, "--text", syn.text]
    return [
        # ---- extract-audio: bad audio, manifests, options ----
        ("audio-truncated", [*ea, d / "trunc.wav", "-o", o.with_suffix(".h5"), *w], 1, ["could be embedded"]),
        ("audio-empty", [*ea, d / "empty.wav", "-o", o.with_suffix(".h5"), *w], 1, ["could be embedded"]),
        ("audio-not-audio", [*ea, d / "notaudio.wav", "-o", o.with_suffix(".h5"), *w], 1, ["could be embedded"]),
        ("audio-nan", [*ea, d / "nan.wav", "-o", o.with_suffix(".h5"), *w], 1, ["could be embedded"]),
        ("audio-silent", [*ea, d / "silent.wav", "-o", o.with_suffix(".h5"), *w], 1, ["could be embedded"]),
        ("audio-missing-file", [*ea, d / "nope.wav", "-o", o.with_suffix(".h5"), *w], 1, ["not found"]),
        ("audio-empty-folder", [*ea, d / "emptydir", "-o", o.with_suffix(".h5"), *w], 1, ["no audio files"]),
        ("manifest-header-only", [*ea, d / "m_header_only.csv", "-o", o.with_suffix(".h5"), *w], 1,
         ["manifest lists no clips"]),
        ("manifest-missing-columns", [*ea, d / "m_missing_cols.csv", "-o", o.with_suffix(".h5"), *w], 1,
         ["missing column"]),
        ("manifest-duplicate-ids", [*ea, d / "m_dup.csv", "-o", o.with_suffix(".h5"), *w], 1, ["duplicate clip id"]),
        ("manifest-negative-start", [*ea, d / "m_neg_start.csv", "-o", o.with_suffix(".h5"), *w], 1,
         ["is negative"]),
        ("manifest-start-after-end", [*ea, d / "m_start_end.csv", "-o", o.with_suffix(".h5"), *w], 1,
         ["not after start"]),
        ("manifest-nan-time", [*ea, d / "m_nan_time.csv", "-o", o.with_suffix(".h5"), *w], 1, ["not a finite"]),
        ("manifest-no-files", [*ea, d / "m_no_files.csv", "-o", o.with_suffix(".h5"), *w], 1,
         ["could be embedded"]),
        ("manifest-binary", [*ea, d / "m_binary.csv", "-o", o.with_suffix(".h5"), *w], 1, []),
        ("manifest-unknown-label", [*ea, d / "m_bad_label.csv", "-o", o.with_suffix(".h5"), "--classes",
                                    d / "C.json", *w], 1, ["nosuchclass"]),
        ("audio-max-seconds-nan", [*ea, d / "good.wav", "-o", o.with_suffix(".h5"), "--max-seconds", "nan", *w], 2,
         ["--max-seconds", "not a finite number"]),
        ("audio-max-seconds-negative", [*ea, d / "good.wav", "-o", o.with_suffix(".h5"), "--max-seconds", "-3",
                                        *w], 2, ["--max-seconds"]),
        ("audio-weights-json", [*ea, d / "good.wav", "-o", o.with_suffix(".h5"), "--weights", d / "plain.json",
                                "--workers", "0"], 1, ["not a VGGish weights file"]),
        ("audio-weights-pickle", [*ea, d / "good.wav", "-o", o.with_suffix(".h5"), "--weights", d / "evil.pt",
                                  "--workers", "0"], 1, ["never unpickles"]),
        ("audio-pca-missing", [*ea, d / "good.wav", "-o", o.with_suffix(".h5"), "--embedding", "pca",
                               "--pca-params", d / "nope.npz", *w], 1, []),
        ("audio-bad-shard", [*ea, d / "good.wav", "-o", o.with_suffix(".h5"), "--shard", "3/2", *w], 1,
         ["bad shard"]),
        ("audio-out-is-input", [*ea, d / "good.wav", "-o", d / "good.wav", "--overwrite", *w], 1,
         ["same file as input"]),
        ("manifest-out-is-input", [*ea, d / "m_good.csv", "-o", d / "m_good.csv", "--overwrite", *w], 1,
         ["same file as input"]),
        ("audio-out-is-folder", [*ea, d / "good.wav", "-o", d / "folder", *w], 1, ["directory"]),
        # ---- pretrain-audio / import-audioset ----
        ("pretrain-audio-lr-inf", ["pretrain-audio", d / "m_good.csv", "-o", o.with_suffix(".pth"), "--classes",
                                   d / "C.json", "--split", d / "S.json", "--lr", "inf"], 2, ["--lr"]),
        ("pretrain-audio-other-classes", ["pretrain-audio", d / "m_good.csv", "-o", o.with_suffix(".pth"),
                                          "--classes", d / "C.json", "--split", syn.split, "--workers", "0"], 1, []),
        ("import-audioset-garbage", ["import-audioset", d / "garbage.tfrecord", "-o", o.with_suffix(".h5"),
                                     "--class-index", d / "index.csv", "--classes", d / "C.json"], 1, []),
        ("import-audioset-pickle", ["import-audioset", d / "evil.pt", "-o", o.with_suffix(".h5"),
                                    "--class-index", d / "index.csv", "--classes", d / "C.json"], 1, []),
        # ---- extract-image / pretrain-image ----
        ("image-corrupt", ["extract-image", d / "corrupt.png", "-o", o.with_suffix(".h5"), "--model",
                           "squeezenet1_1", "--weights", "random", "--device", "cpu"], 1, ["could be embedded"]),
        ("image-bad-box", ["extract-image", d / "crops_bad_box.csv", "-o", o.with_suffix(".h5"), "--model",
                           "squeezenet1_1", "--weights", "random", "--device", "cpu"], 1, []),
        ("image-empty-box", ["extract-image", d / "crops_empty_box.csv", "-o", o.with_suffix(".h5"), "--model",
                             "squeezenet1_1", "--weights", "random", "--device", "cpu"], 1, ["xmin is empty"]),
        ("image-header-only", ["extract-image", d / "crops_header_only.csv", "-o", o.with_suffix(".h5"),
                               "--model", "squeezenet1_1", "--weights", "random"], 1, ["lists no crops"]),
        ("image-weights-pickle", ["extract-image", d / "corrupt.png", "-o", o.with_suffix(".h5"), "--model",
                                  "squeezenet1_1", "--weights", d / "evil.pt"], 1, ["never unpickles"]),
        ("pretrain-image-lr-nan", ["pretrain-image", d / "crops_bad_box.csv", "-o", o.with_suffix(".pth"),
                                   "--classes", d / "C.json", "--split", d / "S.json", "--lr", "nan"], 2, ["--lr"]),
        # ---- extract-text ----
        ("text-kv-pickle", ["extract-text", "--names", d / "names.txt", "--vectors", d / "evil.kv", "-o",
                            o.with_suffix(".h5")], 1, ["pickle", "save_word2vec_format"]),
        ("text-mixed-dims", ["extract-text", "--names", d / "names.txt", "--vectors", d / "mixed.txt", "-o",
                             o.with_suffix(".h5")], 1, ["rows of mixed dimensions"]),
        ("text-all-missing-zero", ["extract-text", "--names", d / "names.txt", "--vectors", d / "v.txt",
                                   "--on-missing", "zero", "-o", o.with_suffix(".h5")], 1,
         ["no class could be embedded"]),
        ("text-all-missing", ["extract-text", "--names", d / "names.txt", "--vectors", d / "v.txt", "-o",
                              o.with_suffix(".h5")], 1, ["2 of 2 classes"]),
        ("text-empty-names", ["extract-text", "--names", d / "empty_list.txt", "--vectors", d / "v.txt", "-o",
                              o.with_suffix(".h5")], 1, ["lists no class names"]),
        ("text-vectors-h5", ["extract-text", "--names", d / "names.txt", "--vectors", syn.audio, "-o",
                             o.with_suffix(".h5")], 1, ["HDF5"]),
        # ---- extract-video / pretrain-video ----
        ("video-not-video", ["extract-video", d / "notvideo.mp4", "-o", o.with_suffix(".h5"), "--model", "tiny3d",
                             "--weights", "random", "--device", "cpu"], 1, ["could be embedded"]),
        ("video-header-only", ["extract-video", d / "m_header_only.csv", "-o", o.with_suffix(".h5"), "--model",
                               "tiny3d", "--weights", "random"], 1, ["manifest lists no clips"]),
        ("pretrain-video-header-only", ["pretrain-video", d / "m_header_only.csv", "-o", o.with_suffix(".pth"),
                                        "--classes", d / "C.json", "--split", d / "S.json", "--model", "tiny3d"], 1,
         ["manifest lists no clips"]),
        # ---- classes, selections, splits ----
        ("build-classes-empty-list", ["build-classes", "--from-list", d / "empty_list.txt", "-o",
                                      o.with_suffix(".json")], 1, ["lists no class names"]),
        ("build-classes-binary-ontology", ["build-classes", "--ontology", d / "m_binary.csv", "--image-classes",
                                           d / "index.csv", "-o", o.with_suffix(".json")], 1, []),
        ("build-classes-out-is-input", ["build-classes", "--from-list", d / "names.txt", "-o", d / "names.txt",
                                        "--overwrite"], 1, ["same file as input"]),
        ("select-audio-no-classes-file", ["select-audio", d / "segments.csv", "-c", d / "nope.json", "-o",
                                          o.with_suffix(".csv")], 1, ["not found"]),
        ("select-images-bad-csv", ["select-images", d / "m_binary.csv", "-c", d / "C.json", "-o",
                                   o.with_suffix(".csv")], 1, []),
        ("split-not-a-class-set", ["split", d / "plain.json", "-p", "random", "-o", o.with_suffix(".json")], 1,
         []),
        ("split-bad-json", ["split", d / "bad.json", "-p", "random", "-o", o.with_suffix(".json")], 1,
         ["not valid JSON"]),
        ("split-gzsl-fraction-nan", ["split", d / "C.json", "-p", "gzsl", "--fractions", "nan,0.2,0.2", "-o",
                                     o.with_suffix(".json")], 2, ["--fractions"]),
        ("split-out-is-input", ["split", d / "C.json", "-p", "random", "-o", d / "C.json", "--overwrite"], 1,
         ["same file as input"]),
        ("split-bad-protocol", ["split", d / "C.json", "-p", "nope", "-o", o.with_suffix(".json")], 2, []),
        # ---- store: inspect, import, merge, prototypes, combine ----
        ("inspect-truncated-h5", ["inspect", d / "trunc.h5", "--check"], 1, []),
        ("inspect-foreign-h5", ["inspect", d / "foreign.h5", "--check"], 1, []),
        ("inspect-nan-row", ["inspect", d / "nanrow.h5", "--check"], 1, ["NaN or Inf"]),
        ("inspect-missing", ["inspect", d / "nope.h5"], 1, ["not found"]),
        ("import-object-npy", ["import-embeddings", d / "evil.npy", "-o", o.with_suffix(".h5")], 1, []),
        ("import-ids-count", ["import-embeddings", d / "m3x2.npy", "--ids", d / "ids2.csv", "-o",
                              o.with_suffix(".h5")], 1, []),
        ("import-ids-duplicate", ["import-embeddings", d / "m3x2.npy", "--ids", d / "ids_dup.csv", "-o",
                                  o.with_suffix(".h5")], 1, []),
        ("merge-overlapping-ids", ["merge", d / "audio_ok.h5", syn.audio, "-o", o.with_suffix(".h5")], 1, []),
        ("merge-out-is-input", ["merge", d / "audio_ok.h5", syn.audio, "-o", d / "audio_ok.h5", "--overwrite"], 1,
         ["same file as input"]),
        ("merge-foreign", ["merge", d / "foreign.h5", d / "audio_ok.h5", "-o", o.with_suffix(".h5")], 1, []),
        ("prototypes-class-level", ["prototypes", syn.text, "-o", o.with_suffix(".h5")], 1, []),
        ("prototypes-truncated", ["prototypes", d / "trunc.h5", "-o", o.with_suffix(".h5")], 1, []),
        ("prototypes-out-is-input", ["prototypes", d / "audio_ok.h5", "-o", d / "audio_ok.h5", "--overwrite"], 1,
         ["same file as input"]),
        ("combine-other-class-sets", ["combine", syn.text, other.text, "-o", o.with_suffix(".h5")], 1, []),
        ("combine-instance-file", ["combine", syn.text, syn.audio, "-o", o.with_suffix(".h5")], 1, []),
        # ---- train / evaluate / retrieve / classify ----
        ("train-nan-row", ["train", "--audio", d / "nanrow.h5", "--split", syn.split, "--text", syn.text, "-o",
                           o.with_suffix(".pt"), "--epochs", "1"], 1, ["NaN or Inf"]),
        ("train-text-other-class-set", ["train", "--audio", syn.audio, "--split", syn.split, "--text", other.text,
                                        "-o", o.with_suffix(".pt"), "--epochs", "1"], 1, []),
        ("train-split-other-class-set", ["train", "--audio", syn.audio, "--split", other.split, "--text",
                                         syn.text, "-o", o.with_suffix(".pt"), "--epochs", "1"], 1, []),
        ("train-audio-is-text", ["train", "--audio", syn.text, "--split", syn.split, "--text", syn.text, "-o",
                                 o.with_suffix(".pt"), "--epochs", "1"], 1, ["class-level file", "hint:"]),
        ("train-lr-nan", [*tr, "-o", o.with_suffix(".pt"), "--lr", "nan"], 2, ["--lr"]),
        ("train-arg-nan", [*tr, "-o", o.with_suffix(".pt"), "--arg", "margin=NaN"], 2, ["--arg"]),
        ("train-out-is-input", [*tr, "-o", syn.split, "--overwrite"], 1, ["same file as input"]),
        ("train-missing-option", ["train", "--audio", syn.audio, "-o", o.with_suffix(".pt")], 2, []),
        ("evaluate-pickle", ["evaluate", d / "evil.pt", "-o", o.with_suffix(".json")], 1, ["never unpickles"]),
        ("evaluate-not-checkpoint", ["evaluate", syn.audio, "-o", o.with_suffix(".json")], 1, []),
        ("evaluate-beta-nan", ["evaluate", d / "evil.pt", "--beta", "nan"], 2, ["--beta"]),
        ("retrieve-pickle", ["retrieve", d / "evil.pt", "-o", o.with_suffix(".json")], 1, ["never unpickles"]),
        ("classify-pickle", ["classify", d / "evil.pt", d / "good.wav", "--labels", "dog,cat"], 1,
         ["never unpickles"]),
        ("classify-missing-model", ["classify", d / "nope.pt", d / "good.wav", "--labels", "dog"], 1, []),
        # ---- experiment / compare / plot / report ----
        ("experiment-out-is-file", ["experiment", "--audio", syn.audio, "--split", syn.split, "--text", syn.text,
                                    "-o", d / "res"], 1, ["is a file; experiment writes a folder"]),
        ("experiment-lr-inf", ["experiment", "--audio", syn.audio, "--split", syn.split, "--text", syn.text,
                               "-o", o, "--lr", "inf"], 2, ["--lr"]),
        ("experiment-other-split", ["experiment", "--audio", syn.audio, "--split", other.split, "--text", syn.text,
                                    "-o", o], 1, []),
        ("compare-plain-json", ["compare", d / "plain.json", d / "plain.json", "-o", o.with_suffix(".json")], 1, []),
        ("compare-alpha-out-of-range", ["compare", d / "plain.json", "--alpha", "2"], 2, ["--alpha"]),
        ("compare-out-is-input", ["compare", d / "plain.json", d / "bad.json", "-o", d / "plain.json",
                                  "--overwrite"], 1, ["same file as input"]),
        ("plot-bad-input", ["plot", "confusion", d / "plain.json", "-o", o.with_suffix(".png")], 1, []),
        ("plot-pickle-checkpoint", ["plot", "tsne", d / "evil.pt", "-o", o.with_suffix(".png")], 1, []),
        ("report-not-results", ["report", d / "plain.json", "-o", o.with_suffix(".md")], 1, []),
        ("report-binary", ["report", d / "m_binary.csv"], 1, []),
        # ---- prepare, demo, root ----
        ("prepare-esc50-missing", ["prepare", "esc50", d / "nope", "-o", o], 1, []),
        ("prepare-folder-empty", ["prepare", "folder", d / "emptydir", "-o", o], 1, []),
        ("demo-out-is-file", ["demo", "-o", d / "res"], 1, []),
        ("unknown-command", ["no-such-command"], 2, []),
        ("unknown-option", ["inspect", d / "C.json", "--no-such-option"], 2, []),
        ("models-unknown-modality", ["models", "--modality", "smell"], 2, ["'smell' is not one of"]),
        *issue21_cases(C, o),
    ]


_IDS = [c[0] for c in _cases(SimpleNamespace(d=Path("."), syn=SimpleNamespace(**{k: Path(k) for k in (
    "audio", "text", "image", "split", "video")}), other=SimpleNamespace(**{k: Path(k) for k in (
        "audio", "text", "image", "split", "video")})), Path("o"))]


def test_the_corpus_is_large_and_covers_every_subcommand():
    assert len(_IDS) >= 60 and len(set(_IDS)) == len(_IDS)
    import typer

    from zsltool.cli.app import app

    group = typer.main.get_command(app)
    covered = {c[1][0] for c in _cases(SimpleNamespace(d=Path("."), syn=SimpleNamespace(
        audio=1, text=1, image=1, split=1, video=1), other=SimpleNamespace(audio=1, text=1, image=1, split=1,
                                                                            video=1)), Path("o"))}
    missing = sorted(set(group.commands) - covered - {"doctor"})  # doctor reads no user file
    assert missing == [], f"subcommands without a bad-input case: {missing}"


@pytest.mark.parametrize("name", _IDS)
def test_bad_input(C, tmp_path, case, name):
    cases = {c[0]: c for c in _cases(C, tmp_path / "out")}
    _, args, code, frags = cases[name]
    case(args, code, frags)


# -- faults ---------------------------------------------------------------------------------------------------
def test_concurrent_writer_is_refused(C, case, tmp_path):
    from zsltool.files.safety import OutputLock
    from zsltool.store import partial_dir_for

    out = tmp_path / "out.h5"
    with OutputLock(partial_dir_for(out), out):
        err = case(["extract-audio", C.d / "good.wav", "-o", out, "--weights", C.d / "w.pth", "--workers", "0"], 1,
                   ["another zsl run is writing"], keep=[".out.h5.partial"])  # the holder's, not ours
    assert not out.exists()
    assert f"pid {os.getpid()}" in err


def test_disk_full_during_extraction(C, case, tmp_path, monkeypatch):
    import errno

    def full(path, **arrays):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(np, "savez", full)
    case(["extract-audio", C.d / "m_good.csv", "-o", tmp_path / "out.h5", "--weights", C.d / "w.pth", "--workers",
          "0"], 1, ["no space left writing"])


def test_interrupt_during_extraction_then_resume(C, cli, tmp_path, monkeypatch):
    """Ctrl-C (KeyboardInterrupt) mid-run: exit 130, one Error line, nothing under the output name; the rerun
    resumes and gives the same rows as an uninterrupted run."""
    from zsltool.extract.audio import extract as E
    from zsltool.store import read_embeddings

    real = E.AudioExtractor.embed
    calls = {"n": 0}

    def interrupted(self, samples):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, samples)

    args = ["extract-audio", C.d / "m_good.csv", "-o", tmp_path / "out.h5", "--weights", C.d / "w.pth",
            "--workers", "0", "--batch-size", "1"]
    monkeypatch.setattr(E.AudioExtractor, "embed", interrupted)
    before = _tree_hash(C.d)
    res = cli(*args)
    assert res.exit_code == 130 and [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")] == [
        "Error: interrupted"], res.stderr
    assert not (tmp_path / "out.h5").exists() and _tree_hash(C.d) == before
    monkeypatch.setattr(E.AudioExtractor, "embed", real)
    res = cli(*args, "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["skipped_already_done"] == 1
    ref = cli("extract-audio", C.d / "m_good.csv", "-o", tmp_path / "ref.h5", "--weights", C.d / "w.pth",
              "--workers", "0", "--batch-size", "1")
    assert ref.exit_code == 0
    a, b = read_embeddings(tmp_path / "out.h5"), read_embeddings(tmp_path / "ref.h5")
    assert a.ids == b.ids and np.array_equal(a.X, b.X)


def test_kill_9_during_train_leaves_nothing_and_a_rerun_works(C, cli, tmp_path):
    out = tmp_path / "out.pt"
    code = textwrap.dedent(f"""
        import os, signal, sys
        def killed(fd):
            os.kill(os.getpid(), signal.SIGKILL)  # during the checkpoint's write
        os.fsync = killed
        sys.argv = ["zsl", "train", "--audio", {str(C.syn.audio)!r}, "--split", {str(C.syn.split)!r}, "--text",
                    {str(C.syn.text)!r}, "-o", {str(out)!r}, "--epochs", "1"]
        from zsltool.cli.app import main
        main()
    """)
    before = _tree_hash(C.d)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not out.exists() and _tree_hash(C.d) == before
    assert [p.name for p in tmp_path.glob(".out.pt.*.tmp")]  # the killed run's temporary file
    r = cli("train", "--audio", C.syn.audio, "--split", C.syn.split, "--text", C.syn.text, "-o", out, "--epochs", "1")
    assert r.exit_code == 0, r.stderr
    assert out.exists() and [p.name for p in tmp_path.iterdir()] == ["out.pt"]  # the killed run's temp is gone


# -- inputs handled correctly (not errors) ----------------------------------------------------------------------
@pytest.mark.parametrize("src,n", [("ch8.wav", 1), ("rate8k.wav", 1), ("m_bom.csv", 1), ("m_crlf.csv", 2)])
def test_inputs_zsl_handles(C, cli, tmp_path, src, n):
    from zsltool.store import read_embeddings

    before = _tree_hash(C.d)
    res = cli("extract-audio", C.d / src, "-o", tmp_path / "out.h5", "--weights", C.d / "w.pth", "--workers", "0",
              "--json")
    assert res.exit_code == 0, res.stderr
    e = read_embeddings(tmp_path / "out.h5")
    assert len(e) == n and e.valid.all() and np.isfinite(e.X).all()
    assert _tree_hash(C.d) == before
    if src == "m_bom.csv":
        assert e.ids == ["c0"]  # the BOM is not part of the first column's name


def test_interrupt_during_train_leaves_no_checkpoint(C, cli, tmp_path, monkeypatch):
    """Ctrl-C in the middle of training: exit 130, one Error line, no file under the output name. The interrupt
    comes from the method's own loss (the one definition every engine runs) at its third call."""
    from zsltool.methods.projection import _Compatibility

    calls = {"n": 0}
    real = _Compatibility.loss

    def loss(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(_Compatibility, "loss", loss)
    before = _tree_hash(C.d)
    res = cli("train", "--audio", C.syn.audio, "--split", C.syn.split, "--text", C.syn.text, "-o",
              tmp_path / "out.pt", "--epochs", "5", "--method", "bilinear")
    assert calls["n"] >= 3, "training never reached a third step"
    assert res.exit_code == 130 and [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")] == [
        "Error: interrupted"], res.stderr
    assert list(tmp_path.iterdir()) == [] and _tree_hash(C.d) == before
