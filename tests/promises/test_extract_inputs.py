"""Extraction commands with weights, word vectors, class indexes and manifests of the wrong kind."""

from __future__ import annotations

import pathlib

import pytest
import torch

from zsltool.errors import ZslError
from zsltool.files.checks import torch_load


def test_torch_load_names_the_kind_of_file(qa, tmp_path):
    # was: torch's multi-line "Weights only load failed ... WeightsUnpickler error" text in the one error line
    with pytest.raises(ZslError, match="it is an HDF5 file") as e:
        torch_load(qa.syn.audio, "VGGish weights file")
    assert "WeightsUnpickler" not in e.value.message
    with pytest.raises(ZslError, match="not a file saved with torch.save"):
        torch_load(qa.plain_json, "weights file")
    with pytest.raises(ZslError, match="an empty file"):
        torch_load(qa.empty, "weights file")
    with pytest.raises(ZslError, match="is a directory"):
        torch_load(qa.folder, "weights file")
    torch.save({"a": pathlib.PurePosixPath("x")}, tmp_path / "obj.pt")
    with pytest.raises(ZslError, match="Python objects other than tensors"):
        torch_load(tmp_path / "obj.pt", "weights file")
    torch.save({"w": torch.ones(2)}, tmp_path / "ok.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "ok.pt").read_bytes()[:200])
    with pytest.raises(ZslError, match="corrupt or truncated"):
        torch_load(tmp_path / "cut.pt", "weights file")
    assert torch.equal(torch_load(tmp_path / "ok.pt")["w"], torch.ones(2))


def test_extract_audio_weights_of_the_wrong_kind(qa, cli, check_user_error, out):
    res = cli("extract-audio", qa.clips, "-o", out / "a.h5", "--weights", qa.plain_json, "--workers", "0")
    err = check_user_error(res, "is not a VGGish weights file")
    assert len(err) < 300
    check_user_error(cli("extract-audio", qa.clips, "-o", out / "a.h5", "--weights", qa.folder, "--workers", "0"),
               "is a directory")


def test_pretrain_audio_bad_values(qa, cli, check_user_error, check_usage_error, out):
    base = ["pretrain-audio", qa.clips, "-o", out / "w.pth", "--classes", qa.tones, "--workers", "0"]
    # was: internal ValueError from torch.optim; now the shared finite float option type refuses it (usage error)
    check_usage_error(cli(*base, "--split", qa.tones_split, "--lr", "-1"), "--lr", "out of range (0 < x)")
    check_usage_error(cli(*base, "--split", qa.tones_split, "--lr", "nan"), "--lr", "not a finite number")
    # was: accepted (extract-audio refuses it)
    check_usage_error(cli(*base, "--split", qa.tones_split, "--max-seconds", "0"), "--max-seconds", "out of range")
    # was: trained a one-class softmax (loss 0) and wrote weights
    check_user_error(cli(*base, "--split", qa.tones_split_1train), "cover 1 training class")
    assert not (out / "w.pth").exists()


def test_import_audioset_wrong_inputs(qa, cli, check_user_error, out, tmp_path):
    cs = tmp_path / "cs.json"
    from zsltool.classes.classset import ClassSet

    ClassSet(classes=[{"id": "/m/0bt9lr", "name": "Dog"}]).save(cs)
    (tmp_path / "index.csv").write_text("index,mid,display_name\n0,/m/0bt9lr,Dog\n")
    # was: internal UnicodeDecodeError
    check_user_error(cli("import-audioset", qa.binary, "-o", out / "a.h5", "--class-index", qa.binary, "--classes", cs),
               "is not a text file")
    # was: "none of the 0 segments belongs to the class set"
    check_user_error(cli("import-audioset", qa.syn.audio, "-o", out / "a.h5", "--class-index", tmp_path / "index.csv",
                   "--classes", cs), "no AudioSet record could be read")


def test_extract_text_wrong_inputs(qa, cli, check_user_error, out, tmp_path):
    from gensim.models import KeyedVectors
    import numpy as np

    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(["low", "high", "other", "x"], np.eye(4, 3, dtype=np.float32))
    kv.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    (tmp_path / "words.txt").write_text("hello\n")
    base = ["extract-text", "--classes", qa.tones, "-o", out / "t.h5"]
    # was: internal UnicodeDecodeError
    check_user_error(cli("extract-text", "--names", qa.binary, "--vectors", tmp_path / "v.bin", "-o", out / "t.h5"),
               "is not a text file")
    check_user_error(cli(*base, "--vectors", tmp_path / "v.bin", "--descriptions", qa.binary), "is not a text file")
    # was: "cannot read ... as glove word vectors (UnicodeDecodeError ...)"
    check_user_error(cli(*base, "--vectors", qa.syn.audio), "is an HDF5 file", "not a word-vector file")
    # was: "loaded 1 word vectors of dimension 0", then every class missing
    check_user_error(cli(*base, "--vectors", tmp_path / "words.txt"), "holds no word vectors")
    # a description row with more cells than the header: was an internal AttributeError
    (tmp_path / "d.csv").write_text('id,description\nlow,"a low\nhum",extra\n')
    res = cli(*base, "--vectors", tmp_path / "v.bin", "--descriptions", tmp_path / "d.csv")
    assert res.exit_code == 0, res.stderr


def test_extract_text_missing_list_is_bounded(cli, check_user_error, out, tmp_path):
    from gensim.models import KeyedVectors
    import numpy as np

    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["a"], np.ones((1, 2), np.float32))
    kv.save_word2vec_format(str(tmp_path / "v.txt"), binary=False)
    (tmp_path / "names.txt").write_text("".join(f"zz{i}\n" for i in range(30)) + "a\n")
    res = cli("extract-text", "--names", tmp_path / "names.txt", "--vectors", tmp_path / "v.txt", "-o", out / "t.h5")
    check_user_error(res, "30 of 31 classes have no known word", "(20 more)")


def test_existing_output_is_refused_before_any_model_is_built(qa, cli, check_user_error, out, monkeypatch):
    # was: extract-image/-video/-audio built the model (downloading weights) and only then refused --out
    import zsltool.extract.base as base

    def no_model(*a, **k):
        raise AssertionError("a model was built before the existing output was refused")

    monkeypatch.setattr(base.ExtractorSpec, "build", no_model)
    (out / "x.h5").write_bytes(b"old")
    (out / "v.mp4").write_bytes(b"not decoded")
    from PIL import Image

    Image.new("RGB", (8, 8)).save(out / "i.png")
    check_user_error(cli("extract-image", out / "i.png", "-o", out / "x.h5", "--workers", "0"),
                     "output already exists")
    check_user_error(cli("extract-video", out / "v.mp4", "-o", out / "x.h5", "--model", "tiny3d", "--workers", "0"),
                     "output already exists")
    check_user_error(cli("extract-audio", qa.clips, "-o", out / "x.h5", "--workers", "0"), "output already exists")
    assert (out / "x.h5").read_bytes() == b"old"


def test_pretrain_audio_gzsl_split_without_training_instances(qa, cli, check_user_error, out):
    # was: "no clip of ... belongs only to the training classes" (the real cause unsaid)
    from zsltool.classes.splits import Split, Trial

    seen = ["low", "high"]
    Split(trials=[Trial(train=seen, val=seen, test=seen + ["x"], seen=seen, unseen=["x"])],
          protocol="gzsl").save(out / "g.json")
    res = cli("pretrain-audio", qa.clips, "-o", out / "w.pth", "--classes", qa.tones, "--split", out / "g.json",
              "--workers", "0")
    check_user_error(res, "lists no training instances (instances.train)")
    assert "zsl split --protocol gzsl" in res.stderr
