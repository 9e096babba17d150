"""docs/DESIGN.md's rows for evaluation: a metric, a split protocol, a plot kind (tests/extension/conftest.py)."""

from __future__ import annotations

import csv

import numpy as np


# -- a metric ---------------------------------------------------------------------------------------------------
def test_a_metric_is_one_registry_entry(contributor, cli, ok, tmp_path):
    """A toy metric (the number of rows scored) in METRICS is reported by zsl evaluate (ZSL and GZSL), zsl retrieve
    (GZSL and ZSL) and every trial row of zsl experiment, computed by its own function on the rows each scores."""
    c = contributor("a metric")
    M = c.edit("zsltool/scores/metrics.py")

    def rows_scored(scores, y, seen_mask=None) -> float:
        assert np.shape(scores)[0] == np.shape(y)[0]
        return float(np.shape(scores)[0])

    M.METRICS["rows"] = M.Metric("rows", "rows scored", ("zsl", "gzsl", "retrieval"), rows_scored)
    assert "rows (rows scored)" in M.metric_help()  # zsl compare / plot cd --metric help
    from zsltool.train.synthetic import make_synthetic

    for gzsl in (False, True):
        syn = make_synthetic(tmp_path / f"g{gzsl}", n_classes=6, per_class=5, n_train=2, n_val=2, video=False,
                             gzsl=gzsl, audio_dim=6, text_dim=4)
        ck = tmp_path / f"g{gzsl}.pt"
        ok(cli("train", "--audio", syn.audio, "--text", syn.text, "--split", syn.split, "--out", ck,
               "--epochs", "2", "--method", "eszsl"))
        m = ok(cli("evaluate", ck, "--json")).json()["metrics"]
        assert m["rows"] == (m["n_test_seen"] + m["n_test_unseen"] if gzsl else m["n_test"]) > 0
        r = ok(cli("retrieve", ck, "--json")).json()["metrics"]
        assert r["rows"] == r["n_instances"] > 0
        assert ("S" in r) == gzsl  # S/U/HM of retrieval: only with seen classes (their fn says None otherwise)
        out = tmp_path / f"exp{gzsl}"
        ok(cli("experiment", "--audio", syn.audio, "--text", syn.text, "--split", syn.split, "--out", out,
               "--epochs", "1", "--method", "eszsl", "--json"))
        rows = list(csv.DictReader(open(out / "trials.csv")))
        assert rows and all(float(r["rows"]) == m["rows"] for r in rows)


# -- a split protocol -----------------------------------------------------------------------------------------
def test_a_split_protocol_is_a_function_and_one_registry_entry(contributor, cli, ok, tmp_path):
    """A toy protocol (trial k rotates the sorted classes by 2k: 2 test, 2 validation, the rest train) works in
    zsl split --protocol toy (its help too), zsl report and zsl experiment (its column and caption)."""
    c = contributor("a split protocol")
    names = c.edit("zsltool/names.py")
    names.SPLIT_PROTOCOLS += ("toy",)  # split files of the protocol are valid
    S = c.edit("zsltool/classes/split_classes.py")

    def split_toy(cs, trials: int = 2, seed: int = 0):
        ids = sorted(cs.ids)
        rot = [ids[2 * k:] + ids[:2 * k] for k in range(trials)]
        return S.Split(trials=[S.Trial(train=r[4:], val=r[2:4], test=r[:2]) for r in rot], protocol="toy",
                       seed=seed, class_set_sha256=cs.sha256, params={"trials": trials})

    S.split_toy = split_toy
    P = c.edit("zsltool/classes/protocols.py")
    P.PROTOCOLS["toy"] = P.Protocol("rotating toy split", frozenset({"trials"}), "toy class split",
                                    lambda cs, seed, given, strict: (S.split_toy(cs, seed=seed, **given), []),
                                    lambda params: "Toy")
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path / "d", n_classes=6, per_class=4, n_train=2, n_val=2, video=False, audio_dim=6,
                         text_dim=4)
    assert "toy: rotating toy split" in " ".join(ok(cli("split", "--help", env={"COLUMNS": "1000"})).stdout.split())
    doc = ok(cli("split", syn.class_set, "--protocol", "toy", "--trials", "3", "-o", tmp_path / "toy.json",
                 "--json")).json()
    assert [t["test_classes"] for t in doc["trials"]] == [["c00", "c01"], ["c02", "c03"], ["c04", "c05"]]
    bad = cli("split", syn.class_set, "--protocol", "toy", "--folds", "3", "-o", tmp_path / "x.json")
    assert bad.exit_code == 1 and "--folds does not apply to --protocol toy" in bad.stderr
    report = ok(cli("report", tmp_path / "toy.json", "--classes", syn.class_set)).stdout
    assert "toy class split" in report and "rotating toy split" in report
    out = tmp_path / "exp"
    exp = ok(cli("experiment", "--audio", syn.audio, "--text", syn.text, "--split", tmp_path / "toy.json",
                 "--out", out, "--epochs", "1", "--method", "eszsl"))
    assert "Toy: toy class split (2 unseen test classes, 3 trials" in " ".join(exp.stdout.split())
    assert "Toy" in (out / "table.csv").read_text()


def test_split_protocol_names_are_the_registry():
    from zsltool.classes.protocols import PROTOCOLS
    from zsltool.names import SPLIT_PROTOCOLS

    assert SPLIT_PROTOCOLS == tuple(PROTOCOLS)


# -- a plot kind ----------------------------------------------------------------------------------------------
def test_a_plot_kind_is_a_drawing_function_and_one_registry_entry(contributor, cli, ok, tmp_path):
    """A toy figure (the metrics of a results document as bars) works in zsl plot toy, from a results file and
    from a checkpoint (evaluated first), and as zsl plot --kind toy."""
    c = contributor("a plot kind")
    c.edit("zsltool/names.py").PLOT_KINDS += ("toy",)
    P = c.edit("zsltool/evaluate/plot.py")
    drawn = []

    def plot_metrics(path, names, values, *, overwrite=False, fmt=None):
        drawn.append(dict(zip(names, values)))
        fig, ax = P._plt().subplots(figsize=(P.COLUMN_WIDTH, 2))
        ax.bar(range(len(values)), values)
        return P._save(fig, path, overwrite, fmt)

    P.plot_metrics = plot_metrics
    F = c.edit("zsltool/evaluate/figures.py")

    def metrics_figure(doc, out, *, source="", overwrite=False, fmt=None):
        m = {k: v for k, v in doc["metrics"].items() if k in ("top1", "mean_class_acc")}
        return P.plot_metrics(out, list(m), list(m.values()), overwrite=overwrite, fmt=fmt)

    F.RESULTS_FIGURES["toy"] = metrics_figure
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path / "d", n_classes=6, per_class=4, n_train=2, n_val=2, video=False, audio_dim=6,
                         text_dim=4)
    ck, res = tmp_path / "m.pt", tmp_path / "r.json"
    ok(cli("train", "--audio", syn.audio, "--text", syn.text, "--split", syn.split, "--out", ck, "--method", "eszsl"))
    m = ok(cli("evaluate", ck, "--out", res, "--json")).json()["metrics"]
    ok(cli("plot", "toy", res, "-o", tmp_path / "a.png"))
    ok(cli("plot", "--kind", "toy", ck, "-o", tmp_path / "b.svg"))
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG" and b"<svg" in (tmp_path / "b.svg").read_bytes()
    assert drawn == [{"top1": m["top1"], "mean_class_acc": m["mean_class_acc"]}] * 2
    bad = cli("plot", "--kind", "nope", res, "-o", tmp_path / "c.png")
    assert bad.exit_code == 2 and "toy" in bad.stderr


def test_plot_kind_names_are_the_figures():
    from zsltool.evaluate.figures import RESULTS_FIGURES
    from zsltool.names import PLOT_KINDS

    assert set(PLOT_KINDS) == set(RESULTS_FIGURES) | {"tsne", "cd"}


def test_retrieval_metrics_in_one_pass_equal_their_registered_functions():
    """zsl retrieve takes mAP, S, U and HM from one pass of retrieval_metrics: each equals its Metric.fn."""
    from zsltool.scores.metrics import metrics_of
    from zsltool.scores.retrieval import retrieval_metrics

    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=(12, 4)), 1)  # ties included
    rel = np.zeros((12, 4), bool)
    rel[np.arange(12), np.arange(12) % 4] = True
    for seen in (None, np.array([True, True, False, False])):
        r = retrieval_metrics(scores, rel, seen)
        fns = {m.name: m.fn(scores, rel, seen) for m in metrics_of("retrieval")}
        assert {k: v for k, v in fns.items() if v is not None} == {k: r[k] for k in fns if k in r}
        assert {k for k, v in fns.items() if v is None} == ({"S", "U", "HM"} if seen is None else set())
