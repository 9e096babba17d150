"""Forward passes, shapes, missing modalities, closed-form solutions and the registry."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from zsltool.errors import ZslError
from zsltool.methods import METHOD_NAMES, METHODS
from zsltool.methods.closed_form import eszsl_solution, sae_solution
from zsltool.methods.gcca import gcca_fit

SMALL = {"hidden": 4, "dec_hidden": 4, "embed_dim": 3, "n_train_classes": 3}


def make(name, video=True, **kw):
    cls = METHODS[name]
    args = {k: v for k, v in SMALL.items() if k in cls.defaults}
    args.update(kw)
    torch.manual_seed(0)
    sdim = 5 if cls.training_free else 4  # a training-free method scores audio and classes of one space
    return cls(audio_dim=5, semantic_dim=sdim, video_dim=6 if video else None, **args).eval()


def test_registry_matches_static_names():
    assert sorted(METHODS) == sorted(METHOD_NAMES)


def test_methods_package_import_does_not_import_torch():
    code = "import sys, zsltool.methods as m; print(m.METHOD_NAMES[0], 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["projection", "False"]


def test_unknown_method_argument_is_user_error():
    with pytest.raises(ZslError, match="no argument"):
        METHODS["projection"](audio_dim=3, semantic_dim=2, hidden=3)
    with pytest.raises(ZslError, match="activation"):
        METHODS["projection"](audio_dim=3, semantic_dim=2, activation="relu")


@pytest.mark.parametrize("name", sorted(METHOD_NAMES))
def test_scores_shape_for_every_method(name):
    m = make(name)
    if m.closed_form:
        g = torch.Generator().manual_seed(1)
        a, v = torch.randn(12, 5, generator=g), torch.randn(12, 6, generator=g)
        ce = torch.randn(3, m.semantic_dim, generator=g)
        lab = torch.arange(12) % 3
        m.fit_closed_form(a, ce[lab], lab, ce, video=v)
    if m.needs_train_classes:
        m.set_train_classes(torch.randn(3, 4))
    s = m.scores(torch.randn(7, m.semantic_dim), audio=torch.randn(2, 5), video=torch.randn(2, 6))
    assert s.shape == (2, 7)
    assert torch.isfinite(s).all()


@pytest.mark.parametrize("name", ["video-only", "concat", "avgzslnet", "cjme", "cjme-soft"])
def test_video_methods_need_video(name):
    with pytest.raises(ZslError, match="video"):
        make(name, video=False)


def test_projection_forward_by_hand():
    m = METHODS["projection"](audio_dim=3, semantic_dim=2)
    assert m.U.weight.shape == (2, 2) and m.V.weight.shape == (3, 2)  # r = d_s
    U, bu, V, bv = (p.detach().numpy() for p in (m.U.weight, m.U.bias, m.V.weight, m.V.bias))
    x, s = np.array([[1.0, -2.0, 0.5]]), np.array([[0.3, -0.7], [1.0, 2.0]])
    H = np.tanh(s @ U.T + bu) @ V.T + bv
    got = m.scores(torch.tensor(s, dtype=torch.float32), torch.tensor(x, dtype=torch.float32)).detach().numpy()
    assert np.allclose(got, x @ H.T, atol=1e-5)
    lin = METHODS["projection"](audio_dim=3, semantic_dim=2, activation="none", rank=1)
    H = (s @ lin.U.weight.detach().numpy().T + lin.U.bias.detach().numpy()) @ lin.V.weight.detach().numpy().T \
        + lin.V.bias.detach().numpy()
    got = lin.scores(torch.tensor(s, dtype=torch.float32), torch.tensor(x, dtype=torch.float32)).detach().numpy()
    assert np.allclose(got, x @ H.T, atol=1e-5)


def test_bilinear_forward_by_hand():
    m = METHODS["bilinear"](audio_dim=3, semantic_dim=2)
    W = m.W.detach().numpy()
    x, s = np.random.default_rng(0).normal(size=(2, 3)), np.random.default_rng(1).normal(size=(4, 2))
    got = m.scores(torch.tensor(s, dtype=torch.float32), torch.tensor(x, dtype=torch.float32)).detach().numpy()
    assert np.allclose(got, x @ W @ s.T, atol=1e-5)


@pytest.mark.parametrize("name", ["avgzslnet", "cjme", "cjme-soft", "gcca"])
def test_missing_modality_falls_back_to_the_other(name):
    m = make(name, attention=False) if name != "gcca" else make(name)
    if name == "gcca":
        g = torch.Generator().manual_seed(1)
        a, v, ce = torch.randn(12, 5, generator=g), torch.randn(12, 6, generator=g), torch.randn(3, 4, generator=g)
        lab = torch.arange(12) % 3
        m.fit_closed_form(a, ce[lab], lab, ce, video=v)
    ce, a, v = torch.randn(5, 4), torch.randn(3, 5), torch.randn(3, 6)
    av, vv = torch.tensor([True, False, True]), torch.tensor([True, True, False])
    with torch.no_grad():
        both = m.scores(ce, a, v, audio_valid=av, video_valid=vv)
        sa = m.scores(ce, a, v, modality="audio")
        sv = m.scores(ce, a, v, modality="video")
    assert torch.allclose(both[0], (sa[0] + sv[0]) / 2, atol=1e-6)  # eq wt
    assert torch.allclose(both[1], sv[1])  # audio invalid -> video only
    assert torch.allclose(both[2], sa[2])  # video invalid -> audio only


def test_cjme_attention_selects_one_modality_per_clip_at_test_time():
    m = make("cjme").eval()
    ce, a, v = torch.randn(5, 4), torch.randn(6, 5), torch.randn(6, 6)
    with torch.no_grad():
        m.gate[1].weight.zero_()
        m.gate[1].bias.copy_(torch.tensor([0.3]))          # w = sigmoid(0.3) > 0.5 for every clip: video
        s, sv = m.scores(ce, a, v), m.scores(ce, a, v, modality="video")
        assert torch.allclose(s, sv)
        m.gate[1].bias.copy_(torch.tensor([-0.3]))         # w < 0.5: audio
        s, sa = m.scores(ce, a, v), m.scores(ce, a, v, modality="audio")
        assert torch.allclose(s, sa)
        m.gate[1].weight[0, 0] = 10.0                      # w from the inputs: the first audio feature decides
        w = m.video_weight(a, v)
        s, sa, sv = m.scores(ce, a, v), m.scores(ce, a, v, modality="audio"), m.scores(ce, a, v, modality="video")
        pick = (w >= 0.5)[:, None]
        assert 0 < int(pick.sum()) < 6 and torch.allclose(s, torch.where(pick, sv, sa))
        vv = torch.tensor([False] * 6)                     # no video: audio, whatever the attention says
        assert torch.allclose(m.scores(ce, a, v, video_valid=vv), sa)


def test_attention_weights_are_used_and_sum_to_one():
    m = make("cjme-soft")
    ce, a, v = torch.randn(5, 4), torch.randn(3, 5), torch.randn(3, 6)
    with torch.no_grad():
        w = m.attn(m.FA(a), m.FV(v))
        s = m.scores(ce, a, v)
        sa, sv = m.scores(ce, a, v, modality="audio"), m.scores(ce, a, v, modality="video")
    assert torch.allclose(w.sum(1), torch.ones(3))
    assert torch.allclose(s, w[:, :1] * sa + w[:, 1:] * sv, atol=1e-6)


def test_audio_only_method_rejects_video_modality():
    with pytest.raises(ZslError, match="modality"):
        make("projection").scores(torch.randn(2, 4), torch.randn(1, 5), modality="video")


def test_eszsl_matches_direct_numpy():
    rng = np.random.default_rng(0)
    X, S = rng.normal(size=(5, 20)), rng.normal(size=(4, 3))
    lab = np.arange(20) % 3
    Y = -np.ones((20, 3))
    Y[np.arange(20), lab] = 1
    g, l = 0.5, 2.0
    direct = np.linalg.inv(X @ X.T + g * np.eye(5)) @ X @ Y @ S.T @ np.linalg.inv(S @ S.T + l * np.eye(4))
    assert np.allclose(eszsl_solution(X, Y, S, g, l), direct, atol=1e-8)
    m = METHODS["eszsl"](audio_dim=5, semantic_dim=4, gamma=g, lam=l)
    Xt = torch.tensor(X.T, dtype=torch.float32)
    ce = torch.tensor(S.T, dtype=torch.float32)
    m.fit_closed_form(Xt, ce[lab], torch.tensor(lab), ce)
    assert np.allclose(m.V.numpy(), direct, atol=1e-4)
    assert np.allclose(m.scores(ce, Xt).numpy(), X.T @ direct @ S, atol=1e-3)


def test_sae_matches_direct_numpy():
    rng = np.random.default_rng(0)
    X, S = rng.normal(size=(5, 30)), rng.normal(size=(4, 30))
    lam = 0.7
    A, B, C = S @ S.T, lam * X @ X.T, (1 + lam) * S @ X.T
    # vec(AW + WB) = (I ⊗ A + Bᵀ ⊗ I) vec(W), column-major vec
    K = np.kron(np.eye(5), A) + np.kron(B.T, np.eye(4))
    direct = np.linalg.solve(K, C.reshape(-1, order="F")).reshape(4, 5, order="F")
    assert np.allclose(sae_solution(X, S, lam), direct, atol=1e-8)


def test_gcca_matches_maxvar_eigenproblem():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(50, 2))
    views = [Z @ rng.normal(size=(2, d)) + 0.1 * rng.normal(size=(50, d)) for d in (4, 3, 5)]
    k = 2
    fits = gcca_fit(views, k, eps=1e-9)
    # MAX-VAR: G = top-k eigenvectors of sum_j P_j, P_j the projection onto view j's centred column space
    P = sum(Xc @ np.linalg.pinv(Xc) for Xc in (X - X.mean(0) for X in views))
    G = np.linalg.eigh(P)[1][:, -k:]
    for X, (mu, W) in zip(views, fits):
        proj = (X - mu) @ W  # each view's projection = its least-squares fit of G
        Xc = X - X.mean(0)
        fit_of_G = Xc @ np.linalg.pinv(Xc) @ G
        # same subspace up to rotation: compare projection matrices onto the k columns
        Q1, Q2 = np.linalg.qr(proj)[0], np.linalg.qr(fit_of_G)[0]
        assert np.allclose(Q1 @ Q1.T, Q2 @ Q2.T, atol=1e-5)
