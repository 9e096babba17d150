"""docs/DESIGN.md's map "To add ..., touch these files", exercised row by row (issue 22, item 6).

Each test adds a toy X the way a contributor would: a new file (a module in a temporary folder) and edits of
the registries in the files that X's row of the map names, then runs X end to end through the CLI. The edits
go through :class:`Contributor`, which refuses a file the row does not name: a row that needs more files than it
says fails here. The edits are applied to a fresh import of zsltool (as the edited source would be), which the
test gives back afterwards, so no other test sees the toy.
"""

from __future__ import annotations

import csv
import importlib
import re
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def design_rows() -> dict[str, set[str]]:
    """Row of the map ("a metric", "a split protocol", ...) -> the zsltool files its "write" and "register"
    cells name (the last cell says what then follows, in files nobody edits)."""
    design = (REPO / "docs" / "DESIGN.md").read_text()
    section = design.split("## To add ...", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in ("to add", "") or set(cells[0]) <= {"-"}:
            continue
        rows[re.sub(r"\s*\(.*\)$", "", cells[0])] = set(re.findall(r"`(zsltool/[\w/.]+\.py)", " ".join(cells[1:3])))
    return rows


class Contributor:
    """Edits in the files of one row of the map, on a fresh import of zsltool."""

    def __init__(self, row: str, folder: Path, monkeypatch):
        rows = design_rows()
        assert row in rows, f"docs/DESIGN.md has no row {row!r} (rows: {sorted(rows)})"
        self.row, self.files, self.folder, self.mp = row, rows[row], folder, monkeypatch
        self.touched: set[str] = set()

    def edit(self, path: str):
        """The module of ``path`` (e.g. ``zsltool/names.py``), to change as an edit of that file would."""
        assert path in self.files, f"the row {self.row!r} of docs/DESIGN.md does not name {path}"
        self.touched.add(path)
        return importlib.import_module(path[:-3].replace("/", ".").removesuffix(".__init__"))

    def new_file(self, name: str, source: str):
        """One new module (the row's "one new file"), importable as ``name``."""
        (self.folder / f"{name}.py").write_text(textwrap.dedent(source))
        self.mp.syspath_prepend(str(self.folder))
        self.mp.delitem(sys.modules, name, raising=False)
        return importlib.import_module(name)


@pytest.fixture
def contributor(tmp_path, monkeypatch):
    """``contributor(row)``: a :class:`Contributor` on a fresh zsltool; the original modules come back after."""
    saved = {k: m for k, m in sys.modules.items() if k == "zsltool" or k.startswith("zsltool.")}
    for k in saved:
        del sys.modules[k]
    made = []

    def make(row: str) -> Contributor:
        made.append(Contributor(row, tmp_path / "toy", monkeypatch))
        made[-1].folder.mkdir(exist_ok=True)
        return made[-1]

    yield make
    for k in [k for k in sys.modules if k == "zsltool" or k.startswith("zsltool.")]:
        del sys.modules[k]
    sys.modules.update(saved)


def ok(res):
    assert res.exit_code == 0, res.stderr + res.stdout
    return res


# -- a metric ---------------------------------------------------------------------------------------------------
def test_a_metric_is_one_registry_entry(contributor, cli, tmp_path):
    """A toy metric (the number of rows scored) in METRICS is reported by zsl evaluate (ZSL and GZSL), zsl retrieve
    (GZSL and ZSL) and every trial row of zsl experiment, computed by its own function on the rows each scores."""
    c = contributor("a metric")
    M = c.edit("zsltool/evaluate/metrics.py")

    def rows_scored(scores, y, seen_mask=None) -> float:
        assert np.shape(scores)[0] == np.shape(y)[0]
        return float(np.shape(scores)[0])

    M.METRICS["rows"] = M.Metric("rows", "rows scored", ("zsl", "gzsl", "retrieval"), rows_scored)
    assert "rows (rows scored)" in M.metric_help()  # zsl compare / plot cd --metric help
    from zsltool.train.synthetic import make_synthetic

    for gzsl in (False, True):
        syn = make_synthetic(tmp_path / f"g{gzsl}", n_classes=6, per_class=5, n_train=2, n_val=2, video=False,
                             gzsl=gzsl, audio_dim=6, text_dim=4)
        ck = tmp_path / f"g{gzsl}.pt"
        ok(cli("train", "--audio", syn.audio, "--text", syn.text, "--split", syn.split, "--out", ck,
               "--epochs", "2", "--method", "eszsl"))
        m = ok(cli("evaluate", ck, "--json")).json()["metrics"]
        assert m["rows"] == (m["n_test_seen"] + m["n_test_unseen"] if gzsl else m["n_test"]) > 0
        r = ok(cli("retrieve", ck, "--json")).json()["metrics"]
        assert r["rows"] == r["n_instances"] > 0
        assert ("S" in r) == gzsl  # S/U/HM of retrieval: only with seen classes (their fn says None otherwise)
        out = tmp_path / f"exp{gzsl}"
        ok(cli("experiment", "--audio", syn.audio, "--text", syn.text, "--split", syn.split, "--out", out,
               "--epochs", "1", "--method", "eszsl", "--json"))
        rows = list(csv.DictReader(open(out / "trials.csv")))
        assert rows and all(float(r["rows"]) == m["rows"] for r in rows)


# -- a split protocol -----------------------------------------------------------------------------------------
def test_a_split_protocol_is_a_function_and_one_registry_entry(contributor, cli, tmp_path):
    """A toy protocol (trial k rotates the sorted classes by 2k: 2 test, 2 validation, the rest train) works in
    zsl split --protocol toy (its help too), zsl report and zsl experiment (its column and caption)."""
    c = contributor("a split protocol")
    names = c.edit("zsltool/names.py")
    names.SPLIT_PROTOCOLS += ("toy",)  # split files of the protocol are valid
    S = c.edit("zsltool/classes/split_classes.py")

    def split_toy(cs, trials: int = 2, seed: int = 0):
        ids = sorted(cs.ids)
        rot = [ids[2 * k:] + ids[:2 * k] for k in range(trials)]
        return S.Split(trials=[S.Trial(train=r[4:], val=r[2:4], test=r[:2]) for r in rot], protocol="toy",
                       seed=seed, class_set_sha256=cs.sha256, params={"trials": trials})

    S.split_toy = split_toy
    P = c.edit("zsltool/classes/protocols.py")
    P.PROTOCOLS["toy"] = P.Protocol("rotating toy split", frozenset({"trials"}), "toy class split",
                                    lambda cs, seed, given, strict: (S.split_toy(cs, seed=seed, **given), []),
                                    lambda params: "Toy")
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path / "d", n_classes=6, per_class=4, n_train=2, n_val=2, video=False, audio_dim=6,
                         text_dim=4)
    assert "toy: rotating toy split" in " ".join(ok(cli("split", "--help", env={"COLUMNS": "1000"})).stdout.split())
    doc = ok(cli("split", syn.class_set, "--protocol", "toy", "--trials", "3", "-o", tmp_path / "toy.json",
                 "--json")).json()
    assert [t["test_classes"] for t in doc["trials"]] == [["c00", "c01"], ["c02", "c03"], ["c04", "c05"]]
    bad = cli("split", syn.class_set, "--protocol", "toy", "--folds", "3", "-o", tmp_path / "x.json")
    assert bad.exit_code == 1 and "--folds does not apply to --protocol toy" in bad.stderr
    report = ok(cli("report", tmp_path / "toy.json", "--classes", syn.class_set)).stdout
    assert "toy class split" in report and "rotating toy split" in report
    out = tmp_path / "exp"
    exp = ok(cli("experiment", "--audio", syn.audio, "--text", syn.text, "--split", tmp_path / "toy.json",
                 "--out", out, "--epochs", "1", "--method", "eszsl"))
    assert "Toy: toy class split (2 unseen test classes, 3 trials" in " ".join(exp.stdout.split())
    assert "Toy" in (out / "table.csv").read_text()


def test_split_protocol_names_are_the_registry():
    from zsltool.classes.protocols import PROTOCOLS
    from zsltool.names import SPLIT_PROTOCOLS

    assert SPLIT_PROTOCOLS == tuple(PROTOCOLS)


# -- a plot kind ----------------------------------------------------------------------------------------------
def test_a_plot_kind_is_a_drawing_function_and_one_registry_entry(contributor, cli, tmp_path):
    """A toy figure (the metrics of a results document as bars) works in zsl plot toy, from a results file and
    from a checkpoint (evaluated first), and as zsl plot --kind toy."""
    c = contributor("a plot kind")
    c.edit("zsltool/names.py").PLOT_KINDS += ("toy",)
    P = c.edit("zsltool/evaluate/plot.py")
    drawn = []

    def plot_metrics(path, names, values, *, overwrite=False, fmt=None):
        drawn.append(dict(zip(names, values)))
        fig, ax = P._plt().subplots(figsize=(P.COLUMN_WIDTH, 2))
        ax.bar(range(len(values)), values)
        return P._save(fig, path, overwrite, fmt)

    P.plot_metrics = plot_metrics
    F = c.edit("zsltool/evaluate/figures.py")

    def metrics_figure(doc, out, *, source="", overwrite=False, fmt=None):
        m = {k: v for k, v in doc["metrics"].items() if k in ("top1", "mean_class_acc")}
        return P.plot_metrics(out, list(m), list(m.values()), overwrite=overwrite, fmt=fmt)

    F.RESULTS_FIGURES["toy"] = metrics_figure
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path / "d", n_classes=6, per_class=4, n_train=2, n_val=2, video=False, audio_dim=6,
                         text_dim=4)
    ck, res = tmp_path / "m.pt", tmp_path / "r.json"
    ok(cli("train", "--audio", syn.audio, "--text", syn.text, "--split", syn.split, "--out", ck, "--method", "eszsl"))
    m = ok(cli("evaluate", ck, "--out", res, "--json")).json()["metrics"]
    ok(cli("plot", "toy", res, "-o", tmp_path / "a.png"))
    ok(cli("plot", "--kind", "toy", ck, "-o", tmp_path / "b.svg"))
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG" and b"<svg" in (tmp_path / "b.svg").read_bytes()
    assert drawn == [{"top1": m["top1"], "mean_class_acc": m["mean_class_acc"]}] * 2
    bad = cli("plot", "--kind", "nope", res, "-o", tmp_path / "c.png")
    assert bad.exit_code == 2 and "toy" in bad.stderr


def test_plot_kind_names_are_the_figures():
    from zsltool.evaluate.figures import RESULTS_FIGURES
    from zsltool.names import PLOT_KINDS

    assert set(PLOT_KINDS) == set(RESULTS_FIGURES) | {"tsne", "cd"}


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


def test_an_audio_encoder_is_one_file_and_its_catalog_entry(contributor, cli, tmp_path):
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
    ok(cli("extract-audio", tmp_path / "s0.wav", tmp_path / "s1.wav", "--model", "toy", "--gain", "2", "-o", out))
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


def test_a_text_backend_is_one_file_and_its_catalog_entry(contributor, cli, tmp_path):
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


def test_a_dataset_recipe_is_one_file_and_one_registry_entry(contributor, cli, tmp_path):
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


# -- the contracts of docs/DESIGN.md against the code -------------------------------------------------------------
def _block(design: str, heading: str) -> str:
    return design.split(heading, 1)[1].split("\n## ", 1)[0]


def test_design_schemas_and_signatures_are_the_code(tmp_path):
    """The checkpoint keys, the embedding file's root attributes, write_embeddings' and EmbeddingWriter.add's
    parameters that docs/DESIGN.md shows are those of the code (was: calibration and provenance missing,
    add_batch and write_embeddings' signature wrong)."""
    import inspect

    from zsltool.store import EmbeddingWriter, StoreMeta, write_embeddings
    from zsltool.train.checkpoint import load_checkpoint
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train
    from zsltool.train.synthetic import make_synthetic

    design = (REPO / "docs" / "DESIGN.md").read_text()
    syn = make_synthetic(tmp_path, n_classes=6, per_class=4, n_train=2, n_val=2, video=False, audio_dim=6,
                         text_dim=4)
    r = train(TrainConfig(audio=str(syn.audio), text=str(syn.text), split=str(syn.split), out=str(tmp_path / "m.pt"),
                          method="eszsl"))
    ckpt = load_checkpoint(r.checkpoint)
    documented = set(re.findall(r'"(\w+)":', _block(design, "## Checkpoint")))
    assert set(ckpt) - {"path"} <= documented, set(ckpt) - documented  # "path": added by load_checkpoint
    store = _block(design, "## Embedding store")
    attrs = set(StoreMeta().to_attrs()) | {"dim"}
    assert all(f"`{a}`" in store.split("Datasets:")[0] for a in attrs)
    (line,) = [ln for ln in store.split("```python")[1].split("```")[0].split("# on normal exit")[0].splitlines()
               if "w.add(" in ln]
    assert re.findall(r"(\w+)=", line) == [p for p in inspect.signature(EmbeddingWriter.add).parameters
                                           if p not in ("self", "id", "embedding", "key")]
    doc_sig = store.split("write_embeddings(path, ", 1)[1].split(") -> Path", 1)[0]
    assert re.findall(r"(\w+)=", doc_sig) == list(inspect.signature(write_embeddings).parameters)[1:]


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


def test_an_image_model_is_one_file_and_its_catalog_entry(contributor, cli, tmp_path):
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
    ok(cli("extract-image", tmp_path / "red.png", tmp_path / "green.png", "--model", "toy", "-o", out))
    from zsltool.store import read_embeddings

    e = read_embeddings(out)
    rows = dict(zip(e.ids, e.X.tolist()))
    assert e.meta.extractor == "toy" and len(rows) == 2
    np.testing.assert_allclose(sorted(rows.values()), [[0.0, 0.4, 0.0], [1.0, 0.0, 0.2]], atol=1e-6)


def test_every_row_of_the_map_is_exercised():
    """A new row of the map comes with its extension test (a method's: tests/methods/, issue 22 item 1)."""
    tests = {"an audio encoder": test_an_audio_encoder_is_one_file_and_its_catalog_entry,
             "a text backend": test_a_text_backend_is_one_file_and_its_catalog_entry,
             "an image or video model": test_an_image_model_is_one_file_and_its_catalog_entry,
             "a metric": test_a_metric_is_one_registry_entry,
             "a split protocol": test_a_split_protocol_is_a_function_and_one_registry_entry,
             "a dataset recipe": test_a_dataset_recipe_is_one_file_and_one_registry_entry,
             "a plot kind": test_a_plot_kind_is_a_drawing_function_and_one_registry_entry}
    assert set(design_rows()) - {"a method"} == set(tests)


def test_retrieval_metrics_in_one_pass_equal_their_registered_functions():
    """zsl retrieve takes mAP, S, U and HM from one pass of retrieval_metrics: each equals its Metric.fn."""
    from zsltool.evaluate.metrics import metrics_of
    from zsltool.evaluate.retrieval import retrieval_metrics

    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=(12, 4)), 1)  # ties included
    rel = np.zeros((12, 4), bool)
    rel[np.arange(12), np.arange(12) % 4] = True
    for seen in (None, np.array([True, True, False, False])):
        r = retrieval_metrics(scores, rel, seen)
        fns = {m.name: m.fn(scores, rel, seen) for m in metrics_of("retrieval")}
        assert {k: v for k, v in fns.items() if v is not None} == {k: r[k] for k in fns if k in r}
        assert {k for k, v in fns.items() if v is None} == ({"S", "U", "HM"} if seen is None else set())
