"""The extractor contract: every registered model is described as data, the CLI is built from the registry
without torch, and the extractor that made a file can be rebuilt from its provenance."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from zsltool.errors import ZslError
from zsltool.extract.base import Extractor, ExtractorConfig
from zsltool.extract.registry import extractor_from_provenance, get_extractor, list_extractors
from zsltool.names import MODALITIES


def test_every_registered_model_is_described():
    names = list_extractors()
    assert {"vggish", "resnet101", "s3d", "word2vec", "sentence"} <= set(names)
    for n in names:
        spec = get_extractor(n)
        assert spec.modality in MODALITIES and spec.description and spec.source, n
        assert issubclass(spec.config, ExtractorConfig) and dataclasses.is_dataclass(spec.config), n
        spec.config()  # the defaults make a valid config
        assert spec.target.count(":") == 1, n
        if spec.default_weights and spec.weights:
            assert spec.get_weights("DEFAULT") is not None, n
        for w in spec.weights:
            assert w.url and w.url.startswith("https://"), (n, w.id)


def test_models_command_lists_the_registry(cli):
    r = cli("models", "--json", "--modality", "audio")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    vgg = next(x for x in rows if x["name"] == "vggish")
    assert vgg["dim"] == 128 and vgg["default_weights"] == "AUDIOSET_V1" and "--embedding" in vgg["options"]
    assert {x["modality"] for x in rows} == {"audio"}
    r = cli("models", "--modality", "smell")
    assert r.exit_code == 2 and "'smell' is not one of" in r.stderr


def test_a_model_option_of_another_model_is_a_usage_error(tmp_path, cli):
    (tmp_path / "a.png").write_bytes(b"x")
    r = cli("extract-image", tmp_path / "a.png", "-o", tmp_path / "x.h5",
            "--model", "resnet18", "--clip-len", "4")
    assert r.exit_code == 2 or "--clip-len" in r.stderr  # not an extract-image option at all
    r = cli("extract-text", "--names", tmp_path / "a.png", "-o", tmp_path / "x.h5",
            "--model", "sentence", "--vectors", "v.bin")
    assert r.exit_code == 2 and "--vectors does not apply to --model sentence" in r.stderr


@pytest.mark.parametrize("argv", [
    ["extract-image", "nowhere/missing.png", "-o", "OUT/x.h5"],
    ["extract-video", "nowhere/missing.mp4", "-o", "OUT/x.h5"],
    ["extract-audio", "nowhere/missing.csv", "-o", "OUT/x.h5"],
    ["pretrain-image", "nowhere/missing.csv", "-o", "OUT/x.pth", "--classes", "c.json", "--split", "s.json"],
    ["pretrain-video", "nowhere/missing.csv", "-o", "OUT/x.pth", "--classes", "c.json", "--split", "s.json"],
    ["pretrain-audio", "nowhere/missing.csv", "-o", "OUT/x.pth", "--classes", "c.json", "--split", "s.json"],
])
def test_a_missing_input_is_reported_without_importing_torch(tmp_path, argv):
    argv = [a.replace("OUT", str(tmp_path)) for a in argv]
    code = ("import sys\nfrom zsltool.cli.app import main\nsys.argv = ['zsl'] + %r\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', code)" % (argv,))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert p.stdout.split() == ["NO-TORCH", "1"], (p.stdout, p.stderr)
    assert "Error:" in p.stderr and "not found" in p.stderr


def test_the_extractor_of_a_file_is_rebuilt_from_its_provenance(tmp_path, tiny_weights):
    import soundfile as sf

    from zsltool.extract.audio.vggish import VGGish
    from zsltool.extract.pipeline import extract
    from zsltool.store import read_embeddings

    t = np.arange(24000) / 16000
    sf.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    extract("audio", "vggish", [tmp_path / "a.wav"], tmp_path / "a.h5", weights=str(tiny_weights),
            embedding="relu", device="cpu", progress=False)
    e = read_embeddings(tmp_path / "a.h5")
    ex = extractor_from_provenance(e.meta)
    assert isinstance(ex, Extractor) and ex.name == "vggish" and ex.config.embedding == "relu"
    from zsltool.extract.runner import Item

    row = ex.embed([ex.load(Item(id="q", source=str(tmp_path / "a.wav")))])[0]["embedding"]
    np.testing.assert_allclose(row, e.X[0], atol=1e-6)
    # a local copy of the same weights is accepted; other weights are refused by their sha256
    (tmp_path / "copy.pth").write_bytes(tiny_weights.read_bytes())
    assert extractor_from_provenance(tmp_path / "a.h5", weights=tmp_path / "copy.pth").name == "vggish"
    torch.manual_seed(1)
    torch.save(VGGish(width=1 / 16).state_dict(), tmp_path / "other.pth")
    with pytest.raises(ZslError, match="not the ones that made the file"):
        extractor_from_provenance(tmp_path / "a.h5", weights=tmp_path / "other.pth")


def test_random_weights_are_drawn_again_from_the_recorded_seed(tmp_path):
    """ExtractorRecord: a file made with a seeded random network records the seed (no weights string to parse),
    and extractor_from_provenance draws the very same network again without touching the caller's generator;
    an older file with random weights and no seed is a clear error."""
    import soundfile as sf

    from zsltool.extract.pipeline import extract_audio
    from zsltool.extract.audio.vggish import build
    from zsltool.extract.record import ExtractorRecord
    from zsltool.extract.runner import Item
    from zsltool.store import StoreMeta, read_embeddings, write_embeddings

    t = np.arange(24000) / 16000
    sf.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    extract_audio(str(tmp_path / "a.wav"), tmp_path / "a.h5", extractor=build(width=1 / 16, seed=3), progress=False)
    e = read_embeddings(tmp_path / "a.h5")
    rec = ExtractorRecord.of(tmp_path / "a.h5")
    assert (rec.modality, rec.extractor, rec.weights, rec.seed) == ("audio", "vggish", "random", 3)
    assert rec.config["width"] == 1 / 16 and rec.path == str(tmp_path / "a.h5")
    state = torch.get_rng_state()
    ex = extractor_from_provenance(rec)
    assert torch.equal(state, torch.get_rng_state())
    row = ex.embed([ex.load(Item(id="q", source=str(tmp_path / "a.wav")))])[0]["embedding"]
    np.testing.assert_allclose(row, e.X[0], atol=1e-6)
    other = build(width=1 / 16, seed=4).embed([ex.load(Item(id="q", source=str(tmp_path / "a.wav")))])[0]
    assert np.abs(other["embedding"] - e.X[0]).max() > 1e-3  # the seed matters: the check above can fail
    old = {k: v for k, v in e.meta.extractor_meta.items() if k != "weights_seed"}
    write_embeddings(tmp_path / "old.h5", meta=StoreMeta(kind="instance", modality="audio", extractor="vggish",
                                                         extractor_meta=old), ids=["q"], X=e.X)
    with pytest.raises(ZslError, match="random weights and records no seed"):
        extractor_from_provenance(tmp_path / "old.h5")


def test_embed_in_memory_gives_the_rows_extract_writes(tmp_path):
    """pipeline.embed (zsl classify's clips) runs extract's pipeline into a MemorySink: the same ids, rows,
    validity and reasons as the file extract writes, an undecodable clip included."""
    import soundfile as sf

    from zsltool.extract.audio.vggish import build
    from zsltool.extract.inputs import collect_inputs
    from zsltool.extract.pipeline import embed, extract
    from zsltool.store import read_embeddings

    t = np.arange(20000) / 16000
    sf.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 16000)
    (tmp_path / "b.wav").write_bytes(b"not audio")
    inputs = [tmp_path / "a.wav", tmp_path / "b.wav"]
    extract("audio", "vggish", inputs, tmp_path / "f.h5", extractor=build(width=1 / 16, seed=2), progress=False)
    f = read_embeddings(tmp_path / "f.h5")
    sink, _ = embed(build(width=1 / 16, seed=2), collect_inputs("audio", inputs)[0])
    ids, X, valid, reasons = sink.arrays()
    assert ids == list(f.ids) and valid.tolist() == f.valid.tolist() == [True, False]
    assert reasons == list(f.reasons) and reasons[1]
    np.testing.assert_array_equal(X, f.X)
