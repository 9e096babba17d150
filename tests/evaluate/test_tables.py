"""The paper tables and their exports: tidy numeric CSV, Markdown (parsed by markdown-it) and LaTeX (parsed
structurally: environments balanced, one `&` per column break, special characters escaped)."""

import csv
import io
import math
import re

import pytest

from zsltool.evaluate import tables as T


def _zsl_records():
    recs = []
    accs = {("random.json", "audio"): [0.5, 0.7, 0.6], ("random.json", "text"): [0.2, 0.4, 0.3],
            ("animal.json", "audio"): [0.9], ("animal.json", "text"): [0.1]}
    for (split, sem), vals in accs.items():
        col, proto, n_cls = ("Accuracy", "random", 23) if split == "random.json" else ("Animal", "within", 2)
        for k, v in enumerate(vals):
            recs.append({"task": "zsl", "split": split, "trial": k, "column": col, "protocol": proto,
                         "method": "projection", "semantic": sem, "modality": "both",
                         "metrics": {"both": {"top1": v, "n_classes": n_cls}}})
    return recs


def _gzsl_records():
    recs = []
    for k, (s, u) in enumerate([(0.6, 0.2), (0.8, 0.4)]):
        hm = 2 * s * u / (s + u)
        recs.append({"task": "gzsl", "split": "gzsl.json", "trial": k, "column": "gzsl", "protocol": "gzsl",
                     "method": "avgzslnet", "semantic": "text", "modality": "both",
                     "metrics": {"both": {"S": s, "U": u, "HM": hm, "n_classes": 33, "n_test_seen": 120,
                                          "n_test_unseen": 80}},
                     "retrieval": {"both": {"S": s / 2, "U": u / 2, "HM": hm / 2}}})
    return recs


@pytest.fixture
def tables():
    recs = _zsl_records() + _gzsl_records()
    from zsltool.evaluate.experiment import build_tables

    return build_tables(recs)


def test_cells_hold_mean_sd_ci_n(tables):
    zsl = tables[0]
    audio = zsl["rows"][0]["cells"]
    # 0.5, 0.7, 0.6: mean 0.6, SD 0.1, CI 4.302653 * 0.1 / sqrt(3)
    assert audio["Accuracy"]["mean"] == pytest.approx(0.6) and audio["Accuracy"]["sd"] == pytest.approx(0.1)
    assert audio["Accuracy"]["ci95"] == pytest.approx(0.248414, abs=1e-6) and audio["Accuracy"]["n"] == 3
    assert audio["Accuracy"]["text"] == "0.60 ± 0.10"
    # one trial: SD undefined, the cell shows the mean alone
    assert audio["Animal"]["sd"] is None and audio["Animal"]["text"] == "0.90"


def test_caption_names_split_by_protocol_and_sizes(tables):
    zsl, gzsl, retr = tables
    cap = T.table_caption(zsl)
    assert cap == ("Accuracy: random class split (23 unseen test classes, 3 trials, chance 0.04); "
                   "Animal: within-category class split (2 unseen test classes, 1 trial, chance 0.50).")
    assert "random.json" not in cap and "escfolds" not in cap
    assert T.table_caption(gzsl).startswith("GZSL split (33 classes, 120 seen / 80 unseen test clips, 2 trials).")


def test_tidy_csv_is_numeric(tables):
    text = T.tidy_csv(tables)
    assert not text.startswith("#") and "±" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == T.TIDY_COLUMNS
    a = next(r for r in rows if r["table"] == "zsl" and r["class_embeddings"] == "Audio" and r["column"] == "Accuracy")
    assert float(a["mean"]) == pytest.approx(0.6) and float(a["sd"]) == pytest.approx(0.1)
    assert float(a["ci95"]) == pytest.approx(0.248414, abs=1e-6) and int(a["n"]) == 3 and a["protocol"] == "random"
    one = next(r for r in rows if r["column"] == "Animal" and r["class_embeddings"] == "Audio")
    assert one["sd"] == "" and one["ci95"] == "" and one["n"] == "1"
    hm = next(r for r in rows if r["table"] == "gzsl" and r["metric"] == "HM")
    assert float(hm["mean"]) == pytest.approx((2 * .6 * .2 / .8 + 2 * .8 * .4 / 1.2) / 2)   # fractions, not %
    assert {r["table"] for r in rows} == {"zsl", "gzsl", "retrieval"}
    assert len(rows) == 2 * 2 + 3 + 3


def test_markdown_parses(tables):
    from markdown_it import MarkdownIt

    text = T.markdown(tables)
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    assert [t.type for t in tokens].count("table_open") == 3
    # the first table: header (class embeddings, Accuracy, Animal) and two body rows of three cells
    cells, rows, row = [], [], None
    for t in tokens:
        if t.type == "table_close":
            break
        if t.type == "tr_open":
            row = []
        elif t.type == "inline" and row is not None:
            row.append(t.content)
        elif t.type == "tr_close":
            rows.append(row)
            row = None
    assert rows[0] == ["class embeddings", "Accuracy", "Animal"]
    assert rows[1] == ["Audio", "0.60 ± 0.10", "0.90"] and rows[2] == ["Text", "0.30 ± 0.10", "0.10"]
    assert "*Accuracy: random class split" in text


def _latex_tables(text):
    envs = re.findall(r"\\(begin|end)\{(\w+)\}", text)
    stack = []
    for kind, name in envs:
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, f"unbalanced \\end{{{name}}}"
    assert not stack
    out = []
    for body in re.findall(r"\\begin\{tabular\}\{((?:[lcr]|p\{[^}]*\})+)\}(.*?)\\end\{tabular\}", text, re.S):
        spec, inner = body
        spec = "".join(c[0] for c in re.findall(r"[lcr]|p\{[^}]*\}", spec))   # one letter per column
        lines = [ln for ln in inner.strip().splitlines() if not ln.startswith(("\\toprule", "\\midrule",
                                                                               "\\bottomrule"))]
        rows = []
        for ln in lines:
            assert ln.endswith(r"\\"), ln
            cells = re.split(r"(?<!\\)&", ln[:-2])
            assert len(cells) == len(spec), (spec, ln)
            # no unescaped special character outside math
            plain = re.sub(r"\$[^$]*\$", "", ln[:-2])
            assert not re.search(r"(?<!\\)[%#_^~]", plain), ln
            rows.append([c.strip() for c in cells])
        out.append((spec, rows))
    return out


def test_latex_parses(tables):
    text = T.latex(tables)
    parsed = _latex_tables(text)
    assert len(parsed) == 3 and text.count(r"\caption{") == 3
    spec, rows = parsed[0]
    assert spec == "lcc"
    assert rows[0] == ["Class embeddings", "Accuracy", "Animal"]
    assert rows[1] == [r"Audio", r"0.60 $\pm$ 0.10", "0.90"]
    spec, rows = parsed[2]
    assert rows[1][2] == r"T $\rightarrow$ AV"
    assert T.tex_escape("a_b & 50% #1") == r"a\_b \& 50\% \#1"


def test_export_unknown_format(tables):
    from zsltool.errors import ZslError

    with pytest.raises(ZslError, match="unknown table format"):
        T.export_tables(tables, "html")


def test_report_of_a_split_lists_the_classes(tmp_path, cli):
    """Dogan et al. Tables I and II: the classes of each subset of a trial, and of a category."""
    from markdown_it import MarkdownIt

    from zsltool.classes.splits import Split, Trial
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path, n_classes=9, per_class=2, n_train=3, n_val=3, video=False)
    r = cli("report", syn.split, "--classes", syn.class_set)
    assert r.exit_code == 0, r.stderr
    tokens = MarkdownIt("commonmark").enable("table").parse(r.stdout)
    cells = [t.content for t in tokens if t.type == "inline"]
    assert cells[1:5] == ["trial", "subset", "classes", "names"]
    assert cells[5:9] == ["0", "train", "3", "c00, c01, c02"] and cells[13:17] == ["0", "test", "3", "c06, c07, c08"]
    assert "Random class split, seed 0, 1 trial: disjoint train/val/test classes" in r.stdout
    tex = cli("report", syn.split, "--format", "latex").stdout
    assert _latex_tables(tex)[0][1][3] == ["0", "test", "3", "c06, c07, c08"]
    assert cli("report", syn.split, "--format", "csv").stdout.splitlines()[1] == '0,train,3,"c00, c01, c02"'
    within = Split(trials=[Trial(train=["c00"], val=["c01"], test=["c02", "c03"])], protocol="within",
                   params={"category": "Animal", "classes": ["c00", "c01", "c02", "c03"]},
                   class_set_sha256=syn.class_set_sha256)
    within.save(tmp_path / "w.json")
    r = cli("report", tmp_path / "w.json", "--classes", syn.class_set)
    assert r.exit_code == 0, r.stderr
    assert "category Animal: 4 classes (c00, c01, c02, c03)" in r.stdout
    other = make_synthetic(tmp_path / "o", n_classes=5, per_class=2, n_train=1, n_val=1, video=False)
    r = cli("report", syn.split, "--classes", other.class_set)
    assert r.exit_code == 1 and "not the class set" in r.stderr


def test_column_label_names_the_protocol_not_the_file():
    """Was: "random guess escfolds: 0.10" (the file name of a class-fold split)."""
    from pathlib import Path

    from zsltool.classes.splits import Split, Trial
    from zsltool.evaluate.experiment import _column_label

    t = Trial(train=["a"], val=["b"], test=["c"])
    assert _column_label(Split(trials=[t], protocol="folds"), Path("escfolds.json")) == "Accuracy"
    assert _column_label(Split(trials=[t], protocol="random"), Path("r.json")) == "Accuracy"
    assert _column_label(Split(trials=[t], protocol="within", params={"category": "Animal"}), Path("w.json")) == "Animal"
