"""`zsl prepare` recipes on tiny fake folders in each dataset's real layout (nothing downloaded)."""

from __future__ import annotations

import csv

import pickle
import shutil

import numpy as np
import pytest
import soundfile as sf

from zsltool.classes.classset import ClassSet
from zsltool.classes.manifest import read_clip_manifest
from zsltool.classes.splits import load_split

SR = 16000


def _wav(path, seconds: float = 0.2, seed: int = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sf.write(path, (0.1 * rng.standard_normal(int(SR * seconds))).astype(np.float32), SR)


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(ln for ln in f if not ln.startswith("#")))


# -- ESC-50 ---------------------------------------------------------------------------------------------------
def make_esc50(root, missing: int = 0):
    (root / "meta").mkdir(parents=True)
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    cats = ["dog", "rooster", "sea_waves", "crackling_fire", "chirping_birds", "church_bells"]
    n = 0
    for k, name in enumerate(cats):
        for i in range(2):
            fn = f"{i + 1}-{1000 + k}-A-{k}.wav"
            if n >= missing:
                _wav(root / "audio" / fn, seed=n)
            n += 1
            lines.append(f"{fn},{i + 1},{k},{name},{k < 2},{1000 + k},A")
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    return root


def test_esc50(tmp_path, cli):
    root = make_esc50(tmp_path / "ESC-50-master", missing=1)
    r = cli("prepare", "esc50", root, "-o", tmp_path / "out", "--json")
    assert r.exit_code == 0, r.stderr
    s = r.json()
    assert (s["classes"], s["clips"], s["missing_files"], s["missing_ids"]) == (6, 11, 1, ["1-1000-A-0"])
    cs = ClassSet.load(tmp_path / "out" / "classes.json")
    assert cs.ids == ["dog", "rooster", "sea_waves", "crackling_fire", "chirping_birds", "church_bells"]
    clips = read_clip_manifest(tmp_path / "out" / "clips.csv")
    assert clips[0]["id"] == "2-1000-A-0" and clips[0]["labels"] == ["dog"] and clips[0]["fold"] == "2"
    assert clips[0]["path"] == str((root / "audio" / "2-1000-A-0.wav").resolve())
    sp = load_split(tmp_path / "out" / "split_class_folds.json")
    assert sp.protocol == "folds" and len(sp.trials) == 5 and sp.class_set_sha256 == cs.sha256
    tested = sorted(c for t in sp.trials for c in t.test)
    assert tested == sorted(cs.ids)  # class folds: every class is tested exactly once
    # the output exists: refused without --overwrite, replaced with it
    r = cli("prepare", "esc50", root, "-o", tmp_path / "out")
    assert r.exit_code == 1 and "already exists" in r.stderr
    assert cli("prepare", "esc50", root, "-o", tmp_path / "out", "--overwrite").exit_code == 0


def test_esc10_subset(tmp_path):
    from zsltool.prepare import prepare_esc50

    root = make_esc50(tmp_path / "ESC-50-master")
    s = prepare_esc50(root, tmp_path / "out", esc10=True, class_folds=2)
    assert (s["dataset"], s["classes"], s["clips"]) == ("ESC-10", 2, 4)


def test_esc50_wrong_folder_names_the_expected_file(tmp_path, cli):
    (tmp_path / "ESC").mkdir()
    r = cli("prepare", "esc50", tmp_path / "ESC", "-o", tmp_path / "out")
    assert r.exit_code == 1
    assert r.stderr.strip() == (f"Error: {tmp_path / 'ESC'} does not look like ESC-50: expected the file "
                                "meta/esc50.csv in it (hint: give the folder that holds meta)")
    r = cli("prepare", "esc50", tmp_path / "nope", "-o", tmp_path / "out")
    assert r.exit_code == 1 and r.stderr.startswith("Error: ESC-50 folder not found")


def test_esc50_real_metadata_names_all_tokenize(shared_data, tmp_path):
    """ESC-50's own 50 category names (real meta/esc50.csv): with '_' as a separator every class finds its
    words in a vocabulary of single words (before: 22 of 50 had no known word)."""
    from zsltool.extract.text_tokenize import label_tokens

    with open(shared_data / "esc50.csv") as f:
        cats = sorted({r["category"] for r in csv.DictReader(f)})
    assert len(cats) == 50
    vocab = {w for c in cats for w in c.split("_")}
    missing = [c for c in cats if not label_tokens(c, vocab.__contains__)]
    assert missing == []
    assert label_tokens("sea_waves", vocab.__contains__) == ["sea", "waves"]


# -- UrbanSound8K ---------------------------------------------------------------------------------------------
def test_urbansound8k(tmp_path):
    from zsltool.prepare import prepare_urbansound8k

    root = tmp_path / "UrbanSound8K"
    (root / "metadata").mkdir(parents=True)
    classes = ["air_conditioner", "car_horn", "children_playing", "dog_bark", "siren"]
    lines = ["slice_file_name,fsID,start,end,salience,fold,classID,class"]
    for k, c in enumerate(classes):
        for i in range(2):
            fn = f"{100 + k}-{k}-0-{i}.wav"
            fold = 1 + (k + i) % 10
            _wav(root / "audio" / f"fold{fold}" / fn, seed=k * 2 + i)
            lines.append(f"{fn},{100 + k},{1.5 * i},{1.5 * i + 4},1,{fold},{k},{c}")
    (root / "metadata" / "UrbanSound8K.csv").write_text("\n".join(lines) + "\n")
    s = prepare_urbansound8k(root, tmp_path / "out")
    assert (s["classes"], s["clips"], s["missing_files"]) == (5, 10, 0)
    rows = _rows(tmp_path / "out" / "clips.csv")
    r = next(x for x in rows if x["id"] == "101-1-0-1")
    assert (r["labels"], r["fold"], r["start"], r["end"], r["source_start"]) == ("car_horn", "3", "", "", "1.5")
    assert r["path"].endswith("audio/fold3/101-1-0-1.wav")
    assert ClassSet.load(tmp_path / "out" / "classes.json").get("siren")["classID"] == 4


# -- FSD50K ---------------------------------------------------------------------------------------------------
def test_fsd50k_multi_label_mids(tmp_path):
    from zsltool.prepare import prepare_fsd50k

    root = tmp_path / "FSD50K"
    gt = root / "FSD50K.ground_truth"
    gt.mkdir(parents=True)
    (gt / "vocabulary.csv").write_text("0,Electric_guitar,/m/02sgy\n1,Guitar,/m/0342h\n2,Music,/m/04rlf\n"
                                       "3,Bark,/m/05tny_\n")
    (gt / "dev.csv").write_text('fname,labels,mids,split\n64760,"Electric_guitar,Guitar,Music",'
                                '"/m/02sgy,/m/0342h,/m/04rlf",train\n16399,Bark,/m/05tny_,val\n')
    (gt / "eval.csv").write_text('fname,labels,mids\n37199,"Guitar,Music","/m/0342h,/m/04rlf"\n')
    for part, name in (("dev", "64760"), ("dev", "16399"), ("eval", "37199")):
        _wav(root / f"FSD50K.{part}_audio" / f"{name}.wav")
    s = prepare_fsd50k(root, tmp_path / "out")
    assert (s["classes"], s["clips"], s["multi_label_clips"]) == (4, 3, 2)
    clips = {c["id"]: c for c in read_clip_manifest(tmp_path / "out" / "clips.csv")}
    assert clips["64760"]["labels"] == ["/m/02sgy", "/m/0342h", "/m/04rlf"] and clips["64760"]["fold"] == "train"
    assert clips["37199"]["fold"] == "eval" and clips["16399"]["fold"] == "val"
    cs = ClassSet.load(tmp_path / "out" / "classes.json")
    assert cs.get("/m/02sgy")["name"] == "Electric_guitar"


# -- AudioSet -------------------------------------------------------------------------------------------------
def test_audioset_segments_on_disk(tmp_path, cli):
    seg = tmp_path / "balanced_train_segments.csv"
    seg.write_text("# Segments csv created Sun Mar  5 10:54:31 2017\n# num_ytids=3, num_segs=3\n"
                   "# YTID, start_seconds, end_seconds, positive_labels\n"
                   '--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/t/dd00088"\n'
                   '--ZhevVpy1s, 50.000, 60.000, "/m/012xff"\n'
                   '--aE2O5G5WE, 0.000, 10.000, "/m/03fwl,/m/04rlf"\n')
    audio = tmp_path / "audio"
    _wav(audio / "--PJHxphWEs_30000.wav")
    _wav(audio / "--aE2O5G5WE_0.wav")
    labels = tmp_path / "class_labels_indices.csv"
    labels.write_text('index,mid,display_name\n0,/m/09x0r,"Speech"\n137,/m/04rlf,"Music"\n')
    r = cli("prepare", "audioset", seg, "--audio-dir", audio, "--class-labels", labels, "-o", tmp_path / "out",
            "--json")
    assert r.exit_code == 0, r.stderr
    s = r.json()
    assert (s["clips"], s["missing_files"], s["missing_ids"]) == (2, 1, ["--ZhevVpy1s_50000"])
    cs = ClassSet.load(tmp_path / "out" / "classes.json")
    assert cs.get("/m/09x0r")["name"] == "Speech" and cs.get("/t/dd00088")["name"] == "/t/dd00088"
    assert len(cs) == 4  # MIDs of the clips on disk


# -- folder ---------------------------------------------------------------------------------------------------
def test_folder_one_class_per_subfolder(tmp_path, cli):
    for c, n in (("dog", 2), ("siren", 3)):
        for i in range(n):
            _wav(tmp_path / "data" / c / f"{i}.wav", seed=i)
    _wav(tmp_path / "data" / "loose.wav")
    r = cli("prepare", "folder", tmp_path / "data", "-o", tmp_path / "out", "--json")
    assert r.exit_code == 0, r.stderr
    s = r.json()
    assert (s["classes"], s["clips"], s["loose_files_ignored"]) == (2, 5, 1)
    clips = read_clip_manifest(tmp_path / "out" / "clips.csv")
    assert [c["id"] for c in clips][:2] == ["dog/0.wav", "dog/1.wav"] and clips[-1]["labels"] == ["siren"]
    r = cli("prepare", "folder", tmp_path / "out", "-o", tmp_path / "out2")
    assert r.exit_code == 1 and "no audio files in sub-folders" in r.stderr


# -- AVCA-GZSL benchmark --------------------------------------------------------------------------------------
STAGES = ("stage_1_train", "stage_1_val_seen", "stage_1_val_unseen", "stage_2_train", "stage_2_test_seen",
          "stage_2_test_unseen")


def _h5(path, X, names):
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as hf:
        hf.create_dataset("data", data=X)
        hf.create_dataset("video_urls", dtype="S80", data=[n.encode() for n in names])


def make_benchmark(root, split_dir, per_class: int = 2, da: int = 4, dv: int = 3, w2v_csv=None):
    """Fake features for the first ``per_class`` rows of each class of each stage CSV in ``split_dir``."""
    cs_dir = root / "class-split"
    shutil.copytree(split_dir, cs_dir / "cls_split") if split_dir != cs_dir / "cls_split" else None
    classes = sorted({ln.strip() for st in STAGES for ln in (cs_dir / "cls_split" / f"{st}.txt").read_text()
                      .splitlines() if ln.strip()} | {r["label"] for st in STAGES for r in
                                                       _rows(cs_dir / "cls_split" / f"{st}.csv")})
    if w2v_csv is not None:
        shutil.copy(w2v_csv, cs_dir / "ucf_w2v_class_names.csv")
        manual = {r["original"].lower(): r["manual"] for r in _rows(w2v_csv)}
        manual = {c: manual[c.lower()] for c in classes}
    else:
        (cs_dir / "ucf_w2v_class_names.csv").write_text("original,manual\n" + "".join(
            f"{c},{c.lower()} x\n" for c in classes))
        manual = {c: f"{c.lower()} x" for c in classes}
    feat = root / "features" / "cls_features"
    rng = np.random.default_rng(0)
    for st in STAGES:
        by_class: dict[str, list[str]] = {}
        for r in _rows(cs_dir / "cls_split" / f"{st}.csv"):
            by_class.setdefault(r["label"], []).append(r["filename"])
        for c, names in by_class.items():
            names = names[:per_class]
            _h5(feat / "audio" / st / f"{c}.h5", rng.standard_normal((len(names), da)).astype(np.float32), names)
            _h5(feat / "video" / st / f"{c}.h5", rng.standard_normal((len(names), dv)).astype(np.float32), names)
    (feat / "text").mkdir(parents=True)
    np.save(feat / "text" / "word_embeddings_ucf_normed.npy",
            {manual[c]: rng.standard_normal(6).astype(np.float32) for c in classes})
    return root


def test_avgzsl_benchmark_on_the_real_ucf_split_files(shared_data, tmp_path, cli):
    real = shared_data / "avgzsl_benchmark" / "UCF" / "class-split"
    if not real.is_dir():
        pytest.skip("the UCF-GZSL split files are not in the reference data")
    root = make_benchmark(tmp_path / "UCF", real / "cls_split", w2v_csv=real / "ucf_w2v_class_names.csv")
    r = cli("prepare", "avgzsl-benchmark", root, "--features", "cls_features", "--split", "cls_split",
            "-o", tmp_path / "out", "--json")
    assert r.exit_code == 0, r.stderr
    s = r.json()
    st1, st2 = s["stages"]["1"], s["stages"]["2"]
    assert (st1["seen"], st1["unseen"], st2["seen"], st2["unseen"]) == (30, 12, 42, 6)
    # UCF's stage_2_test_unseen.csv lists 9 classes, its .txt 6: the other 3 are left out, as the reference
    # loader does
    assert s["audio"]["left_out_other_classes"] == ["BandMarching", "BrushingTeeth", "Typing"]
    assert (st1["train_rows"], st1["val_seen_rows"], st1["val_unseen_rows"]) == (30 * 2, 30 * 2, 12 * 2)
    from zsltool.store import read_embeddings

    sp = load_split(tmp_path / "out" / "split.json")
    assert sp.params["two_stage"] == [[0, 1]]
    t1, t2 = sp.trials
    assert t1.is_gzsl and "ApplyEyeMakeup" in t1.unseen and "ApplyEyeMakeup" in t2.seen
    assert t1.instances["test_seen"] == t1.instances["test_unseen"] == []
    a, v = read_embeddings(tmp_path / "out" / "audio.h5"), read_embeddings(tmp_path / "out" / "video.h5")
    assert a.ids == v.ids and a.dim == 4 and v.dim == 3
    stage1 = t1.instances["train"] + t1.instances["val"] + t1.instances["val_unseen"]
    assert len(stage1) == len(set(stage1)) == 30 * 2 + 30 * 2 + 12 * 2
    # stage 2 trains on the stage-1 train + validation rows (the reference loader's train_val) and tests on the
    # rest of the file
    assert t2.instances["train"] == stage1
    assert len(t2.instances["test_seen"]) == 42 * 2 and len(t2.instances["test_unseen"]) == 6 * 2
    assert len(a) == len(stage1) + 42 * 2 + 6 * 2
    text = read_embeddings(tmp_path / "out" / "text.h5")
    assert text.valid.all() and len(text) == 48  # the classes of the .txt lists: 30 + 12 + 6
    assert s["w2v_names_matched_ignoring_case"] == ["HandStandPushups"]
    # text vectors are the released ones, looked up by the word2vec name
    from zsltool.prepare.safe_npy import load_vector_dict

    vecs = load_vector_dict(root / "features" / "cls_features" / "text" / "word_embeddings_ucf_normed.npy")
    np.testing.assert_array_equal(text.X[text.id_index()["ApplyEyeMakeup"]], vecs["Apply Eye Makeup"])
    # one command runs both stages: stage 1 chooses the epoch and beta on validation, stage 2 retrains and tests
    r = cli("experiment", "--audio", tmp_path / "out" / "audio.h5", "--video", tmp_path / "out" / "video.h5",
            "--text", tmp_path / "out" / "text.h5", "--split", tmp_path / "out" / "split.json", "--two-stage",
            "--method", "avgzslnet", "--epochs", "2", "--no-retrieval", "-o", tmp_path / "exp", "--json")
    assert r.exit_code == 0, r.stderr
    (t,) = r.json()["trials"]
    m = t["metrics"]["both"]
    assert m["n_test_seen"] == 42 * 2 and m["n_test_unseen"] == 6 * 2
    assert t["stage2"]["epochs"] == t["stage1"]["epoch"] and m["beta"] == t["stage1"]["validation"]["both"]["beta"]
    assert t["stage1"]["validation"]["both"]["n_val_seen"] == 30 * 2
    assert t["stage1"]["validation"]["both"]["n_val_unseen"] == 12 * 2


def _fake_split(split, per_class: int):
    """Stage lists and CSVs of four classes A-D, ``per_class`` listed clips per class and stage."""
    split.mkdir()
    lists = {"stage_1_train": ["A", "B"], "stage_1_val_seen": ["A", "B"], "stage_1_val_unseen": ["C"],
             "stage_2_train": ["A", "B", "C"], "stage_2_test_seen": ["A", "B", "C"], "stage_2_test_unseen": ["D"]}
    for st, cl in lists.items():
        (split / f"{st}.txt").write_text("\n".join(cl) + "\n")
        (split / f"{st}.csv").write_text("filename,label,label_code\n" + "".join(
            f"v_{c}_{st}_{i},{c},{ord(c) - 65}\n" for c in cl for i in range(per_class)))
    return split


def test_avgzsl_fake_layout_and_errors(tmp_path, cli):
    split = _fake_split(tmp_path / "src", per_class=3)
    root = make_benchmark(tmp_path / "UCF", split)
    r = cli("prepare", "avgzsl-benchmark", root, "--split", "main_split", "-o", tmp_path / "o")
    assert r.exit_code == 1 and "has no split folder 'main_split'" in r.stderr and "cls_split" in r.stderr
    r = cli("prepare", "avgzsl-benchmark", root, "--features", "main_features", "-o", tmp_path / "o")
    assert r.exit_code == 1 and "expected the features folder" in r.stderr and "cls_features" in r.stderr
    r = cli("prepare", "avgzsl-benchmark", tmp_path / "src", "-o", tmp_path / "o")
    assert r.exit_code == 1 and "expected class-split/" in r.stderr
    r = cli("prepare", "avgzsl-benchmark", root, "-o", tmp_path / "o", "--json")
    assert r.exit_code == 0, r.stderr
    s = r.json()
    assert s["audio"]["rows"] == 2 * 2 + 2 * 2 + 2 + 3 * 2 + 2 and s["stages"]["2"]["train_rows"] == 10


def _npy_with_pickle(path, payload: bytes):
    """A .npy file whose header says 0-d object array and whose data is ``payload`` (a pickle stream)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|O", "fortran_order": False, "shape": ()})
        f.write(payload)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_word_embeddings_are_read_without_a_general_unpickle(tmp_path):
    from zsltool.errors import ZslError
    from zsltool.prepare.safe_npy import load_vector_dict

    good = tmp_path / "w.npy"
    np.save(good, {"dog": np.arange(3, dtype=np.float32), "cat": np.ones(3)})
    v = load_vector_dict(good)
    assert list(v) == ["dog", "cat"] and v["cat"].dtype == np.float32
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.npy"
    _npy_with_pickle(evil, pickle.dumps(np.array({"dog": _Evil(marker)}, dtype=object), protocol=2))
    with pytest.raises(ZslError, match="refused to unpickle it.*posix.system|refused global"):
        load_vector_dict(evil)
    assert not marker.exists()
    # a top-level payload, and a dict with a non-numeric value
    _npy_with_pickle(evil, pickle.dumps(_Evil(marker)))
    with pytest.raises(ZslError, match="refused"):
        load_vector_dict(evil)
    assert not marker.exists()
    np.save(tmp_path / "s.npy", {"dog": "not a vector"})
    with pytest.raises(ZslError, match="is not a numeric vector"):
        load_vector_dict(tmp_path / "s.npy")
    np.save(tmp_path / "plain.npy", np.zeros((2, 3)))
    with pytest.raises(ZslError, match="not a pickled dict"):
        load_vector_dict(tmp_path / "plain.npy")



def test_a_recipe_writes_all_its_files_or_none(tmp_path, cli):
    """Issue 21: a recipe that failed after its first files (here: a corrupt feature file, read after classes.json
    and text.h5 are written) left them behind; with --overwrite the files it had replaced were lost too."""
    root = make_benchmark(tmp_path / "UCF", _fake_split(tmp_path / "src", per_class=2))
    bad = root / "features" / "cls_features" / "video" / "stage_2_test_unseen" / "D.h5"
    good = bad.read_bytes()
    bad.write_bytes(b"not hdf5")
    r = cli("prepare", "avgzsl-benchmark", root, "-o", tmp_path / "o")
    assert r.exit_code == 1 and "cannot read" in r.stderr and "D.h5" in r.stderr
    assert not (tmp_path / "o").exists()  # was: classes.json, text.h5 and audio.h5 left in it
    bad.write_bytes(good)
    assert cli("prepare", "avgzsl-benchmark", root, "-o", tmp_path / "o").exit_code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "o").iterdir()}
    bad.write_bytes(b"not hdf5")
    r = cli("prepare", "avgzsl-benchmark", root, "-o", tmp_path / "o", "--overwrite")
    assert r.exit_code == 1 and "D.h5" in r.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "o").iterdir()} == before  # every replaced file put back
