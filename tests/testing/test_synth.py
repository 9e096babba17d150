"""The demo dataset generator: structure, acoustics, pictures, word vectors, files and determinism."""

from __future__ import annotations

import csv
from itertools import combinations

import numpy as np
import pytest

from zsltool.errors import ZslError
from zsltool.testing import images, sounds
from zsltool.testing.design import GROUPS, SoundClass, choose_split, class_design, covered, shared_attributes
from zsltool.testing.synth import load_demo_dataset, make_demo_dataset

TINY = dict(small=True, n_per_class=2, n_images_per_class=1)


def _cls(pitch, pattern, timbre) -> SoundClass:
    return SoundClass((("pitch", pitch), ("pattern", pattern), ("timbre", timbre)))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_demo_dataset(tmp_path_factory.mktemp("demo") / "a", seed=3, **TINY)


# ---- the latent structure -------------------------------------------------------------------------

def test_design_is_every_combination_once():
    full, small = class_design(), class_design(small=True)
    assert len(full) == 48 and len(small) == 18
    for design in (full, small):
        assert len({tuple(sorted(c.attrs.items())) for c in design}) == len(design)
        assert len({c.id for c in design}) == len(design)


def test_names_and_descriptions_follow_the_attributes():
    c = _cls("high", "clicking", "rising")
    assert c.name == c.id == "Rising clicking whistle"
    assert c.description == "A high whistle in rising chirps with fast clicking."
    assert _cls("low", "steady", "hissing").description == "A hissing low hum held steady."
    assert c.words == ["whistle", "clicking", "rising"]
    assert c.attrs == {"pitch": "high", "pattern": "clicking", "timbre": "rising"}
    assert c.to_class_record() == {"id": c.id, "name": c.name, "audioset_name": None, "openimages_name": None,
                                   "merged_ids": [], "category": None, "path": [c.name]}


@pytest.mark.parametrize("small,n_val,n_test", [(False, 8, 12), (True, 3, 5)])
def test_held_out_classes_are_new_combinations_of_seen_attributes(small, n_val, n_test):
    classes = class_design(small=small)
    by_id = {c.id: c for c in classes}
    splits = set()
    for seed in range(5):
        train, val, test = choose_split(classes, n_val=n_val, n_test=n_test, seed=seed)
        assert (len(train), len(val), len(test)) == (len(classes) - n_val - n_test, n_val, n_test)
        assert not (set(train) & set(val)) and not (set(train) & set(test)) and not (set(val) & set(test))
        tr = [by_id[i] for i in train]
        for cid in val + test:
            for g in GROUPS:  # every attribute value of a held-out class occurs in >= 2 training classes
                assert sum(t.attrs[g] == by_id[cid].attrs[g] for t in tr) >= 2
        assert choose_split(classes, n_val=n_val, n_test=n_test, seed=seed) == (train, val, test)
        splits.add(tuple(test))
    assert len(splits) == 5  # seeds give different splits


def test_impossible_split_is_a_user_error():
    classes = class_design(small=True)
    assert not covered([classes[0]], [c for c in classes if c.attrs["pitch"] != classes[0].attrs["pitch"]])
    with pytest.raises(ZslError):
        choose_split(classes, n_val=0, n_test=17, seed=0)
    with pytest.raises(ZslError, match="no split"):
        choose_split(classes, n_val=0, n_test=14, seed=0, max_tries=50)


# ---- acoustics -----------------------------------------------------------------------------------

def _clip(pitch, pattern, timbre, seed, duration=2.0):
    return sounds.synth_clip({"pitch": pitch, "pattern": pattern, "timbre": timbre},
                             np.random.default_rng(seed), duration=duration)


def test_clip_is_deterministic_and_bounded():
    a, b, c = (_clip("mid", "pulsing", "hissing", s) for s in (5, 5, 6))
    assert a.dtype == np.float32 and a.shape == (32000,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 0.25 < np.abs(a).max() <= 0.95


def test_pitch_sets_the_dominant_frequency():
    for seed in range(4):
        f = {p: sounds.dominant_frequency(_clip(p, "steady", "pure", seed)) for p in ("low", "mid", "high")}
        # +-1 semitone of jitter around 200, 700, 2400 Hz
        assert 200 / 1.07 < f["low"] < 200 * 1.07
        assert 700 / 1.07 < f["mid"] < 700 * 1.07
        assert 2400 / 1.07 < f["high"] < 2400 * 1.07
        hiss = sounds.dominant_frequency(_clip("high", "steady", "hissing", seed))
        assert 2400 / 1.6 < hiss < 2400 * 1.6 and f["low"] < hiss


def test_pattern_sets_the_event_rate():
    expected = {"clicking": 10.0, "knocking": 2.0, "pulsing": 4.0}
    for seed in range(4):
        for pattern, rate in expected.items():
            got = sounds.event_rate(_clip("mid", pattern, "pure", seed))
            assert rate / 1.2 < got < rate * 1.2, (pattern, got)


def _peak_track(x, sr=16000, n=512, hop=128):
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop] * np.hanning(n)
    spec = np.abs(np.fft.rfft(frames, axis=1))
    return np.fft.rfftfreq(n, 1 / sr)[spec.argmax(axis=1)]


def test_chirps_rise_and_sweeps_fall():
    for seed in range(3):
        for timbre, sign in (("rising", 1), ("falling", -1)):
            track = _peak_track(_clip("high", "steady", timbre, seed))
            steps = np.diff(np.log2(track))
            moving = steps[np.abs(steps) > 1e-3]
            small_steps = moving[np.abs(moving) < 0.5]  # leave out the jump back at each period's end
            assert np.mean(np.sign(small_steps) == sign) > 0.85


# ---- pictures and video frames --------------------------------------------------------------------

def _saturated(img):
    img = img.astype(int)
    return (img.max(-1) - img.min(-1)) > 60


def test_colour_follows_pitch_and_shape_follows_timbre():
    for seed in range(3):
        for pitch, channel in (("low", 0), ("mid", 1), ("high", 2)):
            img = images.draw({"pitch": pitch, "pattern": "steady", "timbre": "pure"}, np.random.default_rng(seed))
            assert img.shape == (64, 64, 3) and img.dtype == np.uint8
            assert int(np.argmax(img[_saturated(img)].mean(axis=0))) == channel
        # an upward triangle is wider at the bottom, a downward one at the top
        for timbre, wider_bottom in (("rising", True), ("falling", False)):
            img = images.draw({"pitch": "high", "pattern": "steady", "timbre": timbre}, np.random.default_rng(seed),
                              cx=32, cy=32, radius=16)
            rows = _saturated(img).sum(axis=1)
            assert (rows[40:46].mean() > rows[18:24].mean()) == wider_bottom


def test_video_shapes_move_with_their_timbre():
    for seed in range(3):
        for timbre, sign in (("rising", -1), ("falling", 1)):
            fr = images.draw_frames({"pitch": "low", "pattern": "steady", "timbre": timbre},
                                    np.random.default_rng(seed), n_frames=16, fps=8)
            ys = [np.nonzero(_saturated(f))[0].mean() for f in fr]
            assert fr.shape == (16, 64, 64, 3)
            assert sign * (ys[-1] - ys[0]) > 8


# ---- word vectors --------------------------------------------------------------------------------

def test_word_vectors_carry_the_attribute_structure(tiny):
    from gensim.models import KeyedVectors

    from zsltool.testing.words import class_vector

    kv = KeyedVectors.load_word2vec_format(str(tiny.word_vectors), binary=True)
    vecs = {w: kv[w] for w in kv.index_to_key}
    classes = class_design()
    for phrase_first in (False, True):
        cv = {c.id: class_vector(vecs, c.name, phrase_first=phrase_first) for c in classes}
        assert all(v.shape == (64,) for v in cv.values())
        sims = {0: [], 1: [], 2: []}
        for a, b in combinations(classes, 2):
            u, v = cv[a.id], cv[b.id]
            sims[shared_attributes(a, b)].append(float(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
        m = {k: np.mean(v) for k, v in sims.items()}
        assert m[2] > m[1] + 0.15 and m[1] > m[0] + 0.15, m
    # each class phrase is nearest to the mean of its own words
    names = [c.name for c in classes]
    means = np.stack([class_vector(vecs, n, phrase_first=False) for n in names])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    for i, n in enumerate(names):
        assert int(np.argmax(means @ kv[n.replace(" ", "_")])) == i


# ---- the dataset on disk -------------------------------------------------------------------------

def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_files_are_readable_and_consistent(tiny, tmp_path):
    import soundfile as sf
    from PIL import Image

    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import load_split
    from zsltool.testing.video import read_mp4

    cs = ClassSet.load(tiny.classes_json)
    assert len(cs) == 18 and cs.ids == [c.id for c in class_design(small=True)]
    audio, video, crops = _rows(tiny.audio_manifest), _rows(tiny.video_manifest), _rows(tiny.image_manifest)
    assert list(audio[0]) == ["id", "path", "labels", "start", "end"]
    assert list(crops[0])[:8] == ["id", "image_id", "path", "class", "xmin", "xmax", "ymin", "ymax"]
    assert len(audio) == 36 and len(crops) == 18
    assert [r["id"] for r in audio] == [r["id"] for r in video]  # one instance, two modalities
    assert all(r["labels"] in cs.ids for r in audio) and all(r["class"] in cs.ids for r in crops)

    x, sr = sf.read(audio[0]["path"], dtype="float32")
    assert sr == 16000 and x.ndim == 1 and len(x) == 16000  # small setting: 1 s clips
    img = Image.open(crops[0]["path"])
    assert img.size == (64, 64) and img.mode == "RGB"
    frames, track, fps, asr = read_mp4(video[0]["path"])
    assert frames.shape == (8, 64, 64, 3) and fps == 8.0 and asr == 16000
    assert abs(len(track) - len(x)) <= 2048
    n = min(len(track), len(x))
    assert np.corrcoef(track[:n], x[:n])[0, 1] > 0.9  # the video's audio track is the clip

    split = load_split(tiny.split)
    t = split.trial(0)
    assert split.class_set_sha256 == cs.sha256 and (t.train, t.val, t.test) == (tiny.train, tiny.val, tiny.test)
    assert tiny.chance_test == pytest.approx(1 / 5)
    # one GZSL split only, made by the protocol code from unseen.txt (as zsl demo and examples/demo.sh do)
    assert not (tiny.root / "split_gzsl.json").exists()
    from zsltool.classes.protocols import make_split

    make_split(tiny.classes_json, "gzsl", tmp_path / "gz.json", instances=tiny.audio_manifest,
               unseen=tiny.root / "unseen.txt", unseen_val_fraction=0.2)
    gz = load_split(tmp_path / "gz.json").trial(0)
    assert set(gz.unseen) == set(t.test) and set(gz.seen) == set(t.train) | set(t.val)
    seen_ids = {r["id"] for r in audio if r["labels"] in set(gz.seen)}
    inst = gz.instances
    assert set(inst["train"]) | set(inst["val"]) | set(inst["test_seen"]) == seen_ids


def test_same_seed_same_bytes_other_seed_other_bytes(tiny, tmp_path):
    again = make_demo_dataset(tmp_path / "b", seed=3, **TINY)
    other = make_demo_dataset(tmp_path / "c", seed=4, **TINY)
    for sub, ext in (("audio", "wav"), ("images", "png"), ("video", "mp4")):
        names = sorted(p.name for p in (tiny.root / sub).glob(f"*.{ext}"))
        assert names and names == sorted(p.name for p in (again.root / sub).glob(f"*.{ext}"))
        for name in names:
            assert (tiny.root / sub / name).read_bytes() == (again.root / sub / name).read_bytes(), name
        assert (tiny.root / sub / names[0]).read_bytes() != (other.root / sub / names[0]).read_bytes()
    assert tiny.word_vectors.read_bytes() == again.word_vectors.read_bytes()
    from zsltool.classes.splits import load_split

    assert [t.to_dict() for t in load_split(tiny.split).trials] == [t.to_dict() for t in load_split(again.split).trials]
    assert (tiny.root / "unseen.txt").read_text() == (again.root / "unseen.txt").read_text()


def test_existing_dataset_is_reused_or_refused(tiny):
    before = tiny.audio_manifest.stat().st_mtime_ns
    same = make_demo_dataset(tiny.root, seed=3, **TINY)
    assert same.test == tiny.test and tiny.audio_manifest.stat().st_mtime_ns == before
    assert load_demo_dataset(tiny.root).settings == tiny.settings
    with pytest.raises(ZslError, match="other settings"):
        make_demo_dataset(tiny.root, seed=4, **TINY)
    with pytest.raises(ZslError, match="no demo dataset"):
        load_demo_dataset(tiny.root / "audio")


def test_build_classes_from_the_csv_gives_the_same_class_set(tiny, tmp_path):
    import zsltool.classes.build as build
    from zsltool.classes.classset import ClassSet

    res = build.build_classes(tmp_path / "c.json", from_list=tiny.classes_csv, name_column="name", id_column="id")
    assert res["sha256"] == ClassSet.load(tiny.classes_json).sha256
