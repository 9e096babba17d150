"""Every loss term against a hand computation on tiny tensors."""

import numpy as np
import pytest
import torch

from zsltool.methods import METHODS
from zsltool.methods.losses import ale_loss, ranking_hinge, softmax_ce

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


def test_cjme_terms_and_attention_by_hand():
    m = _tiny("cjme")
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
