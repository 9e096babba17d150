"""docs/DESIGN.md's rows for inputs: an audio encoder, a text backend, an image or video model, a dataset recipe
(tests/extension/conftest.py)."""

from __future__ import annotations

import numpy as np


# -- an audio encoder and a text backend ----------------------------------------------------------------------
TOY_ENCODER = """
    import numpy as np

    from zsltool.extract.audio.extract import AudioExtractor


    class ToyEncoder(AudioExtractor):
        '''RMS (times --gain) and peak of each 0.1 s example.'''

        sample_rate, min_samples, example = 8000, 800, "0.1 s"

        def __init__(self, config, device="cpu"):
            super().__init__(config, device)
            self.dim = 2

        def examples(self, wave):
            k = len(wave) // 800
            return wave[:k * 800].reshape(k, 800).astype(np.float32)

        def embed_examples(self, x):
            import torch

            return torch.stack([x.pow(2).mean(1).sqrt() * self.config.gain, x.abs().amax(1)], 1)
"""


def test_an_audio_encoder_is_one_file_and_its_catalog_entry(contributor, cli, ok, tmp_path):
    """A toy encoder in a new module, registered in the catalog with a config field of its own (--gain): zsl
    extract-audio --model toy writes its rows (exact values), zsl models lists it, and the file's provenance
    rebuilds it."""
    import dataclasses

    import soundfile as sf

    c = contributor("an audio encoder")
    c.new_file("toy_encoder", TOY_ENCODER)
    C = c.edit("zsltool/extract/catalog.py")

    @dataclasses.dataclass
    class ToyConfig(C.AudioConfig):
        gain: float = C.option(1.0, "Multiplier of the RMS.", positive=True)

    C.register(C.ExtractorSpec("toy", "audio", "toy_encoder:ToyEncoder", config=ToyConfig, dim=2,
                               description="toy: RMS and peak per 0.1 s"))
    t = np.arange(8000) / 8000
    for k, amp in enumerate((0.5, 0.25)):  # 500 Hz at 8 kHz: whole periods per example, the peak on a sample
        sf.write(tmp_path / f"s{k}.wav", (amp * np.sin(2 * np.pi * 500 * t)).astype(np.float32), 8000,
                 subtype="FLOAT")
    out = tmp_path / "toy.h5"
    ok(cli("extract-audio", tmp_path / "s0.wav", tmp_path / "s1.wav", "--model", "toy", "--gain", "2", "--workers", "0",
           "-o", out))
    from zsltool.extract.registry import extractor_from_provenance
    from zsltool.store import read_embeddings

    e = read_embeddings(out)
    assert e.meta.extractor == "toy" and e.meta.extractor_meta["config"]["gain"] == 2.0
    np.testing.assert_allclose(e.X, [[2 * 0.5 / np.sqrt(2), 0.5], [2 * 0.25 / np.sqrt(2), 0.25]], atol=1e-5)
    assert extractor_from_provenance(out).config.gain == 2.0
    assert "toy" in [m["name"] for m in ok(cli("models", "--modality", "audio", "--json")).json()]
    bad = cli("extract-audio", tmp_path / "s0.wav", "--model", "vggish", "--gain", "2", "-o", tmp_path / "v.h5")
    assert bad.exit_code == 2 and "--gain does not apply to --model vggish" in bad.stderr


TOY_TEXT = """
    import numpy as np

    from zsltool.extract.text import TextExtractor


    class ToyText(TextExtractor):
        '''(letters, words, vowels) of each label.'''

        def __init__(self, config, device="cpu"):
            super().__init__(config, device)
            self.dim = 3

        def rows(self, entries):
            return [(np.array([len(t), len(t.split()), sum(ch in "aeiou" for ch in t)], np.float32), [t])
                    if t.strip() else (None, []) for t in self.texts(entries)]
"""


def test_a_text_backend_is_one_file_and_its_catalog_entry(contributor, cli, ok, tmp_path):
    """A toy text backend in a new module, registered in the catalog: zsl extract-text --model toy writes one
    class row per label (exact values)."""
    c = contributor("a text backend")
    c.new_file("toy_text", TOY_TEXT)
    C = c.edit("zsltool/extract/catalog.py")
    C.register(C.ExtractorSpec("toy", "text", "toy_text:ToyText", config=C.TextConfig, dim=3,
                               description="toy: letters, words and vowels of a label"))
    (tmp_path / "names.txt").write_text("dog\nchurch bells\nsiren\n")
    out = tmp_path / "t.h5"
    doc = ok(cli("extract-text", "--names", tmp_path / "names.txt", "--model", "toy", "-o", out, "--json")).json()
    assert doc["model"] == "toy" and doc["valid"] == 3
    from zsltool.store import read_embeddings

    e = read_embeddings(out)
    assert e.ids == ["dog", "church bells", "siren"] and e.meta.extractor == "toy"
    np.testing.assert_array_equal(e.X, [[3, 1, 1], [12, 2, 2], [5, 1, 2]])


TOY_IMAGE = """
    import numpy as np

    from zsltool.extract.base import Extractor
    from zsltool.extract.image import load_crop


    class MeanColour(Extractor):
        '''The mean RGB of each image (or crop), in [0, 1].'''

        modality, unit = "image", "image"

        def __init__(self, config, device="cpu"):
            super().__init__(config, device)
            self.dim = 3

        def load(self, item):
            path, box = item.source
            return np.asarray(load_crop(path, box), dtype=np.float32).mean(axis=(0, 1)) / 255

        def embed(self, samples):
            return [{"embedding": s} for s in samples]
"""


def test_an_image_model_is_one_file_and_its_catalog_entry(contributor, cli, ok, tmp_path):
    """A toy image model (mean colour) in a new module, registered in the catalog: zsl extract-image --model toy."""
    from PIL import Image

    c = contributor("an image or video model")
    c.new_file("toy_image", TOY_IMAGE)
    C = c.edit("zsltool/extract/catalog.py")
    C.register(C.ExtractorSpec("toy", "image", "toy_image:MeanColour", config=C.ExtractorConfig, dim=3,
                               description="toy: mean colour"))
    Image.new("RGB", (8, 8), (255, 0, 51)).save(tmp_path / "red.png")
    Image.new("RGB", (8, 8), (0, 102, 0)).save(tmp_path / "green.png")
    out = tmp_path / "i.h5"
    ok(cli("extract-image", tmp_path / "red.png", tmp_path / "green.png", "--model", "toy", "--workers", "0",
           "-o", out))
    from zsltool.store import read_embeddings

    e = read_embeddings(out)
    rows = dict(zip(e.ids, e.X.tolist()))
    assert e.meta.extractor == "toy" and len(rows) == 2
    np.testing.assert_allclose(sorted(rows.values()), [[0.0, 0.4, 0.0], [1.0, 0.0, 0.2]], atol=1e-6)


# -- a dataset recipe -------------------------------------------------------------------------------------------
TOY_RECIPE = """
    import os

    from zsltool.prepare.common import Prepared, need_file, need_folder, read_csv, write_prepared


    def prepare_toy(root, out, *, overwrite=False):
        '''A folder with labels.csv (file,label) and the audio files it names.'''
        root = need_folder(root, "toy dataset folder")
        rows = read_csv(need_file(root, "labels.csv", "toy"), ["file", "label"], "toy")
        names = sorted({r["label"] for r in rows})
        clips = [{"id": r["file"], "path": str(root / r["file"]), "labels": [r["label"]]} for r in rows]
        return write_prepared(Prepared(dataset="toy", classes=[{"id": n, "name": n} for n in names], clips=clips),
                              out, overwrite=overwrite)
"""


def test_a_dataset_recipe_is_one_file_and_one_registry_entry(contributor, cli, ok, tmp_path):
    """A toy recipe in a new module, registered in RECIPES: zsl prepare toy ROOT -o OUT writes the class set and
    the clip manifest; a folder that is not there is one Error: line."""
    import soundfile as sf

    c = contributor("a dataset recipe")
    toy = c.new_file("toy_recipe", TOY_RECIPE)
    R = c.edit("zsltool/prepare/__init__.py")
    R.RECIPES["toy"] = R.Recipe(toy.prepare_toy, "Toy: labels.csv and its audio files.", "The toy folder.")
    root = tmp_path / "toyset"
    root.mkdir()
    rows = [("a.wav", "dog"), ("b.wav", "siren"), ("c.wav", "dog")]
    for f, _ in rows:
        sf.write(root / f, 0.1 * np.sin(np.arange(1600) / 3.0).astype(np.float32), 16000)
    (root / "labels.csv").write_text("file,label\n" + "".join(f"{f},{lab}\n" for f, lab in rows))
    assert "Toy: labels.csv and its audio files." in " ".join(
        ok(cli("prepare", "--help", env={"COLUMNS": "1000"})).stdout.split())
    doc = ok(cli("prepare", "toy", root, "-o", tmp_path / "out", "--json")).json()
    assert doc["dataset"] == "toy" and doc["classes"] == 2 and doc["clips"] == 3
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.manifest import read_clip_manifest

    assert ClassSet.load(tmp_path / "out" / "classes.json").ids == ["dog", "siren"]
    clips = read_clip_manifest(tmp_path / "out" / "clips.csv")
    assert sorted((cl["id"], tuple(cl["labels"])) for cl in clips) == [("a.wav", ("dog",)), ("b.wav", ("siren",)),
                                                                  ("c.wav", ("dog",))]
    bad = cli("prepare", "toy", tmp_path / "nothing", "-o", tmp_path / "o2")
    assert bad.exit_code == 1 and bad.stderr.startswith("Error:")
