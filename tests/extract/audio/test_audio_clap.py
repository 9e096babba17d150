"""CLAP through transformers' ClapModel: a tiny ClapConfig built here (no download), saved as a local model
folder, then used by extract-audio --model clap and extract-text --model clap-text; rows equal the model's own
get_audio_features / get_text_features, and audio and text land in one space of the projection's size."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

transformers = pytest.importorskip("transformers", reason="CLAP needs transformers (pip install 'zsltool[clap]')")

from zsltool.store import read_embeddings  # noqa: E402

WORDS = ["this", "is", "a", "sound", "of", "dog", "cat", "bark", "meow", "."]


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory):
    from zsltool.testing.clap import make_tiny_clap

    return make_tiny_clap(tmp_path_factory.mktemp("clap") / "tiny-clap", WORDS)


def test_clap_audio_rows_are_the_models_audio_features(tmp_path, tiny_clap, cli):
    from transformers import ClapFeatureExtractor

    folder, model = tiny_clap
    t = np.arange(int(1.5 * 16000)) / 16000
    sf.write(tmp_path / "dog.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    r = cli("extract-audio", tmp_path / "dog.wav", "-o", tmp_path / "a.h5", "--model",
            "clap", "--weights", folder, "--workers", "0", "--json")
    assert r.exit_code == 0, r.output + r.stderr
    assert json.loads(r.stdout)["dim"] == 8
    e = read_embeddings(tmp_path / "a.h5")
    assert e.meta.extractor == "clap" and e.meta.extractor_meta["weights_sha256"]
    from zsltool.extract.audio.io import load_waveform

    wave, _ = load_waveform(tmp_path / "dog.wav", sample_rate=48000)
    fe = ClapFeatureExtractor.from_pretrained(folder)
    x = fe(wave.astype(np.float32), sampling_rate=48000, truncation="rand_trunc", return_tensors="pt")["input_features"]
    with torch.inference_mode():
        out = model.get_audio_features(input_features=x, is_longer=torch.zeros((1, 1), dtype=torch.bool))
    want = (out if hasattr(out, "shape") else out.pooler_output)[0].numpy()
    np.testing.assert_allclose(e.X[0], want, rtol=1e-4, atol=1e-5)
    assert abs(np.linalg.norm(e.X[0]) - 1.0) < 1e-4  # the normalised projection


def test_clap_text_embeds_labels_through_the_prompt(tmp_path, tiny_clap, cli):
    folder, model = tiny_clap
    (tmp_path / "names.txt").write_text("dog\ncat\n")
    r = cli("extract-text", "--names", tmp_path / "names.txt", "-o", tmp_path / "t.h5",
            "--model", "clap-text", "--weights", folder, "--json")
    assert r.exit_code == 0, r.output + r.stderr
    e = read_embeddings(tmp_path / "t.h5")
    assert e.ids == ["dog", "cat"] and e.dim == 8 and e.meta.extractor_meta["prompt"] == "This is a sound of {}."
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)(["This is a sound of dog."], return_tensors="pt")
    with torch.inference_mode():
        out = model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])
    want = (out if hasattr(out, "shape") else out.pooler_output)[0].numpy()
    np.testing.assert_allclose(e.X[0], want, rtol=1e-4, atol=1e-5)
    # the text file's extractor is rebuilt from its provenance (weights checked by sha256)
    from zsltool.extract.registry import extractor_from_provenance

    assert extractor_from_provenance(tmp_path / "t.h5").dim == 8


def test_classify_embeds_any_label_list_with_the_training_clap_text(tmp_path, tiny_clap, cli):
    """A model trained on CLAP audio + CLAP text class embeddings classifies a clip among new labels: zsl classify
    rebuilds the training text extractor (clap-text) from the text file's provenance."""
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial

    folder, _ = tiny_clap
    names = ["dog", "cat", "bark", "meow"]
    rows = []
    for k, name in enumerate(names):
        for i in range(2):
            t = np.arange(12000) / 16000
            sf.write(tmp_path / f"{name}{i}.wav", (0.3 * np.sin(2 * np.pi * (300 + 500 * k + 40 * i) * t)).astype(
                np.float32), 16000)
            rows.append(f"{name}{i},{name}{i}.wav,{name},,\n")
    (tmp_path / "clips.csv").write_text("id,path,labels,start,end\n" + "".join(rows))
    ClassSet(classes=[{"id": n, "name": n} for n in names], name="t").save(tmp_path / "c.json")
    Split(trials=[Trial(train=["dog", "cat"], val=["bark"], test=["meow"])], protocol="custom").save(
        tmp_path / "s.json")

    def run(*args):
        r = cli(*args)
        assert r.exit_code == 0, r.output + r.stderr
        return r

    run("extract-audio", tmp_path / "clips.csv", "--classes", tmp_path / "c.json", "--model", "clap", "--weights",
        folder, "--workers", "0", "-o", tmp_path / "a.h5")
    run("extract-text", "--classes", tmp_path / "c.json", "--model", "clap-text", "--weights", folder,
        "-o", tmp_path / "t.h5")
    run("train", "--audio", tmp_path / "a.h5", "--text", tmp_path / "t.h5", "--split", tmp_path / "s.json",
        "--method", "projection", "--epochs", "2", "-o", tmp_path / "m.pt")
    r = run("classify", tmp_path / "m.pt", tmp_path / "dog0.wav", "--labels", "this sound,a cat", "--top", "2",
            "--json")
    doc = json.loads(r.stdout)
    assert doc["labels"] == ["this sound", "a cat"] and len(doc["clips"]) == 1
    assert "clap-text" in json.dumps(doc)
