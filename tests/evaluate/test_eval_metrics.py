"""Metric tests with hand-made predictions and known answers."""

import numpy as np
import pytest

from zsltool.errors import ZslError
from zsltool.scores import metrics as M
from zsltool.scores.retrieval import average_precision, per_class_ap, rank_instances, retrieval_metrics


def test_micro_vs_per_class_accuracy_unbalanced():
    # class 0: 8 rows, 7 right; class 1: 2 rows, none right
    y_true = [0] * 8 + [1] * 2
    y_pred = [0] * 7 + [1] + [0, 0]
    assert M.top1_accuracy(y_true, y_pred) == pytest.approx(0.7)
    per = M.per_class_accuracy(y_true, y_pred, 3)
    assert per[0] == pytest.approx(7 / 8) and per[1] == 0.0 and np.isnan(per[2])
    assert M.mean_per_class_accuracy(y_true, y_pred, 3) == pytest.approx((7 / 8 + 0) / 2)
    cm = M.confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[7, 1, 0], [2, 0, 0], [0, 0, 0]]


def test_zsl_metrics_from_scores():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])
    r = M.zsl_metrics(scores, [0, 1, 1, 1])
    assert r["y_pred"].tolist() == [0, 1, 0, 0]
    assert r["top1"] == pytest.approx(0.5)
    assert r["mean_class_acc"] == pytest.approx((1.0 + 1 / 3) / 2)


def test_harmonic_mean():
    assert M.harmonic_mean(0.5, 0.25) == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert M.harmonic_mean(0.0, 0.0) == 0.0
    assert np.isnan(M.harmonic_mean(float("nan"), 0.3))


SEEN = np.array([True, True, False, False])
VAL_SCORES = np.array([
    [2.0, 0.0, 0.5, 0.0],   # y=0: right while beta < 1.5
    [0.0, 2.0, 0.0, 1.0],   # y=1: right while beta < 1.0
    [1.0, 0.0, 0.5, 0.0],   # y=2: right once beta > 0.5
    [0.0, 1.0, 0.0, 0.8],   # y=3: right once beta > 0.2
])
VAL_Y = np.array([0, 1, 2, 3])
TEST_SCORES = np.array([
    [1.0, 0.0, 0.2, 0.0],   # y=0
    [0.9, 0.0, 0.5, 0.0],   # y=2
    [0.0, 0.3, 0.0, 0.1],   # y=3
])
TEST_Y = np.array([0, 2, 3])
BETAS = [0.0, 0.3, 0.6, 0.9, 1.2]


def test_gzsl_s_u_hm():
    r = M.gzsl_metrics(VAL_SCORES, VAL_Y, SEEN, beta=0.0)
    assert (r.S, r.U, r.HM) == (1.0, 0.0, 0.0)
    r = M.gzsl_metrics(VAL_SCORES, VAL_Y, SEEN, beta=0.3)
    assert (r.S, r.U) == (1.0, 0.5) and r.HM == pytest.approx(2 / 3)
    r = M.gzsl_metrics(VAL_SCORES, VAL_Y, SEEN, beta=1.2)   # class 1 now loses to class 3
    assert (r.S, r.U) == (0.5, 1.0) and r.HM == pytest.approx(2 / 3)


def test_beta_search_on_validation_changes_test_hm():
    beta, curve = M.search_beta(VAL_SCORES, VAL_Y, SEEN, BETAS)
    # HM on validation: 0, 2/3, 1, 1, 2/3 -> best 1 at 0.6 and 0.9; the tie goes to the beta closest to 0
    assert [round(c["HM"], 4) for c in curve] == [0.0, 0.6667, 1.0, 1.0, 0.6667]
    assert beta == 0.6
    raw, test = (M.gzsl_metrics(TEST_SCORES, TEST_Y, SEEN, beta=b) for b in (0.0, beta))
    assert (raw.S, raw.U, raw.HM) == (1.0, 0.0, 0.0)
    assert (test.S, test.U, test.HM) == (1.0, 1.0, 1.0)


def test_beta_never_depends_on_test_data():
    """search_beta sees validation arrays only; the evaluation path (evaluate_loaded) is checked end to end in
    test_eval_checkpoint.py::test_gzsl_beta_chosen_on_validation_only."""
    base = M.search_beta(VAL_SCORES, VAL_Y, SEEN)[0]
    assert base == pytest.approx(0.75)   # midway between the gaps 0.5 and 1.0: every validation row right
    # changing the validation data does change beta
    other = VAL_SCORES.copy()
    other[2, 2] = 0.95   # y=2 now needs only beta > 0.05; y=0 still needs beta < 1.5
    other[3, 3] = 0.95
    assert M.search_beta(other, VAL_Y, SEEN, BETAS)[0] == 0.3
    assert M.search_beta(other, VAL_Y, SEEN)[0] == pytest.approx((0.05 + 1.0) / 2)   # between the gaps


def test_beta_search_needs_seen_and_unseen_validation_rows():
    with pytest.raises(ZslError, match="both seen and unseen"):
        M.search_beta(VAL_SCORES[:2], VAL_Y[:2], SEEN, BETAS)


def test_default_beta_candidates_find_the_exact_optimum():
    """One far-off row (gap -40) stretched the old 41-step grid over the score range to steps of 2, so it never
    tried a beta in (0.2, 0.3), the only interval where every validation row is right. The candidates come from
    the rows' own gaps (best seen - best unseen): midpoints between neighbours, one beyond each end, and 0."""
    val = np.array([
        [2.0, 0.0, 1.6, 0.0],      # y=0, gap 0.4: right while beta < 0.4
        [0.0, 1.0, 0.0, 0.7],      # y=1, gap 0.3: right while beta < 0.3
        [1.0, 0.0, 0.8, 0.0],      # y=2, gap 0.2: right once beta > 0.2
        [0.0, 0.1, 0.0, 0.2],      # y=3, gap -0.1
        [-20.0, -20.0, -20.0, 20.0],  # y=3, gap -40
    ])
    y = np.array([0, 1, 2, 3, 3])
    span = val.max() - val.min()
    old_grid = np.linspace(-span, span, 41)   # the former default
    old_beta, _ = M.search_beta(val, y, SEEN, old_grid)
    assert M.gzsl_metrics(val, y, SEEN, beta=old_beta).HM == pytest.approx(2 / 3)
    cands = M.beta_candidates(val, SEEN)
    assert 0.0 in cands and cands.min() < -40 and cands.max() > 0.4
    assert np.allclose(sorted(set(cands) - {0.0, cands.min(), cands.max()}), [-20.05, 0.05, 0.25, 0.35])
    beta, curve = M.search_beta(val, y, SEEN)
    assert beta == pytest.approx(0.25) and len(curve) == len(cands)
    fine = max(M.gzsl_metrics(val, y, SEEN, beta=b).HM for b in np.arange(-45, 45, 0.01))
    assert M.gzsl_metrics(val, y, SEEN, beta=beta).HM == fine == 1.0


def test_average_precision_by_hand():
    # ranks 1 and 3 relevant: (1/1 + 2/3) / 2
    assert average_precision([1, 0, 1, 0, 0], [0.9, 0.8, 0.7, 0.6, 0.5]) == pytest.approx((1 + 2 / 3) / 2)
    # tie between ranks 2 and 3 counts as one step: 0.5 * 1/3 + 0.5 * 2/4
    assert average_precision([0, 1, 0, 1], [0.9, 0.8, 0.8, 0.1]) == pytest.approx(0.5 / 3 + 0.25)
    assert np.isnan(average_precision([0, 0], [0.1, 0.2]))


def test_retrieval_s_u_hm_by_hand():
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.2, 0.6], [0.1, 0.9]])
    labels = np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    ap = per_class_ap(scores, labels)
    assert ap[0] == pytest.approx((1 + 2 / 3) / 2)   # class 0 ranks rows 0,1,2,3: relevant at 1 and 3
    assert ap[1] == pytest.approx(1.0)               # class 1 ranks rows 3,1,2,0: relevant at 1 and 2
    r = retrieval_metrics(scores, labels, seen_mask=[True, False])
    assert r["S"] == pytest.approx(ap[0]) and r["U"] == pytest.approx(ap[1])
    assert r["HM"] == pytest.approx(M.harmonic_mean(ap[0], ap[1]))
    ranked = rank_instances(scores, ["a", "b", "c", "d"], top=2)
    assert [i for i, _ in ranked[1]] == ["d", "b"]


def test_average_precision_matches_sklearn():
    import sklearn.metrics as skm

    rng = np.random.default_rng(3)
    for _ in range(20):
        rel = rng.integers(0, 2, size=30)
        if rel.sum() == 0:
            continue
        s = np.round(rng.normal(size=30), 1)   # rounding makes ties
        assert average_precision(rel, s) == pytest.approx(skm.average_precision_score(rel, s))


def test_gzsl_s_is_per_class_on_an_unbalanced_seen_set():
    """Seen class A: 8 rows, 7 right; seen class B: 2 rows, none right; one unseen class C, always right.
    S is the mean of per-class accuracies, (7/8 + 0/2) / 2 = 0.4375, never the per-instance 7/10 = 0.7."""
    seen = np.array([True, True, False])
    y = np.array([0] * 8 + [1] * 2 + [2] * 3)
    pred = np.array([0] * 7 + [2] + [0, 0] + [2] * 3)
    scores = np.eye(3)[pred] * 2.0  # one-hot scores: beta 0 keeps every prediction
    r = M.gzsl_metrics(scores, y, seen, beta=0.0)
    assert r.S == 0.4375 and r.U == 1.0
    assert r.HM == pytest.approx(2 * 0.4375 * 1.0 / 1.4375)
    assert r.top1 == pytest.approx(10 / 13)  # the per-instance number is reported separately


def test_ausuc_by_hand():
    """Seen rows: class 0 (gap 1, right as seen), class 1 (gap -2, right as seen); unseen rows: class 3 (gap -1,
    right as unseen), class 2 (gap 2.5, right as unseen). Raising beta past -2, -1, 1, 2.5 walks (U, S) through
    (0, 1) (0, .5) (.5, .5) (.5, 0) (1, 0): area 0.25."""
    import numpy as np

    from zsltool.scores.metrics import ausuc, seen_unseen_curve

    s = np.array([[2., 0., 1., 0.], [0., 1., 0., 3.], [1., 0., 0., 2.], [0., 3., 0.5, 0.]])
    y, mask = np.array([0, 1, 3, 2]), np.array([1, 1, 0, 0], bool)
    betas, S, U = seen_unseen_curve(s, y, mask)
    assert betas.tolist() == [-3.0, -2.0, -1.0, 1.0, 2.5, 3.5]
    assert S.tolist() == [1.0, 0.5, 0.5, 0.0, 0.0, 0.0] and U.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
    assert ausuc(s, y, mask) == 0.25
    perfect = np.array([[1., 0., 0.], [0., 0., 1.]])  # one seen and one unseen row, each right on its side
    assert ausuc(perfect, [0, 2], [True, True, False]) == 1.0


# -- the metric registry ----------------------------------------------------------------------------------------
def test_registry_functions_give_the_known_values():
    """Every registered metric's function on one hand-made case: the numbers of the functions it names."""
    # classes 0, 1 seen; 2 unseen. Rows: y=0 right, y=1 predicted 0, y=2 right, y=2 predicted 1.
    scores = np.array([[0.9, 0.1, 0.0], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.2, 0.5, 0.3]])
    y = np.array([0, 1, 2, 2])
    seen = np.array([True, True, False])
    got = {name: m.fn(scores, y, seen) for name, m in M.METRICS.items() if name != "mAP"}
    assert got["top1"] == pytest.approx(0.5)
    assert got["mean_class_acc"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert got["S"] == pytest.approx(0.5) and got["U"] == pytest.approx(0.5) and got["HM"] == pytest.approx(0.5)
    assert got["AUSUC"] == pytest.approx(M.ausuc(scores, y, seen))
    relevant = np.eye(3, dtype=bool)[y]
    assert M.METRICS["mAP"].fn(scores, relevant) == pytest.approx(retrieval_metrics(scores, relevant)["mAP"])
    for m in M.METRICS.values():
        assert m.label and m.tasks and set(m.tasks) <= {"zsl", "gzsl", "retrieval"}
    assert set(M.AUTO_METRICS) <= set(M.METRICS) and set(M.GZSL_COLUMNS) <= set(M.METRICS)


def test_zsl_metrics_computes_every_registered_zsl_metric(monkeypatch):
    """A new zsl metric is one registry entry: zsl_metrics (and so zsl evaluate) reports it."""
    extra = M.Metric("errors", "wrong predictions", ("zsl",), lambda s, y, seen=None: float(
        np.sum(np.asarray(s).argmax(1) != y)), higher_is_better=False)
    monkeypatch.setitem(M.METRICS, "errors", extra)
    r = M.zsl_metrics(np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), [0, 1, 1])
    assert r["errors"] == 1.0 and r["top1"] == pytest.approx(2 / 3)


def test_compare_ranks_a_lower_is_better_metric_lowest_first(tmp_path, monkeypatch):
    """compare reads the registry's direction: with a lower-is-better metric the lowest score ranks first."""
    from zsltool.evaluate.compare import compare_results
    from zsltool.evaluate.results import results_doc, write_results

    paths = []
    for method, err in (("a", 0.1), ("b", 0.3), ("c", 0.2)):
        for k in range(2):
            man = {"config": {"method": method, "semantic": "text", "split": "s.json", "trial": k,
                              "modality": "both"}, "inputs": [{"path": "s.json", "sha256": "a" * 64}]}
            p = tmp_path / f"{method}{k}.json"
            write_results(p, results_doc("zsl", man, {"top1": 1 - err, "err": err + 0.01 * k}))
            paths.append(p)
    ranks = {m["name"]: m["avg_rank"] for m in compare_results(paths, metric="err")["methods"]}
    assert ranks == {"a": 3.0, "b": 1.0, "c": 2.0}  # unregistered: higher first, as before
    monkeypatch.setitem(M.METRICS, "err", M.Metric("err", "error rate", ("zsl",), lambda s, y, seen=None: 0.0,
                                                    higher_is_better=False))
    ranks = {m["name"]: m["avg_rank"] for m in compare_results(paths, metric="err")["methods"]}
    assert ranks == {"a": 1.0, "b": 3.0, "c": 2.0}
    top = {m["name"]: m["avg_rank"] for m in compare_results(paths)["methods"]}  # auto: top1, higher first
    assert top == {"a": 1.0, "b": 3.0, "c": 2.0}


def test_metric_option_help_lists_every_registered_metric(cli):
    """--metric of compare and plot names its values from the registry (a new metric shows up there)."""
    for cmd in ("compare", "plot"):
        res = cli(cmd, "--help")
        assert res.exit_code == 0
        text = " ".join(res.stdout.replace("│", " ").split())
        for m in M.METRICS.values():
            assert m.name in text, (cmd, m.name)
