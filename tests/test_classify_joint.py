"""``zsl classify --model clap`` (zsltool.classify.joint): a joint audio-text model scores labels with no
checkpoint. A tiny CLAP model saved with save_pretrained here (no download): zsl's probabilities equal
transformers' pipeline("zero-shot-audio-classification") for the same clips, labels and template; several
prompts are ensembled (mean of normalised text embeddings, renormalised)."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

transformers = pytest.importorskip("transformers", reason="CLAP needs transformers (pip install 'zsltool[clap]')")

from zsltool.classify.joint import classify_joint  # noqa: E402

WORDS = ["this", "is", "a", "sound", "of", "dog", "cat", "bark", "siren", "church", "bells", "recording", "the",
         "."]
LABELS = ["dog", "siren", "church bells"]
SR = 48000


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from zsltool.testing.clap import make_tiny_clap

    d = tmp_path_factory.mktemp("joint")
    folder, model = make_tiny_clap(d / "tiny-clap", WORDS)
    rng = np.random.default_rng(0)
    clips = []
    for k, (f0, secs) in enumerate(((440.0, 1.5), (1500.0, 0.7))):
        t = np.arange(int(secs * SR)) / SR
        x = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.normal(size=len(t))
        path = d / f"clip{k}.wav"
        sf.write(path, x.astype(np.float32), SR, subtype="FLOAT")  # 48 kHz float: no resampling, no rounding
        clips.append(path)
    return folder, model, clips


def _pipeline_probs(folder, clips, labels, template):
    from transformers import pipeline

    pipe = pipeline("zero-shot-audio-classification", model=str(folder))
    out = []
    for c in clips:
        wave, sr = sf.read(c, dtype="float32")
        assert sr == SR
        res = pipe(wave, candidate_labels=labels, hypothesis_template=template)
        got = {r["label"]: r["score"] for r in res}
        out.append([got[lab] for lab in labels])
    return np.array(out)


@pytest.mark.parametrize("template", [None, "the {}"])
def test_probabilities_equal_the_hf_pipeline(tiny, template):
    """None: zsl's default prompt, which is the pipeline's default hypothesis_template."""
    folder, _, clips = tiny
    preds = classify_joint(clips, labels=LABELS, weights=str(folder), prompts=template, top=3)
    want = _pipeline_probs(folder, clips, LABELS, template or "This is a sound of {}.")
    np.testing.assert_allclose(preds.probabilities, want, atol=1e-5, rtol=0)
    assert preds.info["prompts"] == [template or "This is a sound of {}."] and preds.info["temperature"] == 1.0
    assert np.abs(want - 1 / 3).max() > 1e-3  # the probabilities are not uniform: the check can fail


def test_several_prompts_average_the_normalised_text_embeddings(tiny):
    from transformers import AutoTokenizer, ClapFeatureExtractor

    folder, model, clips = tiny
    prompts = ["This is a sound of {}.", "a recording of the {}."]
    preds = classify_joint(clips, labels=LABELS, weights=str(folder), prompts=prompts)
    tok = AutoTokenizer.from_pretrained(folder)
    fe = ClapFeatureExtractor.from_pretrained(folder)

    def feats(out):
        return (out if hasattr(out, "shape") else out.pooler_output).double()

    with torch.inference_mode():
        T = []
        for p in prompts:
            t = tok([p.format(lab) for lab in LABELS], return_tensors="pt", padding=True)
            e = feats(model.get_text_features(input_ids=t["input_ids"], attention_mask=t["attention_mask"]))
            T.append(e / e.norm(dim=1, keepdim=True))
        C = torch.stack(T).mean(0)
        C = C / C.norm(dim=1, keepdim=True)
        A = []
        for c in clips:
            x = fe(sf.read(c, dtype="float32")[0], sampling_rate=SR, return_tensors="pt")
            A.append(feats(model.get_audio_features(input_features=x["input_features"], is_longer=x["is_longer"]))[0])
        A = torch.stack(A)
        z = model.logit_scale_a.exp().double() * (A / A.norm(dim=1, keepdim=True)) @ C.T
    np.testing.assert_allclose(preds.probabilities, torch.softmax(z, 1).numpy(), atol=1e-5, rtol=0)
    one = classify_joint(clips, labels=LABELS, weights=str(folder), prompts=prompts[:1])
    assert np.abs(one.probabilities - preds.probabilities).max() > 1e-4  # the second prompt changes the answer


def test_cli_classifies_without_a_checkpoint(tiny, cli, tmp_path):
    folder, _, clips = tiny
    r = cli("classify", "--model", "clap", clips[0], clips[1], "--labels", ",".join(LABELS), "--weights", folder,
            "--prompt", "the {}", "--top", "3", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    want = classify_joint(clips[:2], labels=LABELS, weights=str(folder), prompts=["the {}"], top=3)
    assert [c["clip"] for c in doc["clips"]] == [str(clips[0]), str(clips[1])]
    for clip, row in zip(doc["clips"], want.probabilities):
        got = {t["label"]: t["probability"] for t in clip["top"]}
        assert [got[lab] for lab in LABELS] == pytest.approx(list(row), abs=1e-9)
    assert doc["method"] == "cosine" and doc["logit_scale"] == pytest.approx(float(tiny[1].logit_scale_a.detach().exp()))
    # precomputed rows of extract-audio --model clap give the same answer
    r = cli("extract-audio", clips[0], clips[1], "--model", "clap", "--weights", folder, "--workers", "0",
            "-o", tmp_path / "a.h5")
    assert r.exit_code == 0, r.stderr
    r = cli("classify", "--model", "clap", "--embeddings", tmp_path / "a.h5", "--labels", ",".join(LABELS),
            "--weights", folder, "--prompt", "the {}", "--top", "3", "--json")
    assert r.exit_code == 0, r.stderr
    for clip, row in zip(json.loads(r.stdout)["clips"], want.probabilities):
        got = {t["label"]: t["probability"] for t in clip["top"]}
        assert [got[lab] for lab in LABELS] == pytest.approx(list(row), abs=1e-6)


@pytest.mark.parametrize("args, code, text", [
    (["--prompt", "the {}"], 2, "--prompt applies to --model"),
    (["--model", "clap", "--prompt", "a dog"], 1, "one {} where the label goes"),
    (["--model", "clap", "--vectors", "v.bin"], 2, "--vectors does not apply"),
])
def test_cli_refuses_misuse(tiny, cli, args, code, text):
    folder, _, clips = tiny
    r = cli("classify", clips[0], "--labels", "dog,cat", "--weights", folder, *args)
    assert r.exit_code == code and text in r.stderr and "Traceback" not in r.stderr


def test_a_checkpoint_named_like_the_model_hints_at_model(tiny, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("classify", "clap", str(tiny[2][0]), "--labels", "dog,cat")
    assert r.exit_code == 1 and "--model clap" in r.stderr


def test_docs_show_the_joint_model_and_the_cosine_row():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme, classify_md, paper = (root / "README.md").read_text(), (root / "docs" / "classify.md").read_text(), \
        (root / "docs" / "paper.md").read_text()
    for text in (readme, classify_md):
        assert "zsl classify --model clap" in text and "--prompt" in text
    assert "prompt ensembling" in classify_md.lower() and "1e-5" in classify_md
    assert "--text clap=" in paper and "--method cosine --method projection" in paper and "Table III" in paper


def test_a_cosine_checkpoint_on_clap_files_classifies_as_the_joint_model(tiny, cli, tmp_path):
    """extract-audio --model clap + extract-text --model clap-text -> train --method cosine (nothing trained; the
    logit scale from the files' provenance) -> classify CKPT: the same probabilities as classify --model clap."""
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial
    from zsltool.store import read_embeddings

    folder, model, clips = tiny
    names = ["dog", "siren", "cat", "bark"]
    rows = []
    for k, name in enumerate(names):
        t = np.arange(int(0.6 * SR)) / SR
        sf.write(tmp_path / f"{name}.wav", (0.3 * np.sin(2 * np.pi * (300 + 400 * k) * t)).astype(np.float32), SR,
                 subtype="FLOAT")
        rows.append(f"{name},{name}.wav,{name},,\n")
    (tmp_path / "clips.csv").write_text("id,path,labels,start,end\n" + "".join(rows))
    ClassSet(classes=[{"id": n, "name": n} for n in names], name="t").save(tmp_path / "c.json")
    Split(trials=[Trial(train=names[:2], val=names[2:3], test=names[3:])], protocol="custom").save(tmp_path / "s.json")
    for args in (("extract-audio", tmp_path / "clips.csv", "--classes", tmp_path / "c.json", "--model", "clap",
                  "--weights", folder, "--workers", "0", "-o", tmp_path / "a.h5"),
                 ("extract-text", "--classes", tmp_path / "c.json", "--model", "clap-text", "--weights", folder,
                  "-o", tmp_path / "t.h5"),
                 ("train", "--audio", tmp_path / "a.h5", "--text", tmp_path / "t.h5", "--split", tmp_path / "s.json",
                  "--method", "cosine", "-o", tmp_path / "m.pt")):
        r = cli(*args)
        assert r.exit_code == 0, r.stderr
    scale = float(model.logit_scale_a.detach().exp())
    assert read_embeddings(tmp_path / "a.h5").meta.extractor_meta["logit_scale"] == pytest.approx(scale)
    r = cli("classify", tmp_path / "m.pt", clips[0], "--labels", ",".join(LABELS), "--top", "3", "--json")
    assert r.exit_code == 0, r.stderr
    got = {t["label"]: t["probability"] for t in json.loads(r.stdout)["clips"][0]["top"]}
    want = classify_joint(clips[:1], labels=LABELS, weights=str(folder)).probabilities[0]
    assert [got[lab] for lab in LABELS] == pytest.approx(list(want), abs=1e-6)
