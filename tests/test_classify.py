"""`zsl classify` end to end on an ESC-50-layout folder, its library API, and its bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zsltool.testing.esc50 import ESC, NEW_LABELS, SR, WORDS, make_esc50, write_vectors  # noqa: F401


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    """classify caches the sha256 of vectors and weights in $ZSL_CACHE: one per test here."""
    monkeypatch.setenv("ZSL_CACHE", str(tmp_path / "zsl-cache"))


@pytest.fixture(scope="module")
def trained(esc50_inputs, run_cli):
    """ESC-50 folder -> prepare -> extract-audio (tiny random VGGish) -> extract-text (underscored names) ->
    split (class folds) -> train: the checkpoint and its inputs."""
    d, summary, text = esc50_inputs
    assert summary["classes"] == 10 and summary["clips"] == 30 and summary["missing_files"] == 0
    assert text["valid"] == 10  # ESC-50's underscored names: every class has known words
    run_cli("train", "--audio", d / "audio.h5", "--text", d / "text.h5", "--split", d / "split.json", "--method",
            "projection", "--epochs", "3", "-o", d / "model.pt")
    return d


def test_end_to_end_classify_new_clip_with_new_labels(trained, cli):
    d = trained
    r = cli("classify", d / "model.pt", d / "new.wav", "--labels", ",".join(NEW_LABELS), "--top", "3", "--json")
    assert r.exit_code == 0, r.stderr
    doc = r.json()
    assert doc["labels"] == NEW_LABELS and doc["n_clips"] == 1
    clip = doc["clips"][0]
    assert clip["valid"] and [t["rank"] for t in clip["top"]] == [1, 2, 3]
    assert sorted(t["label"] for t in clip["top"]) == sorted(NEW_LABELS)
    probs = [t["probability"] for t in clip["top"]]
    assert abs(sum(probs) - 1.0) < 1e-6 and probs == sorted(probs, reverse=True)
    scores = [t["score"] for t in clip["top"]]
    assert scores == sorted(scores, reverse=True)
    # a 3-epoch model on random word vectors: its validation scores may be no better than chance, in which
    # case the checkpoint stores no temperature and each clip's scores are standardised
    assert (doc["temperature"] or 0) > 0 and "checkpoint" in doc["temperature_source"] or \
        doc["temperature"] is None and doc["temperature_source"] == "per-clip-std"
    assert doc["label_tokens"]["keyboard typing"] == ["keyboard", "typing"]


def test_library_matches_the_method_scores(trained):
    """The library call in three lines; scores equal the model's own scores on the same embeddings, and
    probabilities are softmax(scores / T) with the checkpoint's temperature."""
    import zsltool
    from zsltool.store import read_embeddings
    from zsltool.train.checkpoint import build_model, load_checkpoint

    d = trained
    preds = zsltool.classify_clips(d / "model.pt", [d / "new.wav", d / "esc50" / "clips.csv"], labels=NEW_LABELS)
    assert len(preds) == 31 and all(p["valid"] for p in preds)
    ck = load_checkpoint(d / "model.pt")
    T = ck["calibration"]["temperature"]
    assert ck["calibration"]["on"] == "validation" and ck["calibration"]["rows"] == 6
    T = T if T else preds.scores.std(1, keepdims=True)
    z = preds.scores / T
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(preds.probabilities, p / p.sum(1, keepdims=True), rtol=1e-6)
    # the manifest's clips through --embeddings give the same scores as embedding the audio on the fly
    emb = zsltool.classify_clips(d / "model.pt", embeddings=d / "audio.h5", labels=NEW_LABELS)
    a = read_embeddings(d / "audio.h5")
    np.testing.assert_allclose(emb.scores, preds.scores[1:], rtol=1e-4, atol=1e-4)
    import torch

    from zsltool.extract.registry import build_extractor

    from zsltool.extract.text import TextEntry

    w = build_extractor("word2vec", vectors=str(d / "vectors.txt"))
    C = np.stack([v for v, _ in w.rows([TextEntry(id=n, name=n) for n in NEW_LABELS])])
    model = build_model(ck)
    with torch.no_grad():
        # through the checkpoint's feature scaling (zscore / l2_classes), as every scoring path applies it
        s = model.scores(model.prep_classes(torch.as_tensor(C)), audio=model.prep_audio(torch.as_tensor(a.X))).numpy()
    np.testing.assert_allclose(emb.scores, s, rtol=1e-4, atol=1e-4)
    rows = emb.rows()
    assert rows[0].keys() >= {"clip", "rank", "label", "score", "probability"} and len(rows) == 30 * 3
    import pandas as pd

    df = emb.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 90
    assert np.allclose(df.groupby("clip")["probability"].sum(), 1.0)


def test_training_classes_use_the_stored_embeddings(trained, cli, tmp_path):
    """Labels that are all checkpoint classes need no vectors file (here: moved away)."""
    d = trained
    r = cli("classify", d / "model.pt", d / "new.wav", "--labels", "dog,sea_waves,car_horn", "--csv",
            "--vectors", tmp_path / "gone.txt")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "clip,rank,label,score,probability,reason" and len(lines) == 4
    assert abs(sum(float(ln.split(",")[4]) for ln in lines[1:]) - 1) < 1e-6


def test_invalid_clip_gets_a_row_and_jsonl(trained, cli):
    d = trained
    bad = d / "bad.wav"
    bad.write_text("this is not audio")
    r = cli("classify", d / "model.pt", d / "new.wav", bad, "--labels", "siren,thunderstorm", "--jsonl")
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.strip().splitlines()]
    assert [x["valid"] for x in rows] == [True, False] and rows[1]["reason"] and rows[1]["top"] == []


BAD = [
    (["missing.pt", "new.wav", "--labels", "a,b"], "Error: checkpoint not found"),
    (["model.pt", "bad.wav", "--labels", "siren,thunderstorm"], "Error: none of the 1 inputs could be embedded"),
    (["model.pt", "new.wav", "--labels", " , "], "Error: no candidate labels given"),
    (["model.pt", "new.wav", "--labels", "siren,dog,siren"], "Error: labels given more than once: siren"),
    (["model.pt", "new.wav", "--labels", "siren,zzyzx"], "Error: 1 of 2 labels have no known word: zzyzx"),
    (["model.pt", "new.wav", "--labels", "siren,,thunderstorm"], "Error: label 2 of 3 is blank"),
    (["model.pt", "new.wav", "--labels", "siren,thunderstorm, "], "Error: label 3 of 3 is blank"),
    (["model.pt", "new.wav", "--labels", "siren,thunderstorm", "--vectors", "other.txt"],
     "Error: {d}/other.txt has sha256"),
]


@pytest.mark.parametrize("argv,error", BAD, ids=["missing-model", "not-audio", "empty-labels", "duplicate-labels",
                                                  "unknown-word", "blank-label", "trailing-comma", "other-vectors"])
def test_bad_inputs_one_error_line(trained, cli, argv, error):
    d = trained
    (d / "bad.wav").write_text("this is not audio")
    write_vectors(d / "other.txt", seed=1)
    args = [str(d / a) if a.endswith((".pt", ".wav", ".txt")) else a for a in argv]
    r = cli("classify", *args)
    assert r.exit_code == 1, r.stdout
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith(error.format(d=d)), r.stderr
    assert sum(ln.startswith("Error:") for ln in lines) == 1 and "Traceback" not in r.stderr


def test_other_vectors_allowed_on_request(trained, cli):
    d = trained
    write_vectors(d / "other.txt", seed=1)
    r = cli("classify", d / "model.pt", d / "new.wav", "--labels", "siren,thunderstorm", "--vectors",
            d / "other.txt", "--allow-other-vectors", "--json")
    assert r.exit_code == 0, r.stderr
    assert "not the vectors file the model was trained with" in r.stderr
    assert r.json()["warnings"] == [f"{d / 'other.txt'} is not the vectors file the model was trained with "
                                    "(--allow-other-vectors)"]  # --json says it too


def test_class_embeddings_file_replaces_the_text_step(trained, cli, tmp_path):
    d = trained
    from zsltool.extract.pipeline import extract_text

    (tmp_path / "names.txt").write_text("siren\nthunderstorm\n")
    extract_text(tmp_path / "new_text.h5", names=tmp_path / "names.txt", vectors=d / "vectors.txt")
    r = cli("classify", d / "model.pt", d / "new.wav", "--labels", "siren,thunderstorm", "--class-embeddings",
            tmp_path / "new_text.h5", "--json")
    assert r.exit_code == 0, r.stderr
    on_fly = cli("classify", d / "model.pt", d / "new.wav", "--labels", "siren,thunderstorm", "--json").json()
    assert [t["score"] for t in r.json()["clips"][0]["top"]] == pytest.approx(
        [t["score"] for t in on_fly["clips"][0]["top"]], rel=1e-5)


def test_old_checkpoint_without_temperature_uses_per_clip_std(trained, tmp_path):
    import torch

    import zsltool
    from zsltool.train.checkpoint import load_checkpoint, save_checkpoint

    d = trained
    ck = load_checkpoint(d / "model.pt")
    ck.pop("calibration")
    ck.pop("path")
    save_checkpoint(tmp_path / "old.pt", ck)
    preds = zsltool.classify_clips(tmp_path / "old.pt", d / "new.wav", labels=NEW_LABELS)
    s = preds.scores[0]
    z = s / s.std()
    p = np.exp(z - z.max())
    np.testing.assert_allclose(preds.probabilities[0], p / p.sum(), rtol=1e-6)
    assert preds.info["temperature_source"] == "per-clip-std"
    del torch


def test_temperature_scaling_recovers_a_known_temperature():
    """Labels drawn from softmax(z / 2.5): the fitted temperature is 2.5 within sampling error, and the
    NLL there is below both the uniform and the per-clip-std NLL."""
    from zsltool.scores.temperature import calibrate, fit_temperature, nll

    rng = np.random.default_rng(0)
    z = 3.0 * rng.standard_normal((20000, 5))
    p = np.exp(z / 2.5)
    p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(5, p=row) for row in p])
    T = fit_temperature(z, y)
    assert abs(T - 2.5) < 0.1
    assert nll(z, y, T) <= min(nll(z, y, 2.0), nll(z, y, 3.0))
    rec = calibrate(z, y, "validation")
    assert rec["temperature"] == pytest.approx(T) and rec["nll"] < rec["nll_uniform"]
    # scores unrelated to the labels: no temperature is stored
    rec = calibrate(rng.standard_normal((500, 4)), rng.integers(0, 4, 500), "validation")
    assert rec["temperature"] is None and "no better than chance" in rec["note"]


@pytest.mark.parametrize("fmt", ["word2vec-bin", "word2vec-text", "glove"])
def test_streamed_label_vectors_equal_extract_text(tmp_path, fmt):
    """classify reads only the vectors its labels need; the class vectors equal extract-text's, token for token
    (underscores, CamelCase, phrases, case variants, a limit, duplicate words: the first wins)."""
    from gensim.models import KeyedVectors

    from zsltool.classify.vectors import candidate_tokens, label_vectors
    from zsltool.extract.registry import build_extractor
    from zsltool.extract.text import TextEntry

    words = ["sea", "waves", "New_York", "air_conditioner", "Playing", "daf", "dog", "church_bells", "rain"]
    rng = np.random.default_rng(3)
    kv = KeyedVectors(vector_size=7)
    kv.add_vectors(words + [f"f{i}" for i in range(50)], rng.standard_normal((len(words) + 50, 7)).astype(np.float32))
    path = tmp_path / f"v.{fmt}"
    kv.save_word2vec_format(str(path), binary=fmt == "word2vec-bin", write_header=fmt != "glove")
    labels = ["sea_waves", "New_York", "AirConditioner", "PlayingDaf", "Dog", "church bells", "rain, dog", "zzz"]
    for limit in (None, 5):
        ref = build_extractor("word2vec", vectors=str(path), fmt=fmt, limit=limit).rows(
            [TextEntry(id=x, name=x) for x in labels])
        got = label_vectors(path, labels, fmt, limit)
        for (rv, rt), (gv, gt) in zip(ref, got):
            assert rt == gt
            assert (rv is None and gv is None) or np.array_equal(rv, gv)
    assert {"sea_waves", "sea", "waves", "Air_Conditioner", "air_conditioner"} <= candidate_tokens(labels)


def test_classify_hashes_the_audio_weights_once_until_they_change(trained, tmp_path, sha256_reads):
    """The audio network's weights (275 MB for VGGish) are read to check their sha256 at the first classify
    only; a touched file is hashed again, and a changed one with its old times put back is caught."""
    import os
    import shutil

    import zsltool
    from zsltool.errors import ZslError

    d = trained
    w = tmp_path / "weights.pth"
    shutil.copy(d / "tiny.pth", w)
    reads = sha256_reads

    def run():
        p = zsltool.classify_clips(d / "model.pt", d / "new.wav", labels=NEW_LABELS, weights=w)
        assert p[0]["valid"]
        return p.scores

    first = run()
    assert reads.count("weights.pth") == 1
    np.testing.assert_array_equal(run(), first)
    assert reads.count("weights.pth") == 1  # the second call did not read the weights to hash them
    st = os.stat(w)
    os.utime(w, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same bytes, new modification time
    np.testing.assert_array_equal(run(), first)
    assert reads.count("weights.pth") == 2
    # other bytes of the same size with the old modification time put back: hashed again (ctime), refused
    st = os.stat(w)
    data = bytearray(w.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside a tensor: the file still loads
    w.write_bytes(bytes(data))
    for _ in range(200):
        os.utime(w, ns=(st.st_atime_ns, st.st_mtime_ns))
        if os.stat(w).st_ctime_ns != st.st_ctime_ns:
            break
        __import__("time").sleep(0.01)
    with pytest.raises(ZslError, match="are not the ones that made the file"):
        run()
    assert reads.count("weights.pth") == 3


def test_sentence_backend_labels_on_the_fly(trained, tmp_path):
    """A checkpoint trained on sentence-transformers label embeddings: new labels are encoded by the recorded
    sentence model (the tiny offline one), the same vectors extract-text gives."""
    import zsltool
    from zsltool.extract.pipeline import extract_text
    from zsltool.store import read_embeddings
    from zsltool.testing.sentence import make_tiny_sentence_model
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train

    d = trained
    words = sorted({w for n in ESC for w in n.split("_")} | {"siren", "thunderstorm", "keyboard", "typing"})
    model_dir = make_tiny_sentence_model(tmp_path / "st", words, dim=16)
    extract_text(tmp_path / "sent.h5", classes=d / "esc50" / "classes.json", model="sentence",
                 sentence_model=str(model_dir), device="cpu")
    train(TrainConfig(audio=str(d / "audio.h5"), text=str(tmp_path / "sent.h5"), split=str(d / "split.json"),
                      out=str(tmp_path / "s.pt"), method="projection", epochs=2))
    preds = zsltool.classify_clips(tmp_path / "s.pt", d / "new.wav", labels=NEW_LABELS)
    assert preds[0]["valid"] and preds.info["label_embeddings"].startswith("sentence")
    (tmp_path / "names.txt").write_text("\n".join(NEW_LABELS) + "\n")
    extract_text(tmp_path / "new.h5", names=tmp_path / "names.txt", model="sentence",
                 sentence_model=str(model_dir), device="cpu")
    ref = zsltool.classify_clips(tmp_path / "s.pt", d / "new.wav", labels=NEW_LABELS,
                                 class_embeddings=tmp_path / "new.h5")
    np.testing.assert_allclose(preds.scores, ref.scores, rtol=1e-5, atol=1e-6)
    assert read_embeddings(tmp_path / "new.h5").valid.all()


def test_one_clip_imports_only_what_it_needs(trained):
    """A single-clip classify of audio with word2vec labels loads torch (the model) but none of the stacks it
    does not use: video (torchvision, PyAV), gensim and scipy, sentence-transformers."""
    import subprocess
    import sys

    d = trained
    code = ("import sys\nfrom zsltool.cli.app import main\n"
            f"sys.argv = ['zsl', '-q', 'classify', {str(d / 'model.pt')!r}, {str(d / 'new.wav')!r}, '--labels', "
            "'siren,thunderstorm', '--json']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code\n"
            "heavy = ['torchvision', 'av', 'gensim', 'scipy', 'sentence_transformers', 'transformers', 'torchaudio']\n"
            "print('LOADED=' + ','.join(m for m in heavy if m in sys.modules), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**__import__("os").environ, "XDG_CACHE_HOME": str(d / "xdg")})
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "LOADED=", r.stderr
    assert json.loads(r.stdout)["clips"][0]["valid"]


# -- issue 21: what every output must say; recorded paths and --weights --------------------------------------
def _rewritten(src, dst, edit):
    """A copy of checkpoint ``src`` at ``dst`` with ``edit(ckpt)`` applied (e.g. other recorded paths)."""
    from zsltool.train.checkpoint import load_checkpoint, save_checkpoint

    ck = load_checkpoint(src)
    ck.pop("path")
    edit(ck)
    save_checkpoint(dst, ck)
    return dst


def _record_weights(ck, path):
    em = ck["provenance"]["audio"]["extractor_meta"]
    em["weights"] = em["weights_path"] = em["config"]["weights"] = str(path)


def test_weights_option_overrides_the_recorded_path(trained, cli, tmp_path):
    """`--weights PATH` is used even when the training audio file recorded a weights path (was: the recorded
    path was checked first, so its own hint "pass --weights PATH" failed the same way)."""
    import torch

    from zsltool.extract.audio.vggish import VGGish

    d = trained
    m = _rewritten(d / "model.pt", tmp_path / "m.pt", lambda ck: _record_weights(ck, tmp_path / "gone" / "w.pth"))
    r = cli("classify", m, d / "new.wav", "--labels", "siren,thunderstorm", "--json")
    assert r.exit_code == 1 and f"audio network weights not found: {tmp_path / 'gone' / 'w.pth'}" in r.stderr
    r = cli("classify", m, d / "new.wav", "--labels", "siren,thunderstorm", "--weights", d / "tiny.pth", "--json")
    assert r.exit_code == 0, r.stderr
    want = cli("classify", d / "model.pt", d / "new.wav", "--labels", "siren,thunderstorm", "--json").json()
    assert r.json()["clips"] == want["clips"]
    torch.manual_seed(1)
    torch.save(VGGish(width=1 / 16).state_dict(), tmp_path / "other.pth")
    r = cli("classify", d / "model.pt", d / "new.wav", "--labels", "siren,thunderstorm", "--weights",
            tmp_path / "other.pth")  # the recorded weights exist, but --weights names others: they are used (refused)
    assert r.exit_code == 1 and "are not the ones that made the file" in r.stderr


def test_recorded_paths_are_found_next_to_a_moved_checkpoint(trained, cli, tmp_path, monkeypatch):
    """A project folder (weights, vectors, checkpoint) moved elsewhere and used from another working directory:
    the recorded paths that are gone are found under the checkpoint's folders (and checked by sha256)."""
    import shutil

    d = trained
    old = tmp_path / "old" / "proj"
    (old / "models").mkdir(parents=True)
    shutil.copy(d / "tiny.pth", old / "models" / "tiny.pth")
    shutil.copy(d / "vectors.txt", old / "vectors.txt")

    def edit(ck):
        _record_weights(ck, old / "models" / "tiny.pth")
        ck["provenance"]["semantic"][0]["extractor_meta"]["vectors"] = str(old / "vectors.txt")

    _rewritten(d / "model.pt", old / "checkpoints" / "m.pt", edit)
    shutil.move(old, tmp_path / "new" / "proj")
    monkeypatch.chdir(tmp_path)
    r = cli("classify", "new/proj/checkpoints/m.pt", d / "new.wav", "--labels", ",".join(NEW_LABELS), "--json")
    assert r.exit_code == 0, r.stderr
    want = cli("classify", d / "model.pt", d / "new.wav", "--labels", ",".join(NEW_LABELS), "--json").json()
    assert r.json()["clips"] == want["clips"]


def test_partial_label_warns_in_every_output_mode_and_strict_refuses(trained, cli):
    """"Hissing thunderstorm": only 'thunderstorm' is a word of the vectors; the label is embedded from it, and
    the table, --json and stderr say which word was left out; --strict makes it an error."""
    d = trained
    labels = ["siren", "Hissing thunderstorm"]
    msg = "label 'Hissing thunderstorm' is embedded from thunderstorm only: 'Hissing' is not in the vocabulary"
    r = cli("classify", d / "model.pt", d / "new.wav", "--labels", ",".join(labels))
    assert r.exit_code == 0, r.stderr
    assert f"Warning: {msg}" in " ".join(r.stdout.split()) and msg in r.stderr
    r = cli("classify", d / "model.pt", d / "new.wav", "--labels", ",".join(labels), "--json")
    doc = r.json()
    assert doc["warnings"] == [msg] and doc["partial_labels"] == {"Hissing thunderstorm": ["Hissing"]}
    assert doc["label_tokens"]["Hissing thunderstorm"] == ["thunderstorm"]
    for mode in ("--csv", "--jsonl"):
        r = cli("classify", d / "model.pt", d / "new.wav", "--labels", ",".join(labels), mode)
        assert r.exit_code == 0 and msg in r.stderr and msg not in r.stdout
    clean = cli("classify", d / "model.pt", d / "new.wav", "--labels", "siren,thunderstorm", "--json").json()
    assert clean["warnings"] == [] and "partial_labels" not in clean
    r = cli("classify", d / "model.pt", d / "new.wav", "--labels", ",".join(labels), "--strict")
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 1 and lines[-1].startswith(f"Error: {msg} [--strict] (hint: ") and r.stdout == ""
    assert "e.g. 'siren'" in lines[-1] and sum(ln.startswith("Error:") for ln in lines) == 1


def test_unknown_label_hint_suggests_a_known_label(trained, cli, tmp_path):
    """The hint's example is a label whose words are known: one of those given, else a training class (was:
    always 'church bells', here not in the vocabulary)."""
    from zsltool.files.provenance import sha256_file

    d = trained
    words = [w for w in WORDS if w not in ("church", "bells")]
    rng = np.random.default_rng(0)
    with open(tmp_path / "v.txt", "w") as fh:
        fh.write(f"{len(words)} 16\n" + "".join(w + " " + " ".join(f"{x:.6f}" for x in rng.standard_normal(16))
                                              + "\n" for w in words))

    def edit(ck):
        em = ck["provenance"]["semantic"][0]["extractor_meta"]
        em["vectors"], em["vectors_sha256"] = str(tmp_path / "v.txt"), sha256_file(tmp_path / "v.txt")

    m = _rewritten(d / "model.pt", tmp_path / "m.pt", edit)
    r = cli("classify", m, d / "new.wav", "--labels", "siren,church bells")
    assert r.exit_code == 1 and "Error: 1 of 2 labels have no known word: church bells" in r.stderr
    assert "e.g. 'siren', whose words are all known" in r.stderr and "e.g. 'church" not in r.stderr
    r = cli("classify", m, d / "new.wav", "--labels", "zzyzx,church bells")
    assert r.exit_code == 1 and f"e.g. {ESC[0]!r}, whose words are all known" in r.stderr


def test_table_shows_clips_that_differ_only_deep_in_their_paths(trained, cli, tmp_path):
    """Two clips whose paths share a long folder: the table shows the part that differs, whole (was: both cut
    to the same first characters)."""
    import shutil

    d = trained
    deep = tmp_path / ("recordings-of-a-field-session-" * 4) / "microphones"
    for mic in ("left", "right"):
        (deep / mic).mkdir(parents=True)
        shutil.copy(d / "new.wav", deep / mic / "take-0001.wav")
    r = cli("classify", d / "model.pt", deep / "left" / "take-0001.wav", deep / "right" / "take-0001.wav",
            "--labels", ",".join(NEW_LABELS))
    assert r.exit_code == 0, r.stderr
    assert "left/take-0001.wav" in r.stdout and "right/take-0001.wav" in r.stdout and "…" not in r.stdout
    caption = r.stdout[r.stdout.index("clips under"):]
    assert "".join(line.strip() for line in caption.splitlines()) == f"clips under{deep}/"  # wrapped at its space


def test_rows_of_another_audio_network_are_refused_unless_allowed(trained, cli, tmp_path):
    """The same clips embedded by the same architecture with other weights: classify --embeddings, evaluate and
    retrieve refuse them with one error line (was: accepted without a word, scores at chance);
    --allow-other-extractor accepts them and every output says so."""
    import torch

    from zsltool.extract.audio.vggish import VGGish
    from zsltool.files.provenance import sha256_file

    d = trained
    torch.manual_seed(1)
    torch.save(VGGish(width=1 / 16).state_dict(), tmp_path / "other.pth")
    r = cli("extract-audio", d / "esc50" / "clips.csv", "--classes", d / "esc50" / "classes.json", "--weights",
            tmp_path / "other.pth", "-o", tmp_path / "other.h5")
    assert r.exit_code == 0, r.stderr
    other = tmp_path / "other.h5"
    msg = (f"the audio rows of {other} were embedded by vggish (weights sha256 "
           f"{sha256_file(tmp_path / 'other.pth')[:12]}, embedding raw), the model's training rows by vggish "
           f"(weights sha256 {sha256_file(d / 'tiny.pth')[:12]}, embedding raw)")
    runs = {"classify": ["classify", d / "model.pt", "--embeddings", other, "--labels", "siren,thunderstorm"],
            "evaluate": ["evaluate", d / "model.pt", "--audio", other],
            "retrieve": ["retrieve", d / "model.pt", "--audio", other]}
    for name, argv in runs.items():
        r = cli(*argv)
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 1 and r.stdout == "", (name, r.stderr)
        assert lines[-1].startswith(f"Error: {msg}: the model's scores on them would mean nothing (hint: ")
        assert "--allow-other-extractor" in lines[-1] and sum(ln.startswith("Error:") for ln in lines) == 1
        r = cli(*argv, "--allow-other-extractor", "--json")
        assert r.exit_code == 0, (name, r.stderr)
        warned = [w if isinstance(w, str) else w["message"] for w in r.json()["warnings"]]
        assert warned == [msg + " (allowed by --allow-other-extractor)"] and msg in r.stderr
        r = cli(*argv, "--allow-other-extractor")  # the terminal table says it too
        assert r.exit_code == 0 and "--allow-other-extractor" in r.stdout.replace("\n", " ")
    plot = ["plot", "confusion", d / "model.pt", "--audio", other, "-o", tmp_path / "c.png"]
    r = cli(*plot)
    assert r.exit_code == 1 and f"Error: {msg}" in r.stderr and not (tmp_path / "c.png").exists()
    r = cli(*plot, "--allow-other-extractor")
    assert r.exit_code == 0 and msg in r.stderr and (tmp_path / "c.png").is_file()
    same = cli("evaluate", d / "model.pt", "--audio", d / "audio.h5", "--json")
    assert same.exit_code == 0 and "warnings" not in same.json()
    same = cli("classify", d / "model.pt", "--embeddings", d / "audio.h5", "--labels", "siren,dog", "--json")
    assert same.exit_code == 0 and same.json()["warnings"] == []
