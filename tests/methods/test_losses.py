"""Every loss term against a hand computation on tiny tensors."""

import numpy as np
import pytest
import torch

from zsltool.methods import METHODS
from zsltool.methods.projection import ale_loss, ranking_hinge, softmax_ce

S = torch.tensor([[2.0, 1.5, -1.0], [0.0, 0.5, 0.2]])
Y = torch.tensor([0, 2])


def test_ranking_hinge_sum_and_max_by_hand():
    # row 0 (true 0): max(0, 1+1.5-2)=0.5, max(0, 1-1-2)=0 -> sum 0.5, max 0.5
    # row 1 (true 2): max(0, 1+0-0.2)=0.8, max(0, 1+0.5-0.2)=1.3 -> sum 2.1, max 1.3
    assert ranking_hinge(S, Y, 1.0, "sum").item() == pytest.approx((0.5 + 2.1) / 2)
    assert ranking_hinge(S, Y, 1.0, "max").item() == pytest.approx((0.5 + 1.3) / 2)
    assert ranking_hinge(S, Y, 0.1, "sum").item() == pytest.approx((0.0 + (0.0 + 0.4)) / 2)


def test_ale_loss_by_hand():
    # row 0: one violation (0.5): beta_1/1 * 0.5 = 0.5; row 1: two (0.8, 1.3): (1 + 1/2)/2 * 2.1 = 1.575
    assert ale_loss(S, Y, 1.0).item() == pytest.approx((0.5 + 1.575) / 2)


def test_softmax_ce_by_hand():
    e = np.exp(S.numpy())
    want = -(np.log(e[0, 0] / e[0].sum()) + np.log(e[1, 2] / e[1].sum())) / 2
    assert softmax_ce(S, Y).item() == pytest.approx(want, rel=1e-6)


def _mse(x, y):
    return ((x - y) ** 2).mean(-1)


def _trip(p, n, m=1.0):
    return np.maximum(0.0, p - n + m)


def _batch(seed=0, b=4):
    g = torch.Generator().manual_seed(seed)
    return {"audio": torch.randn(b, 3, generator=g), "video": torch.randn(b, 2, generator=g),
            "semantic": torch.randn(b, 2, generator=g), "labels": torch.tensor([0, 1, 0, 2]),
            "neg": torch.tensor([1, 0, 3, 2]),
            "audio_valid": torch.tensor([True, True, False, True]),
            "video_valid": torch.tensor([True, True, True, True])}


def _tiny(name, **kw):
    torch.manual_seed(0)
    m = METHODS[name](audio_dim=3, video_dim=2, semantic_dim=2, embed_dim=2, hidden=3, dropout=0.0, **kw)
    return m.eval()


def test_avgzslnet_terms_by_hand():
    m = _tiny("avgzslnet", dec_hidden=3)
    b = _batch()
    got = {k: v.item() for k, v in m.loss_terms_values(b).items()}
    with torch.no_grad():
        a, v, t = (m.FA(b["audio"]).numpy(), m.FV(b["video"]).numpy(), m.FT(b["semantic"]).numpy())
        da, dv, dt = m.DEC(torch.tensor(a)).numpy(), m.DEC(torch.tensor(v)).numpy(), m.DEC(torch.tensor(t)).numpy()
    xt = b["semantic"].numpy()
    q = [1, 0, 3, 2]
    av = np.array([1, 1, 0, 1], bool)
    # rows with a usable negative: all (labels of q differ); audio terms need audio valid in p (and q)
    rows_a2 = [p for p in range(4) if av[p] and av[q[p]]]  # p = 0, 1 (row 3's partner 2 has no audio)
    rows_a1 = [p for p in range(4) if av[p]]
    want = {
        "rec": _mse(dt, xt).mean() + _mse(da, xt)[rows_a1].mean() + _mse(dv, xt).mean(),
        "cta": np.mean([_trip(_mse(dt[p], da[p]), _mse(dt[p], da[q[p]])) for p in rows_a2]),
        "ctv": np.mean([_trip(_mse(dt[p], dv[p]), _mse(dt[p], dv[q[p]])) for p in range(4)]),
        "ta": np.mean([_trip(_mse(a[p], t[p]), _mse(a[q[p]], t[p])) for p in rows_a2]),
        "at": np.mean([_trip(_mse(t[p], a[p]), _mse(t[q[p]], a[p])) for p in rows_a1]),
        "tv": np.mean([_trip(_mse(v[p], t[p]), _mse(v[q[p]], t[p])) for p in range(4)]),
        "vt": np.mean([_trip(_mse(t[p], v[p]), _mse(t[q[p]], v[p])) for p in range(4)]),
    }
    assert set(got) == set(want)
    for k in want:
        assert got[k] == pytest.approx(float(want[k]), rel=1e-5, abs=1e-6), k
    total = m.loss(b)["total"].item()
    assert total == pytest.approx(sum(want.values()), rel=1e-5)


def test_avgzslnet_disabled_terms_leave_total():
    b = _batch()
    full = _tiny("avgzslnet", dec_hidden=3)
    terms = {k: v.item() for k, v in full.loss_terms_values(b).items()}
    part = _tiny("avgzslnet", dec_hidden=3, disabled_losses=["rec", "vt"])
    out = part.loss(b)
    assert "rec" not in out and "vt" not in out
    assert out["total"].item() == pytest.approx(sum(v for k, v in terms.items() if k not in ("rec", "vt")), rel=1e-5)


def test_avgzslnet_unknown_term_is_user_error():
    from zsltool.errors import ZslError

    with pytest.raises(ZslError, match="no loss term"):
        _tiny("avgzslnet", dec_hidden=3, disabled_losses=["nope"])


def test_cjme_soft_terms_and_attention_by_hand():
    m = _tiny("cjme-soft")
    b = _batch()
    got = {k: v.item() for k, v in m.loss_terms_values(b).items()}
    with torch.no_grad():
        a, v, t = m.FA(b["audio"]), m.FV(b["video"]), m.FT(b["semantic"])
        w = m.attn(a, v).numpy()
    a, v, t = a.numpy(), v.numpy(), t.numpy()
    q = [1, 0, 3, 2]
    rows_a2 = [0, 1]
    both = [0, 1, 3]  # rows with audio and video
    pos = w[:, 0] * _mse(a, t) + w[:, 1] * _mse(v, t)
    neg = w[:, 0] * _mse(a, t[q]) + w[:, 1] * _mse(v, t[q])
    want = {"ta": np.mean([_trip(_mse(a[p], t[p]), _mse(a[q[p]], t[p])) for p in rows_a2]),
            "tv": np.mean([_trip(_mse(v[p], t[p]), _mse(v[q[p]], t[p])) for p in range(4)]),
            "av": _mse(a, v)[both].mean(),
            "attn": _trip(pos, neg)[both].mean()}
    for k in want:
        assert got[k] == pytest.approx(float(want[k]), rel=1e-5, abs=1e-6), k


def test_single_network_baseline_terms_by_hand():
    torch.manual_seed(0)
    m = METHODS["audio-only"](audio_dim=3, semantic_dim=2, embed_dim=2, hidden=3, dropout=0.0).eval()
    b = _batch()
    got = {k: v.item() for k, v in m.loss_terms_values(b).items()}
    with torch.no_grad():
        x, t = m.F(b["audio"]).numpy(), m.FT(b["semantic"]).numpy()
    q = [1, 0, 3, 2]
    assert got["ta"] == pytest.approx(np.mean([_trip(_mse(x[p], t[p]), _mse(x[q[p]], t[p])) for p in [0, 1]]), rel=1e-5)
    assert got["at"] == pytest.approx(np.mean([_trip(_mse(t[p], x[p]), _mse(t[q[p]], x[p])) for p in [0, 1, 3]]),
                                      rel=1e-5)


def test_conse_loss_is_cross_entropy_and_combination_by_hand():
    m = METHODS["conse"](audio_dim=2, semantic_dim=2, n_train_classes=3, top_t=2)
    with torch.no_grad():
        m.clf.weight.copy_(torch.eye(3, 2))
        m.clf.bias.zero_()
    m.set_train_classes(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    x = torch.tensor([[2.0, 1.0]])  # logits 2, 1, 0 -> top-2 classes 0 and 1
    p = np.exp([2.0, 1.0, 0.0]) / np.exp([2.0, 1.0, 0.0]).sum()
    sem = (p[0] * np.array([1, 0]) + p[1] * np.array([0, 1])) / (p[0] + p[1])
    assert np.allclose(m.semantic_of(x).detach().numpy()[0], sem, atol=1e-6)
    ce = m.loss({"audio": x, "labels": torch.tensor([1])})["total"].item()
    assert ce == pytest.approx(-np.log(p[1]), rel=1e-6)


def test_avgzslnet_relative_decoder_margin_by_hand():
    """decoder_margin=relative: L_CTA / L_CTV use margin x the mean MSE between two distinct class texts."""
    b = _batch()
    C = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.6, 0.8]])
    b["class_emb"] = C
    pairs = [(i, j) for i in range(3) for j in range(3) if i != j]
    scale = np.mean([_mse(C[i].numpy(), C[j].numpy()) for i, j in pairs])
    assert scale == pytest.approx((1.0 + 0.2 + 0.4) / 3, rel=1e-6)  # pair MSEs 1.0, 0.2, 0.4
    rel = _tiny("avgzslnet", dec_hidden=3, margin=0.5)
    lit = _tiny("avgzslnet", dec_hidden=3, margin=0.5, decoder_margin="absolute")
    assert float(rel.decoder_margin(C)) == pytest.approx(0.5 * scale, rel=1e-6) and lit.decoder_margin(C) == 0.5
    got_r = {k: v.item() for k, v in rel.loss_terms_values(b).items()}
    got_l = {k: v.item() for k, v in lit.loss_terms_values(b).items()}
    with torch.no_grad():
        a, v, t = rel.FA(b["audio"]), rel.FV(b["video"]), rel.FT(b["semantic"])
        da, dv, dt = rel.DEC(a).numpy(), rel.DEC(v).numpy(), rel.DEC(t).numpy()
    q = [1, 0, 3, 2]
    want_ctv = np.mean([_trip(_mse(dt[p], dv[p]), _mse(dt[p], dv[q[p]]), 0.5 * scale) for p in range(4)])
    assert got_r["ctv"] == pytest.approx(float(want_ctv), rel=1e-5, abs=1e-7)
    want_lit = np.mean([_trip(_mse(dt[p], dv[p]), _mse(dt[p], dv[q[p]]), 0.5) for p in range(4)])
    assert got_l["ctv"] == pytest.approx(float(want_lit), rel=1e-5, abs=1e-7)
    for k in ("rec", "ta", "at", "tv", "vt"):  # only the decoder triplets change
        assert got_r[k] == pytest.approx(got_l[k], rel=1e-6)


def test_cjme_attention_supervision_and_weighted_triplets_by_hand():
    """CJME: w = sigmoid(Linear(BN(x_a ‖ x_v))) from the inputs; target 1/0/0.5 from the posteriors' entropies;
    triplets weighted (1 - w) L_TA + w L_TV; L_AV = d(a, v)."""
    m = _tiny("cjme")
    b = _batch()
    b["video_valid"] = torch.tensor([True, True, True, False])
    b["class_emb"] = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    got = {k: v.item() for k, v in m.loss_terms_values(b).items()}
    with torch.no_grad():
        a, v, t = m.FA(b["audio"]).numpy(), m.FV(b["video"]).numpy(), m.FT(b["semantic"]).numpy()
        T = m.FT(b["class_emb"]).numpy()
        bn, lin = m.gate[0], m.gate[1]
        x = torch.cat([b["audio"], b["video"]], 1).numpy()
        xn = (x - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + bn.eps) * bn.weight.numpy() \
            + bn.bias.numpy()   # eval mode: running statistics
        w = 1 / (1 + np.exp(-(xn @ lin.weight.numpy().T + lin.bias.numpy())[:, 0]))

    def entropy(e):
        z = e @ T.T
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return -(p * np.log(p)).sum(1)

    ha, hv = entropy(a), entropy(v)
    target = np.where(ha - hv > 0.1, 1.0, np.where(hv - ha > 0.1, 0.0, 0.5))
    av = np.array([1, 1, 0, 1], bool)
    vv = np.array([1, 1, 1, 0], bool)
    wm = np.where(av & ~vv, 0.0, np.where(vv & ~av, 1.0, w))
    q = [1, 0, 3, 2]
    rows_a = [p for p in range(4) if av[p] and av[q[p]]]
    rows_v = [p for p in range(4) if vv[p] and vv[q[p]]]
    want = {"ta": np.mean([(1 - wm[p]) * _trip(_mse(a[p], t[p]), _mse(a[q[p]], t[p])) for p in rows_a]),
            "tv": np.mean([wm[p] * _trip(_mse(v[p], t[p]), _mse(v[q[p]], t[p])) for p in rows_v]),
            "av": _mse(a, v)[av & vv].mean(),
            "attn": ((w - target) ** 2)[av & vv].mean()}
    assert set(got) == set(want)
    for k in want:
        assert got[k] == pytest.approx(float(want[k]), rel=1e-5, abs=1e-6), k
