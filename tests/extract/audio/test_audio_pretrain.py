"""pretrain-audio: seen-class clips only, weights that extract-audio --weights loads."""

import json

import numpy as np
import torch

from zsltool.store import read_embeddings


def test_pretrain_on_seen_classes_then_extract(tmp_path, audio_dir, classes_file, cli):
    from zsltool.classes.splits import Split, Trial

    d, man = audio_dir
    # an unseen-class clip and a mixed clip must not be used for training
    man.write_text(man.read_text() + "u1,audio/clip0.wav,other,,\nmix,audio/clip1.flac,low;other,,\n")
    split = tmp_path / "split.json"
    Split(trials=[Trial(train=["low", "high"], val=[], test=["other"])], protocol="custom").save(split)
    out = tmp_path / "trained.pth"
    args = ["--seed", "3", "pretrain-audio", str(man), "--classes", str(classes_file), "--split", str(split),
            "--out", str(out), "--epochs", "5", "--width", "0.0625", "--lr", "3e-3", "--batch-size", "3",
            "--workers", "0", "--json"]
    r = cli(*args)
    assert r.exit_code == 0, r.output + r.stderr
    res = json.loads(r.stdout)
    assert res["clips"] == 6 and res["classes"] == 2 and res["excluded_mixed"] == 1
    assert res["other_class_clips"] == 1
    side = json.loads((tmp_path / "trained.pth.json").read_text())
    assert side["train_classes"] == ["low", "high"] and side["loss"] == "softmax cross-entropy"
    hist = [h["loss"] for h in side["history"]]
    assert len(hist) == 5 and hist[-1] < hist[0]
    assert side["weights_sha256"] and side["config"]["seed"] == 3
    sd = torch.load(out, weights_only=True)
    assert sorted(sd) == sorted(k for k in sd if k.startswith(("features.", "embeddings.")))  # no head
    assert sd["features.0.weight"].shape == (4, 1, 3, 3)

    # same seed -> same weights
    out2 = tmp_path / "trained2.pth"
    r = cli(*[a if a != str(out) else str(out2) for a in args])
    assert r.exit_code == 0, r.stderr
    sd2 = torch.load(out2, weights_only=True)
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)

    emb = tmp_path / "emb.h5"
    r = cli("extract-audio", man, "--out", emb, "--weights", out, "--workers", "0",
            "--classes", classes_file, "--json")
    assert r.exit_code == 0, r.output + r.stderr
    e = read_embeddings(emb)
    assert e.meta.extractor_meta["channels"] == [4, 8, 16, 16, 32, 32]
    # the trained network separates the two tone classes better than chance in its embedding space
    low = e.X[[e.ids.index(f"c{i}") for i in (0, 2, 4)]]
    high = e.X[[e.ids.index(f"c{i}") for i in (1, 3, 5)]]
    within = np.mean([np.linalg.norm(a - b) for s in (low, high) for a in s for b in s])
    between = np.mean([np.linalg.norm(a - b) for a in low for b in high])
    assert between > within


def test_pretrain_refuses_without_training_clips(tmp_path, audio_dir, classes_file, cli):
    from zsltool.classes.splits import Split, Trial

    d, man = audio_dir
    split = tmp_path / "split.json"
    Split(trials=[Trial(train=["other"], val=[], test=["low", "high"])], protocol="custom").save(split)
    r = cli("pretrain-audio", man, "--classes", classes_file, "--split", split,
            "--out", tmp_path / "t.pth", "--epochs", "1", "--width", "0.0625")
    assert r.exit_code == 1 and "no clip" in r.stderr


def test_gzsl_trains_on_instances_train_and_only_ids_restricts_further(tmp_path, audio_dir, classes_file):
    from zsltool.classes.splits import Split, Trial
    from zsltool.extract.audio.pretrain import pretrain_audio

    _, man = audio_dir
    seen = ["low", "high"]
    inst = {"train": ["c0", "c1", "c2", "c3"], "val": ["c4"], "test_seen": ["c5"]}
    Split(trials=[Trial(train=seen, val=seen, test=seen + ["other"], seen=seen, unseen=["other"],
                        instances=inst)], protocol="gzsl").save(tmp_path / "g.json")
    kw = dict(classes_path=classes_file, split_path=tmp_path / "g.json", epochs=1, width=0.0625, workers=0,
              progress=False)
    assert pretrain_audio(man, tmp_path / "a.pth", **kw)["clips"] == 4
    res = pretrain_audio(man, tmp_path / "b.pth", only_ids=["c0", "c1", "c2", "c4"], **kw)
    assert res["clips"] == 3  # c4 is a validation clip: instances.train still rules
    side = json.loads((tmp_path / "b.pth.json").read_text())
    assert side["instances"] == "instances.train of the trial, restricted to the given ids"
