"""center_classes (feature scaling): the mean of the training classes' embeddings, a checkpoint buffer applied
on every scoring path; SAE's solver takes the minimum-norm solution where the Sylvester equation is singular."""

import numpy as np
import pytest
import torch

from zsltool.classes.splits import load_split
from zsltool.evaluate.evaluate import evaluate_checkpoint
from zsltool.methods.closed_form import sae_solution
from zsltool.store import read_embeddings, write_embeddings
from zsltool.train.checkpoint import build_model, load_checkpoint
from zsltool.train.config import TrainConfig
from zsltool.train.loop import train

pytestmark = pytest.mark.synthetic(n_classes=12, per_class=10, n_train=6, n_val=3, noise=0.5, video=False)


def _text(syn, path, fn):
    e = read_embeddings(syn.text)
    return write_embeddings(path, meta=e.meta, ids=e.ids, X=fn(e.X.astype(np.float64), e).astype(np.float32),
                            classes=e.classes, valid=e.valid, reasons=e.reasons, overwrite=True)


def _run(syn, tmp_path, name, text, method, **args):
    r = train(TrainConfig(audio=str(syn.audio), split=str(syn.split), text=str(text), out=str(tmp_path / name),
                          method=method, method_args=args, epochs=3, seed=0))
    return r, evaluate_checkpoint(r.checkpoint)


@pytest.mark.parametrize("method", ["sae", "conse", "projection"])
def test_centering_removes_a_common_direction_and_uses_training_classes_only(syn, tmp_path, method):
    t = load_split(syn.split).trial(0)
    rng = np.random.default_rng(3)
    mu = 8.0 * rng.normal(size=read_embeddings(syn.text).dim)
    shifted = _text(syn, tmp_path / "shifted.h5", lambda X, e: X + mu)   # one direction shared by every class
    r1, d1 = _run(syn, tmp_path, "a.pt", syn.text, method, center_classes=True, l2_classes=False)
    r2, d2 = _run(syn, tmp_path, "b.pt", shifted, method, center_classes=True, l2_classes=False)
    # the buffer is the mean of the training classes' embeddings, stored in the checkpoint
    e = read_embeddings(shifted)
    want = e.X[[e.id_index()[c] for c in t.train]].astype(np.float64).mean(0)
    ck = load_checkpoint(r2.checkpoint)
    assert ck["method_args"]["center_classes"] is True
    np.testing.assert_allclose(ck["state_dict"]["class_mean"].numpy(), want, rtol=1e-5)
    # centred on the training classes, a shift shared by every class changes no prediction
    assert d1["metrics"]["top1"] == d2["metrics"]["top1"]
    assert [r["correct"] for r in d1["per_class"]] == [r["correct"] for r in d2["per_class"]]
    # test classes never enter the mean: moving them leaves the buffer as it was
    moved = _text(syn, tmp_path / "moved.h5",
                  lambda X, e: np.where(np.isin(e.ids, t.test)[:, None], X + 5.0, X) + mu)
    r3, _ = _run(syn, tmp_path, "c.pt", moved, method, center_classes=True, l2_classes=False)
    np.testing.assert_allclose(load_checkpoint(r3.checkpoint)["state_dict"]["class_mean"].numpy(), want, rtol=1e-5)


def test_centering_after_l2_and_applied_by_the_rebuilt_model(syn, tmp_path):
    r, _ = _run(syn, tmp_path, "l2.pt", syn.text, "sae", center_classes=True)
    model = build_model(load_checkpoint(r.checkpoint))
    C = torch.tensor(read_embeddings(syn.text).X)
    U = C / C.norm(dim=1, keepdim=True)
    t = load_split(syn.split).trial(0)
    idx = read_embeddings(syn.text).id_index()
    mean = U[[idx[c] for c in t.train]].mean(0)
    np.testing.assert_allclose(model.class_mean.numpy(), mean.numpy(), rtol=1e-5, atol=1e-7)
    want = (U - mean) / (U - mean).norm(dim=1, keepdim=True)
    np.testing.assert_allclose(model.prep_classes(C).numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    # --preset paper switches it off with the rest of the scaling
    assert model.preset_settings("paper")["args"]["center_classes"] is False


def test_sae_solution_is_minimum_norm_where_the_equation_is_singular():
    from scipy.linalg import solve_sylvester

    rng = np.random.default_rng(0)
    d, k, m = 60, 20, 40                      # more feature dimensions than training rows
    X = rng.normal(size=(d, m))
    X[:5] = 0                                 # and dead feature dimensions
    S = rng.normal(size=(k, 3))[:, rng.integers(0, 3, m)]   # 3 training classes: S Sᵀ has rank 3
    lam = 0.5
    W = sae_solution(X, S, lam)
    residual = S @ S.T @ W + W @ (lam * X @ X.T) - (1 + lam) * S @ X.T
    assert np.abs(residual).max() < 1e-10
    # no part of W maps a direction without training features to one without training classes
    Pn = np.linalg.svd(S)[0][:, 3:]           # semantic directions no training class has
    Qn = np.linalg.svd(X)[0][:, m:]           # feature directions no training row has (rank m = 40)
    assert np.abs(Pn.T @ W @ Qn).max() < 1e-10
    # the general solver also satisfies the equation but fills that part with an arbitrary solution
    W2 = solve_sylvester(S @ S.T, lam * X @ X.T, (1 + lam) * S @ X.T)
    assert np.linalg.norm(W) < np.linalg.norm(W2)
