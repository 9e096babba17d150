"""AVGZSLNet's published configurations as data (issue 24, item 3): AVCA-GZSL's architecture switches are method
arguments (defaults unchanged), the ``avca-gzsl`` preset sets them, ``--grid`` can choose it, a plateau schedule
is recorded and replayed by stage 2, and models that cannot be stacked train alone."""

import pytest
import torch
from torch import nn

from zsltool.errors import ZslError
from zsltool.evaluate.experiment import ExperimentSpec, run_experiment
from zsltool.methods.avgzslnet import AVCA_GZSL
from zsltool.methods.base import get_method, load_all_methods
from zsltool.methods.draws import run_mlp2
from zsltool.methods.names import PRESETS
from zsltool.train.checkpoint import load_checkpoint
from zsltool.train.config import TrainConfig
from zsltool.train.job import build_model
from zsltool.train.functional import FunctionalKernel
from zsltool.train.grid import check_grid, settings_for
from zsltool.train.loop import make_job, prepare, train
from zsltool.train.schedule import LrSchedule
from zsltool.train.synthetic import make_two_stage_split

pytestmark = pytest.mark.synthetic(n_classes=12, per_class=10, noise=0.6, gzsl=True)

DIMS = {"audio_dim": 12, "video_dim": 10, "semantic_dim": 8}


def cfg(syn, tmp_path, **kw):
    base = dict(audio=str(syn.audio), video=str(syn.video), split=str(syn.split), text=str(syn.text),
                out=str(tmp_path / "m.pt"), method="avgzslnet", epochs=3, seed=0, overwrite=True)
    return TrainConfig(**{**base, **kw})


def layers(net):
    return [type(m).__name__ for m in net]


def test_the_defaults_build_the_same_network_as_before():
    """Default arguments: F_A, F_V and F_DEC are Linear, ReLU, Dropout, Linear (the state dict keys of every
    existing checkpoint), F_T one Linear, one dropout p for every site, no BatchNorm."""
    m = get_method("avgzslnet")(**DIMS)
    assert layers(m.FA) == layers(m.DEC) == ["Linear", "ReLU", "Dropout", "Linear"]
    assert isinstance(m.FT, nn.Linear) and m.FA[0].out_features == 512 and m.DEC[0].out_features == 512
    assert sorted(k for k in m.state_dict() if k.startswith(("FA", "FT", "DEC"))) == [
        "DEC.0.bias", "DEC.0.weight", "DEC.3.bias", "DEC.3.weight", "FA.0.bias", "FA.0.weight", "FA.3.bias",
        "FA.3.weight", "FT.bias", "FT.weight"]
    assert m.dropout_sites() == [("drop_FA", 512, 0.2), ("drop_FV", 512, 0.2)] + [
        (f"drop_DEC_{k}", 512, 0.2) for k in "avt"]
    assert m.n_draws(4) == 16 + 4 * 5 * 512
    assert get_method("avgzslnet")(**DIMS, dropout=0.4).DEC[2].p == 0.4  # dec_dropout unset: as dropout


def test_the_avca_gzsl_preset_builds_the_peers_network():
    """AVCA-GZSL's run-script configuration: 1024-wide embedding networks with BatchNorm and dropout 0.8, a
    300-wide text network, a 64-wide decoder with BatchNorm and dropout 0.5, unit-norm decoder outputs."""
    cls = get_method("avgzslnet")
    p = cls.preset_settings("avca-gzsl")
    assert p == {"args": AVCA_GZSL["args"], "train": AVCA_GZSL["train"]}
    assert p["train"] == {"epochs": 50, "batch_size": 256, "optimizer": "adam", "lr": 1e-3}
    m = cls(**DIMS, **p["args"])
    assert layers(m.FA) == layers(m.FT) == layers(m.DEC) == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert (m.FA[0].out_features, m.FT[0].out_features, m.DEC[0].out_features) == (1024, 300, 64)
    assert (m.FA[3].p, m.FT[3].p, m.DEC[3].p) == (0.8, 0.8, 0.5)
    assert [(k, w, p) for k, w, p in m.dropout_sites()] == [
        ("drop_FA", 1024, 0.8), ("drop_FV", 1024, 0.8), ("drop_FT", 300, 0.8)] + [
        (f"drop_DEC_{k}", 64, 0.5) for k in "avt"]
    torch.manual_seed(0)
    b = {"labels": torch.tensor([0, 0, 1, 1, 2]), "audio": torch.randn(5, 12), "video": torch.randn(5, 10),
         "semantic": torch.randn(5, 8), "class_emb": torch.randn(3, 8)}
    b.update(m.draws(b["labels"], torch.Generator().manual_seed(1)))
    e = m.expand_draws(b)
    assert e["drop_FT"].shape == (5, 300) and e["drop_DEC_a"].shape == (5, 64)
    assert ((e["drop_DEC_a"] == 0).float().mean() - 0.5).abs() < 0.15  # its own p per site
    y = m._dec(e, "a", torch.randn(5, 64))
    torch.testing.assert_close(y.norm(dim=1), torch.ones(5))
    terms = m.loss(b)
    assert torch.isfinite(terms["total"]) and set(terms) >= {"rec", "cta", "ta"}


def test_batchnorm_takes_a_one_row_batch_and_dropout_one_is_refused():
    m = get_method("avgzslnet")(**DIMS, batch_norm=True)
    m.train()
    x = torch.randn(1, 12)
    assert run_mlp2(m.FA, x).shape == (1, 64)  # running statistics for a single row (no batch statistics)
    assert torch.equal(m.FA[1].num_batches_tracked, torch.tensor(0))
    with pytest.raises(ZslError, match="dec_dropout must be at least 0 and below 1"):
        get_method("avgzslnet")(**DIMS, dec_dropout=1.0)
    with pytest.raises(ZslError, match="no preset 'avca-gzsl'.*avgzslnet"):
        get_method("projection").preset_settings("avca-gzsl")


def test_the_preset_table_names_every_methods_presets():
    named = {"paper"} | {p for c in load_all_methods().values() for p in c.presets}
    assert set(PRESETS) == named
    assert all(PRESETS[p] in ("every method", *[n for n, c in load_all_methods().items() if p in c.presets])
               for p in PRESETS)


def test_the_preset_reaches_the_checkpoint_and_explicit_settings_win(syn, tmp_path):
    r = train(cfg(syn, tmp_path, preset="avca-gzsl", method_args={"hidden": 32, "dec_hidden": 16},
                  epochs=2, batch_size=32))
    ck = load_checkpoint(r.checkpoint)
    args = ck["method_args"]
    assert args["hidden"] == 32 and args["dec_hidden"] == 16  # --arg wins over the preset
    assert args["text_hidden"] == 300 and args["batch_norm"] and args["normalize_decoder"] and args["lr_plateau"] == 3
    res = ck["config"]["resolved"]
    assert (res["epochs"], res["batch_size"], res["optimizer"], res["lr"]) == (2, 32, "adam", 1e-3)
    assert all(h["lr"] == 1e-3 for h in r.history)  # a schedule records each epoch's rate
    r = train(cfg(syn, tmp_path, preset="avca-gzsl", method_args={"hidden": 32}, epochs=1))
    assert load_checkpoint(r.checkpoint)["config"]["resolved"]["batch_size"] == 256  # the preset's


def test_a_plateau_divides_the_rate_by_ten_after_patience_epochs_without_improvement():
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=1e-2)
    model = type("M", (), {"args": {"lr_plateau": 2}})()
    s = LrSchedule(opt, model, {"lr": 1e-2}, "val_hm")
    rates = []
    for v in (0.5, 0.6, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7):
        rec = {"val_hm": v}
        s.end(rec)
        rates.append(rec["lr"])
    assert rates == pytest.approx([1e-2] * 5 + [1e-3] * 3)
    replay = LrSchedule(opt, model, {"lr": 1, "lr_schedule": [0.3, 0.2, 0.1]}, "none")
    assert replay.plateau is None
    got = []
    for e in (1, 2, 3, 4):
        replay.start(e)
        got.append(opt.param_groups[0]["lr"])
    assert got == [0.3, 0.2, 0.1, 0.1]
    plain = LrSchedule(opt, type("M", (), {"args": {}})(), {"lr": 1}, "val_hm")
    rec = {}
    plain.end(rec)
    assert not plain.active and rec == {}


def test_models_that_cannot_be_stacked_train_alone(syn, tmp_path, monkeypatch):
    """The functional kernel groups default AVGZSLNet models; BatchNorm (running statistics) or a learning-rate
    schedule (one optimiser for the stack) make a model decline."""
    monkeypatch.setattr(FunctionalKernel, "ON_CPU", True)
    keys = {}
    for name, a in {"default": {}, "bn": {"batch_norm": True}, "dec_bn": {"dec_batch_norm": True},
                    "plateau": {"lr_plateau": 2}, "norm": {"normalize_decoder": True, "dec_dropout": 0.5}}.items():
        c = cfg(syn, tmp_path, method_args={"hidden": 16, "dec_hidden": 8, **a})
        j = make_job(prepare(c), c)
        keys[name] = FunctionalKernel.group_key(j, build_model(j), "cpu")
    assert keys["default"] is not None and keys["norm"] is not None and keys["norm"] != keys["default"]
    assert keys["bn"] is None and keys["dec_bn"] is None and keys["plateau"] is None
    c = cfg(syn, tmp_path, method_args={"hidden": 16, "dec_hidden": 8}, lr_schedule=[1e-3, 1e-4, 1e-4])
    j = make_job(prepare(c), c)
    assert FunctionalKernel.group_key(j, build_model(j), "cpu") is None


def test_grid_chooses_between_the_defaults_and_the_preset(syn, tmp_path):
    cls = get_method("avgzslnet")
    grid = {"avgzslnet:preset": ["default", "avca-gzsl"], "lr": [1e-3, 1e-2]}
    check_grid(grid, ["avgzslnet", "projection"])
    assert [s.get("preset") for s in settings_for(grid, cls)] == ["default"] * 2 + ["avca-gzsl"] * 2
    assert settings_for(grid, get_method("projection")) == [{"train": {"lr": v}, "args": {}} for v in (1e-3, 1e-2)]
    with pytest.raises(ZslError, match="no preset 'avca-gzsl'"):
        check_grid({"preset": ["avca-gzsl"]}, ["avgzslnet", "projection"])
    with pytest.raises(ZslError, match="no preset 'nope'"):
        check_grid({"avgzslnet:preset": ["nope"]}, ["avgzslnet"])
    r = train(cfg(syn, tmp_path, grid={"avgzslnet:preset": ["default", "avca-gzsl"]}, epochs=2,
                  method_args={"hidden": 16, "dec_hidden": 8}))
    labels = [c["label"] for c in r.selection["candidates"]]
    assert labels == ["preset=default", "preset=avca-gzsl"]
    assert r.selection["chosen"]["preset"] in ("default", "avca-gzsl")
    ck = load_checkpoint(r.checkpoint)
    assert ck["method_args"].get("batch_norm", False) == (r.selection["chosen"]["preset"] == "avca-gzsl")


def test_stage_two_replays_stage_ones_rates_and_preset(syn, tmp_path):
    split = make_two_stage_split(syn, tmp_path / "two.json", n_seen=6, n_val_unseen=3)
    spec = ExperimentSpec(audio=str(syn.audio), video=str(syn.video), splits=[str(split)], out_dir=str(tmp_path / "o"),
                          text=str(syn.text), methods=["avgzslnet"], epochs=5, two_stage=True, threads=1,
                          grid={"avgzslnet:preset": ["avca-gzsl"]}, modalities=["both"], retrieval=False,
                          method_args={"avgzslnet": {"hidden": 16, "dec_hidden": 8, "lr_plateau": 1}})
    (r,) = run_experiment(spec)["trials"]
    c1 = load_checkpoint(r["stage1"]["checkpoint"])
    c2 = load_checkpoint(r["train"]["checkpoint"])
    e = r["stage1"]["epoch"]
    rates = [h["lr"] for h in c1["history"][:e]]
    assert c2["config"]["lr_schedule"] == rates == c2["config"]["resolved"]["lr_schedule"]
    assert [h["lr"] for h in c2["history"]] == rates and len(c2["history"]) == e
    assert c2["config"]["preset"] == "avca-gzsl" and c2["method_args"]["batch_norm"]
