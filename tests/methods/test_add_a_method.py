"""docs/DESIGN.md, "to add a method": a new method is one module under zsltool/methods/ plus its registration in
zsltool/methods/names.py, and nothing else. A toy method added that way (its module written to a temporary
folder on the package's path, the two name lists extended) trains, evaluates, classifies and runs in
`experiment` through the CLI, batched by the engine with its own loss."""

from __future__ import annotations

import json
import sys

import pytest

TOY = '''
"""A toy method: F(x, y) = scale * xᵀ W φ(y), trained with a softmax cross-entropy."""

import torch
import torch.nn.functional as F
from torch import nn

from zsltool.methods.base import ZslMethod, check_modality, register_method


@register_method("toy")
class Toy(ZslMethod):
    defaults = {"scale": 1.0}
    batched_kernel = "functional"  # many models trained as one vmap of this loss
    stack_on_cpu = True
    class_linear = ("W",)  # the classes enter the loss only through W: exact class-space SGD

    def __init__(self, **kw):
        super().__init__(**kw)
        self.W = nn.Parameter(torch.empty(self.audio_dim, self.semantic_dim))
        nn.init.xavier_uniform_(self.W)

    def scores(self, class_emb, audio=None, video=None, modality="both", audio_valid=None, video_valid=None):
        check_modality(self, modality, audio, None)
        return float(self.args["scale"]) * audio @ (class_emb @ self.W.T).T

    def loss(self, batch):
        ce = F.cross_entropy(self.scores(batch["class_emb"], batch["audio"]), batch["labels"])
        return {"total": ce, "ce": ce.detach()}
'''


@pytest.fixture(scope="module")
def esc(esc50_inputs):
    return esc50_inputs[0]


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy module on zsltool.methods' path and its name in names.py's two lists (undone afterwards)."""
    import zsltool.methods as methods
    from zsltool.methods import base, names

    monkeypatch.setattr(base, "METHODS", dict(base.load_all_methods()))  # the registry as it was, afterwards
    (tmp_path / "toy.py").write_text(TOY)
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(tmp_path)])
    monkeypatch.setattr(names, "METHOD_NAMES", (*names.METHOD_NAMES, "toy"))
    monkeypatch.setattr(names, "METHOD_MODULES", (*names.METHOD_MODULES, "toy"))
    monkeypatch.setenv("ZSL_CACHE", str(tmp_path / "cache"))
    yield
    sys.modules.pop("zsltool.methods.toy", None)


def test_a_toy_method_trains_evaluates_classifies_and_runs_in_experiment(esc, toy, cli, tmp_path):
    import torch

    from zsltool.methods import METHOD_NAMES, METHODS

    d = esc
    assert "toy" in METHOD_NAMES and sorted(METHODS) == sorted(METHOD_NAMES)
    inputs = ["--audio", d / "audio.h5", "--text", d / "text.h5", "--split", d / "split.json"]
    r = cli("train", *inputs, "--method", "toy", "--epochs", 3, "--arg", "scale=2", "-o", tmp_path / "toy.pt",
            "--json")
    assert r.exit_code == 0, r.stderr
    s = r.json()
    assert s["method"] == "toy" and s["epochs_run"] == 3 and s["n_train_instances"] > 0
    ck = torch.load(tmp_path / "toy.pt", weights_only=True)
    assert ck["method"] == "toy" and ck["method_args"]["scale"] == 2.0
    assert ck["state_dict"]["W"].shape == (ck["method_args"]["audio_dim"], ck["method_args"]["semantic_dim"])

    r = cli("evaluate", tmp_path / "toy.pt", "--out", tmp_path / "ev.json", "--json")
    assert r.exit_code == 0, r.stderr
    assert 0.0 <= r.json()["metrics"]["top1"] <= 1.0 and (tmp_path / "ev.per_class.csv").exists()

    r = cli("classify", tmp_path / "toy.pt", d / "new.wav", "--labels", "siren,thunderstorm", "--json")
    assert r.exit_code == 0, r.stderr
    top = r.json()["clips"][0]["top"]
    assert sorted(t["label"] for t in top) == ["siren", "thunderstorm"]

    r = cli("-v", "experiment", *inputs, "--method", "toy", "--epochs", 2,
            "--threads", 1, "--out", tmp_path / "x")
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "x" / "results.json").read_text())
    toy_trials = [t for t in doc["trials"] if t["method"] == "toy"]
    assert len(toy_trials) == 5 and all(0.0 <= t["metrics"]["both"]["top1"] <= 1.0 for t in toy_trials)
    assert "of them batched" in r.stderr  # the 5 toy trials train as one stacked computation
