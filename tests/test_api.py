"""The Python API: `import zsltool` exposes the main steps lazily (no torch on import), each with a docstring;
train returns the model and its history; Embeddings has a short repr, `.embeddings` and to_pandas()."""

import subprocess
import sys

import numpy as np
import pytest

import zsltool

pytestmark = pytest.mark.synthetic(n_classes=6, per_class=6, n_train=2, n_val=2, video=False)

API = ("extract_audio", "extract_text", "split", "train_model", "evaluate_checkpoint", "experiment",
       "classify_clips", "classify_joint", "read_embeddings")


def test_import_is_light_and_every_step_is_documented():
    code = ("import sys, zsltool; names = " + repr(API) + "; "
            "[getattr(zsltool, n) for n in names]; "
            "print(sorted(m for m in ('torch', 'torchaudio', 'gensim', 'sklearn', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    for name in API:
        obj = getattr(zsltool, name)
        assert callable(obj) and obj.__name__ == name, name
        assert len((obj.__doc__ or "").strip()) > 40, f"zsltool.{name} has no docstring"
        assert name in dir(zsltool) and name in zsltool.__all__


@pytest.mark.parametrize("old", ["train", "evaluate", "classify"])
def test_the_old_names_are_the_subpackages_and_calling_one_fails(old):
    # zsltool.train/evaluate/classify were callable packages (their __class__ rewritten); now plain packages,
    # the same in a fresh interpreter as after an import of one of their modules
    code = f"import zsltool; zsltool.{old}(\"x.pt\")"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 1 and "TypeError: 'module' object is not callable" in res.stderr
    assert getattr(zsltool, old).__name__ == f"zsltool.{old}" and old not in zsltool.__all__
    with pytest.raises(TypeError, match="not callable"):
        getattr(zsltool, old)("x.pt")


def test_docs_call_only_the_api_functions():
    """README.md, docs/ and the package's docstrings call zsltool.train_model / evaluate_checkpoint / classify_clips,
    never a subpackage (zsltool.train(...) raises TypeError)."""
    import re
    from pathlib import Path

    root = Path(zsltool.__file__).resolve().parents[1]
    files = [root / "README.md", *sorted((root / "docs").glob("*.md")), *sorted((root / "zsltool").rglob("*.py")),
             *sorted((root / "benchmarks").glob("*.py"))]
    calls = [f"{f.relative_to(root)}: {m.group(0)}" for f in files
             for m in re.finditer(r"zsltool\.(train|evaluate|classify)\(", f.read_text(encoding="utf-8"))]
    assert calls == []
    assert "zsltool.train_model(" in (root / "README.md").read_text(encoding="utf-8")


def test_train_returns_model_and_history_and_evaluate_matches_the_cli(syn, tmp_path, cli):
    import torch

    run = zsltool.train_model(audio=syn.audio, split=syn.split, text=syn.text, out=tmp_path / "m.pt", epochs=3, seed=1)
    assert isinstance(run.model, torch.nn.Module) and not run.model.training
    assert [h["epoch"] for h in run.history] == [1, 2, 3] and "loss_total" in run.history[0]
    assert run.checkpoint == tmp_path / "m.pt" and run.checkpoint.exists()
    assert repr(run).startswith("Trained(projection, 3 epochs")
    # docs/methods.md and the README: .summary() is a method returning a dict, on Trained as on TrainResult
    # (was: a dict attribute, so `run.summary()` raised TypeError)
    assert run.summary() == run.result.summary() and run.summary()["epochs_run"] == 3
    assert run.summary()["out"] == str(tmp_path / "m.pt")
    doc = zsltool.evaluate_checkpoint(run.checkpoint)
    res = cli("evaluate", run.checkpoint, "--json")
    assert doc["metrics"]["top1"] == res.json()["metrics"]["top1"]


def test_split_and_experiment(syn, tmp_path):
    doc = zsltool.experiment(audio=syn.audio, splits=syn.split, text=syn.text, out=tmp_path / "exp", epochs=1,
                             threads=1)
    assert doc["tables"][0]["rows"][0]["class_embeddings"] == "Text"
    assert (tmp_path / "exp" / "table.tex").exists()


def test_embeddings_repr_matrix_name_and_pandas(syn):
    import pandas as pd  # the test extra

    e = zsltool.read_embeddings(syn.audio)
    r = repr(e)
    assert r.startswith("Embeddings(instance audio, extractor=") and f"{len(e)} rows × {e.dim}" in r
    assert len(r) < 300 and "array" not in r
    assert e.embeddings is e.X
    df = e.to_pandas()
    assert list(df.columns[:3]) == ["labels", "valid", "invalid_reason"] and df.shape == (len(e), 3 + e.dim)
    assert df.index.name == "id" and all(type(i) is str for i in df.index)
    assert all(type(x) is str for x in df["labels"]) and all(type(x) is str for x in df["invalid_reason"])
    np.testing.assert_array_equal(df[[f"e{j}" for j in range(e.dim)]].to_numpy(), e.X)
    lab = e.label_index()
    assert df["labels"].iloc[0] == e.classes[lab[0]]
    one = e.to_pandas(vectors="column")
    np.testing.assert_array_equal(one["embedding"].iloc[2], e.X[2])


def test_to_pandas_without_pandas_says_how_to_get_it(syn, monkeypatch):
    import builtins

    from zsltool.errors import ZslError

    real = builtins.__import__

    def no_pandas(name, *a, **k):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("no pandas")
        return real(name, *a, **k)

    e = zsltool.read_embeddings(syn.audio)
    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ZslError, match="needs pandas") as ei:
        e.to_pandas()
    assert "zsltool[pandas]" in ei.value.hint
