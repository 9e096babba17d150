"""docs/DESIGN.md against the code: its schemas and signatures, and a test for every row of its map."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent


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
    import json

    from zsltool.classes.classset import ClassSet

    for heading, data in (("## Split file", json.loads(syn.split.read_text())),
                          ("## Class set file", ClassSet.load(syn.class_set).to_dict())):
        documented = set(re.findall(r'"(\w+)":', _block(design, heading)))
        assert set(data) <= documented, (heading, set(data) - documented)


def test_every_row_of_the_map_is_exercised(design_rows):
    """A new row of the map comes with its extension test here (a method's: under tests/methods/, issue 22 item 1)."""
    tests = {"an audio encoder": "test_an_audio_encoder_is_one_file_and_its_catalog_entry",
             "a text backend": "test_a_text_backend_is_one_file_and_its_catalog_entry",
             "an image or video model": "test_an_image_model_is_one_file_and_its_catalog_entry",
             "a metric": "test_a_metric_is_one_registry_entry",
             "a split protocol": "test_a_split_protocol_is_a_function_and_one_registry_entry",
             "a dataset recipe": "test_a_dataset_recipe_is_one_file_and_one_registry_entry",
             "a plot kind": "test_a_plot_kind_is_a_drawing_function_and_one_registry_entry"}
    assert set(design_rows) - {"a method"} == set(tests)
    defined = set(re.findall(r"^def (test_\w+)\(contributor", "".join(p.read_text() for p in HERE.glob("test_*.py")),
                             flags=re.M))
    assert set(tests.values()) == defined


def test_class_set_hash_is_the_documented_formula():
    """docs/DESIGN.md, "Class set file": sha256 of the canonical JSON of the classes (non-ASCII names as UTF-8)."""
    import hashlib
    import json

    from zsltool.classes.classset import classset_hash

    classes = [{"id": "/m/0", "name": "Café"}, {"id": "b", "name": "b", "path": ["x"]}]
    text = json.dumps(classes, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    formula = 'json.dumps(classes, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` in UTF-8'
    assert formula in (REPO / "docs" / "DESIGN.md").read_text()
    assert classset_hash(classes) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_layout_names_every_top_level_module_and_package():
    """docs/DESIGN.md's layout shows the whole package root (tests/test_docs.py checks that what it names exists)."""
    import fnmatch

    layout = (REPO / "docs" / "DESIGN.md").read_text().split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = [n.split("/")[0] for n in re.findall(r"^  ([\w./*]+?)/?\s", layout, flags=re.M)]
    top = [p.name for p in (REPO / "zsltool").iterdir()
           if not p.name.startswith(("_", ".")) and (p.suffix == ".py" or (p / "__init__.py").exists())]
    assert len(top) > 10
    unlisted = [t for t in top if not any(fnmatch.fnmatch(t, n) for n in listed)]
    assert not unlisted, f"docs/DESIGN.md's layout does not show {unlisted}"


def test_every_name_and_path_the_page_gives_exists_and_the_layout_names_every_module():
    """Every dotted ``zsltool.x.y`` name of docs/DESIGN.md resolves (a module, or an attribute of one), every
    ``zsltool/…`` or ``tests/…`` file it names exists, and its layout names every module of the package (the
    method families are "one module per method family"; testing/ holds test-data makers): a module moved,
    renamed or added without the page fails here."""
    import importlib

    design = (REPO / "docs" / "DESIGN.md").read_text()
    unresolved = []
    for name in sorted(set(re.findall(r"\bzsltool(?:\.\w+)+", design))):
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
                break
            except ModuleNotFoundError:
                continue
        try:
            for p in parts[i:]:
                obj = getattr(obj, p)
        except AttributeError:
            unresolved.append(name)
    assert not unresolved, f"docs/DESIGN.md names what does not exist: {unresolved}"
    files = set(re.findall(r"\b((?:zsltool|tests)/[\w/]+\.py)\b", design))
    assert len(files) > 20 and not [f for f in files if not (REPO / f).exists()]
    layout = design.split("## Layout", 1)[1].split("\n## ", 1)[0]
    words = set(re.findall(r"[\w]+", layout))
    pkg = REPO / "zsltool"
    unnamed = sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*.py")
                     if p.stem not in words and not p.stem.startswith("__")
                     and p.parent.name not in ("methods", "testing") and "__pycache__" not in p.parts)
    assert not unnamed, f"docs/DESIGN.md's layout does not name {unnamed}"
