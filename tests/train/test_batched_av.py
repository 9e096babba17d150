"""The ``functional`` kernel (zsltool.train.functional): audio-visual models trained as one vmap-ed computation
equal the same models trained alone, and equal the lean single-model loop; each model's draws are its own."""

import numpy as np
import pytest
import torch

from zsltool.errors import ZslError
from zsltool.train.config import TrainConfig
from zsltool.train.data import compute_scores, select_instances
from zsltool.train.engine import train_jobs
from zsltool.train.job import build_model, draw_seed
from zsltool.train.functional import FunctionalKernel
from zsltool.train.loop import make_job, prepare

pytestmark = pytest.mark.synthetic(
    n_classes=14, per_class=10, n_train=7, n_val=3, noise=0.2, invalid_audio=3, invalid_video=3, gzsl=True)

# docs/methods.md ("Training many models at once"): batched vs alone agree to float re-association
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture
def on_cpu(monkeypatch):
    """Batch on the CPU (the kernel's default is to batch on CUDA devices only)."""
    monkeypatch.setattr(FunctionalKernel, "ON_CPU", True)


def job(syn, method="avgzslnet", seed=0, epochs=3, args=None, **kw):
    a = {"hidden": 24, "embed_dim": 8, **({"dec_hidden": 16} if method == "avgzslnet" else {}), **(args or {})}
    c = TrainConfig(audio=str(syn.audio), video=str(syn.video), split=str(syn.split), text=str(syn.text),
                    out="unused.pt", method=method, epochs=epochs, seed=seed, batch_size=16, method_args=a, **kw)
    p = prepare(c)
    return make_job(p, c, name=f"{method}.{seed}"), p


def _same(a, b, name):
    assert a.best_epoch == b.best_epoch and len(a.history) == len(b.history), name
    for k in a.state:
        torch.testing.assert_close(a.state[k], b.state[k], rtol=RTOL, atol=ATOL, msg=f"{name}: {k}")


@pytest.mark.usefixtures("on_cpu")
def test_a_batch_of_audio_visual_models_equals_each_model_alone(syn):
    """12 models: AVGZSLNet (with and without attention), CJME-soft, CJME without its gate and the three
    baselines, several seeds, different epochs and patience. Each is the model trained alone: same best epoch
    and history, parameters within re-association tolerance, same test predictions."""
    specs = [dict(method="avgzslnet", seed=s, epochs=e, patience=p) for s, e, p in ((0, 3, None), (1, 4, 1),
                                                                                    (2, 2, None))]
    specs += [dict(method="avgzslnet", seed=s, args={"attention": True}) for s in (0, 1)]
    specs += [dict(method="cjme-soft", seed=s) for s in (0, 1)]
    specs += [dict(method="cjme", seed=0, args={"attention": False})]
    specs += [dict(method=m, seed=s) for m in ("audio-only", "concat") for s in (0, 1)] + [dict(method="video-only")]
    made = [job(syn, **s) for s in specs]
    jobs = [j for j, _ in made]
    groups = {FunctionalKernel.group_key(j, build_model(j), "cpu") for j in jobs}
    assert len(groups) == 7  # one per method and arguments; seeds, epochs and patience share a batch
    together = train_jobs(jobs)
    for (j, p), a in zip(made, together):
        (b,) = train_jobs([j])
        _same(a, b, j.name)
        test = list(p.trial.test)
        inst = select_instances(p.inputs, test)
        C = p.inputs.semantic.matrix(test)
        assert np.array_equal(compute_scores(a.model, C, inst).argmax(1), compute_scores(b.model, C, inst).argmax(1))
    assert len(together[0].history) == 3 and len(together[2].history) == 2  # own epochs in a 4-epoch batch
    # another seed is another model (its own initial parameters and draws)
    assert not torch.equal(together[0].state["FA.0.weight"], together[1].state["FA.0.weight"])


@pytest.mark.usefixtures("on_cpu")
@pytest.mark.parametrize("method,args", [("avgzslnet", {}), ("cjme-soft", {}), ("concat", {}),
                                         ("avgzslnet", {"dropout": 0.0})])
def test_kernel_is_the_single_model_loop(syn, method, args):
    """The kernel (a group of one) trains the model the lean single-model loop trains (``batched=False``):
    same draws, same Adam update; same losses per epoch and the same parameters."""
    j, _ = job(syn, method, args=args)
    (a,) = train_jobs([j])
    (b,) = train_jobs([j], batched=False)
    np.testing.assert_allclose([h["loss_total"] for h in a.history], [h["loss_total"] for h in b.history],
                               rtol=1e-5)
    assert [h.get("val_seen_mca") for h in a.history] == [h.get("val_seen_mca") for h in b.history]
    _same(a, b, method)
    assert sorted(a.optimizer["state"][0]) == sorted(b.optimizer["state"][0])
    torch.testing.assert_close(a.optimizer["state"][0]["exp_avg"], b.optimizer["state"][0]["exp_avg"],
                               rtol=RTOL, atol=ATOL)


def test_who_batches_where(syn, monkeypatch):
    """Off the GPU each model trains alone (measured faster there); the BatchNorm gate of CJME, a different
    learning rate or different training rows make another group."""
    j, _ = job(syn)
    m = build_model(j)
    assert FunctionalKernel.group_key(j, m, "cpu") is None
    key = FunctionalKernel.group_key(j, m, "cuda")
    assert key is not None and FunctionalKernel.group_key(job(syn, seed=5, epochs=9, patience=2)[0], m, "cuda") == key
    assert FunctionalKernel.group_key(job(syn, lr=0.01)[0], m, "cuda") != key
    cj, _ = job(syn, "cjme")
    assert FunctionalKernel.group_key(cj, build_model(cj), "cuda") is None  # attention=true: a BatchNorm gate
    monkeypatch.setattr(FunctionalKernel, "MAX_GROUP", 2)
    assert FunctionalKernel.plan([j] * 5, [m] * 5, [3, 4, 5, 6, 7], "cuda") == [[3, 4], [5, 6], [7]]


def test_draws_are_the_models_own_and_dropout_is_torchs(syn):
    """draws() is one call of the model's generator; its negatives are rows of another class and its dropout
    masks are nn.Dropout's (0 with probability p, else 1/(1-p)); the network with an all-ones mask is the network
    without dropout; without draws in the batch the loss draws from torch's generator as before."""
    from zsltool.methods.draws import run_mlp2

    j, _ = job(syn, args={"dropout": 0.25, "hidden": 400, "dec_hidden": 300})
    m = build_model(j)
    labels = torch.tensor([0, 0, 1, 2, 2, 3] * 50)
    g1, g2 = (torch.Generator().manual_seed(draw_seed(7)) for _ in range(2))
    d1, d2 = m.draws(labels, g1), m.draws(labels, g2)
    assert list(d1) == ["u"] and d1["u"].shape == (300 * 300 + 300 * (2 * 400 + 3 * 300),)
    assert torch.equal(d1["u"], d2["u"])
    e = m.expand_draws({"labels": labels, **d1})
    assert sorted(e) == ["drop_DEC_a", "drop_DEC_t", "drop_DEC_v", "drop_FA", "drop_FV", "labels", "neg"]
    assert (labels[e["neg"]] != labels).all()
    fa, dv = e["drop_FA"], e["drop_DEC_v"]
    assert fa.shape == (300, 400) and dv.shape == (300, 300)
    assert fa.unique().tolist() == [0.0, pytest.approx(1 / 0.75)]
    assert (fa == 0).float().mean().item() == pytest.approx(0.25, abs=0.01)
    assert not torch.equal(e["drop_DEC_a"], e["drop_DEC_t"])  # every site its own uniforms
    x = torch.randn(5, m.audio_dim)
    m.eval()
    torch.testing.assert_close(run_mlp2(m.FA, x, torch.ones(5, 400)), m.FA(x), rtol=0, atol=0)
    assert draw_seed(7) != draw_seed(8) and draw_seed(7) != 7
    no_dropout = build_model(job(syn, args={"dropout": 0.0})[0])
    assert no_dropout.n_draws(10) == 100 and sorted(no_dropout.expand_draws(
        {"labels": labels[:10], **no_dropout.draws(labels[:10], g1)})) == ["labels", "neg"]


@pytest.mark.usefixtures("on_cpu")
def test_a_diverging_model_fails_alone(syn):
    """A model whose loss is not finite stops the run, or with tolerate_divergence fails without its group."""
    bad, _ = job(syn, lr=1e30, optimizer="sgd")
    with pytest.raises(ZslError, match="diverged"):
        train_jobs([bad])
    (r,) = train_jobs([bad], tolerate_divergence=True)
    assert r.error and "diverged" in r.error and r.model is None


def test_experiment_batches_audio_visual_units_and_gets_the_same_results(syn, tmp_path, monkeypatch):
    """experiment puts audio-visual units of one shape in one batch where the kernel runs (here: the CPU with
    ON_CPU), and the results are those of the units trained one at a time; off that device they are
    separate shards."""
    import shutil

    from zsltool.evaluate.experiment import ExperimentSpec, _shards, plan, run_experiment

    shutil.copy(syn.text, tmp_path / "text2.h5")
    sizes, real_init = [], FunctionalKernel.__init__
    monkeypatch.setattr(FunctionalKernel, "__init__",
                        lambda k, jobs, *a: sizes.append(len(jobs)) or real_init(k, jobs, *a))
    docs = {}
    for on in (False, True):
        monkeypatch.setattr(FunctionalKernel, "ON_CPU", on)
        spec = ExperimentSpec(audio=str(syn.audio), video=str(syn.video), splits=[str(syn.split)],
                              out_dir=str(tmp_path / f"x{on}"),
                              texts={"a": str(syn.text), "b": str(tmp_path / "text2.h5")},
                              methods=["avgzslnet"], method_args={"avgzslnet": {"hidden": 24, "dec_hidden": 16}},
                              epochs=2, modalities=["audio", "both"], refit=False)
        docs[on] = run_experiment(spec)
        units = plan(spec)  # the two text backends' units (typed, zsltool.evaluate.unit)
        assert len(units) == 2 and len(_shards(units, 1)) == (1 if on else 2)
    assert docs[True]["ran"] == docs[False]["ran"] == 2 and sizes == [2]  # the two text backends: one batch
    assert docs[True]["metrics"] == docs[False]["metrics"]


@pytest.mark.parametrize("p", [1.0, 1.5])
def test_a_dropout_that_keeps_nothing_is_refused(syn, p):
    """dropout = 1 would make every keep mask 0 / 0 (a silent NaN loss): refused with a hint, as 1.5 is."""
    with pytest.raises(ZslError, match="dropout must be at least 0 and below 1"):
        build_model(job(syn, args={"dropout": p})[0])
