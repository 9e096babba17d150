"""Validity guards: each one triggered (a warning recorded in the output; --strict makes it an error)."""

import json
import logging

import numpy as np
import pytest

from zsltool.classes.classset import ClassSet
from zsltool.classes.protocols import make_split
from zsltool.errors import ZslError
from zsltool.evaluate.compare import compare_results
from zsltool.evaluate.results import make_manifest, results_doc, write_results
from zsltool.store import read_embeddings, write_embeddings
from zsltool.train.config import TrainConfig
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic


def _classes(tmp_path, n):
    p = tmp_path / "classes.json"
    ClassSet(classes=[{"id": f"c{i:02d}", "name": f"class {i}"} for i in range(n)]).save(p)
    return p


def test_random_split_remainder_is_distributed_by_default_and_warned_with_sizes(tmp_path, caplog, cli):
    cs = _classes(tmp_path, 50)  # ESC-50: thirds of 50 used to be 16/16/16, leaving 2 classes out silently
    r = make_split(cs, "random", tmp_path / "a.json", trials=3)
    assert r["params"]["sizes"] == [17, 17, 16] and "warnings" not in r["params"]
    with caplog.at_level(logging.WARNING, logger="zsltool.runtime.guards"):
        r = make_split(cs, "random", tmp_path / "b.json", sizes=[16, 16, 16], trials=2)
    w = r["params"]["warnings"]
    assert [x["code"] for x in w] == ["random-remainder"] * 2
    saved = json.loads((tmp_path / "b.json").read_text())["params"]["warnings"]
    from zsltool.classes.splits import load_split

    t0 = load_split(tmp_path / "b.json").trial(0)
    left = sorted(set(f"c{i:02d}" for i in range(50)) - set(t0.train) - set(t0.val) - set(t0.test))
    assert len(left) == 2 and saved[0]["message"] == f"trial 0 leaves 2 of 50 classes in no partition: {', '.join(left)}"
    assert "validity: trial 0 leaves 2 of 50 classes" in caplog.text
    res = cli("split", cs, "-p", "random", "--sizes", "16,16,16", "-o", tmp_path / "d.json", "--trials", "1")
    assert res.exit_code == 0 and "Warning (validity): trial 0 leaves 2 of 50 classes" in res.stdout
    res = cli("split", cs, "-p", "random", "--sizes", "16,16,16", "-o", tmp_path / "c.json", "--strict")
    assert res.exit_code == 1 and res.stderr.startswith("Error: trial 0 leaves 2 of 50 classes in no partition")
    assert "[--strict]" in res.stderr and not (tmp_path / "c.json").exists()


def _leaky_audio(tmp_path, syn, n_leaked: int = 2):
    """The synthetic audio file, recorded as made by a network whose sidecar lists test classes of trial 0."""
    from zsltool.classes.splits import load_split

    t = load_split(syn.split).trial(0)
    weights = tmp_path / "audio-net.pth"
    weights.write_bytes(b"not read")
    (tmp_path / "audio-net.pth.json").write_text(json.dumps({"format": "zsl.audio_pretrain",
                                                             "train_classes": t.train + t.test[:n_leaked]}))
    e = read_embeddings(syn.audio)
    e.meta.extractor_meta = {"weights": str(weights), "embedding": "raw"}
    write_embeddings(tmp_path / "leaky.h5", meta=e.meta, ids=e.ids, X=e.X, classes=e.classes, labels=e.labels,
                     valid=e.valid, reasons=e.reasons)
    return tmp_path / "leaky.h5", t


def test_network_trained_on_test_classes_is_leakage(tmp_path, cli):
    syn = make_synthetic(tmp_path / "s", n_classes=9, per_class=6, n_train=3, n_val=3, video=False)
    _, t = _leaky_audio(tmp_path, syn)
    weights = tmp_path / "audio-net.pth"
    cfg = dict(audio=str(tmp_path / "leaky.h5"), split=str(syn.split), text=str(syn.text), epochs=1, seed=0)
    r = train(TrainConfig(out=str(tmp_path / "m.pt"), **cfg))
    (w,) = r.warnings
    assert w["code"] == "network-leakage"
    assert w["message"] == (f"the audio network {weights} was trained on 2 validation/test class(es) of trial 0: "
                            f"{t.test[0]}, {t.test[1]} (their results are not zero-shot)")
    from zsltool.train.checkpoint import load_checkpoint

    assert load_checkpoint(r.checkpoint)["config"]["warnings"] == [w]
    with pytest.raises(ZslError, match=r"was trained on 2 validation/test class\(es\).*\[--strict\]"):
        train(TrainConfig(out=str(tmp_path / "m2.pt"), strict=True, **cfg))
    res = cli("train", "--audio", tmp_path / "leaky.h5", "--split", syn.split, "--text", syn.text, "-o",
              tmp_path / "m4.pt", "--epochs", "1")
    assert res.exit_code == 0 and "Warning (validity): the audio network" in res.stdout
    clean = train(TrainConfig(out=str(tmp_path / "m3.pt"), audio=str(syn.audio), split=str(syn.split),
                              text=str(syn.text), epochs=1))
    assert clean.warnings == []
    res = cli("experiment", "--audio", tmp_path / "leaky.h5", "--split", syn.split, "--text", syn.text, "-o",
              tmp_path / "exp", "--epochs", "1", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["warnings"] == [w] and doc["trials"][0]["warnings"] == [w]
    res = cli("experiment", "--audio", tmp_path / "leaky.h5", "--split", syn.split, "--text", syn.text, "-o",
              tmp_path / "exp2", "--epochs", "1", "--strict")
    assert res.exit_code == 1 and "[--strict]" in res.stderr


def test_leakage_warning_is_in_every_table_trials_csv_and_report(tmp_path, cli):
    """Issue 21: table.md, table.tex, table.csv, trials.csv and `zsl report` (md, latex, csv, --json) say that a
    result is not zero-shot; a clean experiment's tables say nothing."""
    import csv
    import io

    syn = make_synthetic(tmp_path / "s", n_classes=9, per_class=6, n_train=3, n_val=3, video=False)
    leaky, t = _leaky_audio(tmp_path, syn)
    out = tmp_path / "exp"
    res = cli("experiment", "--audio", leaky, "--split", syn.split, "--text", syn.text, "-o", out, "--epochs", "1")
    assert res.exit_code == 0, res.stderr
    msg = (f"the audio network {tmp_path / 'audio-net.pth'} was trained on 2 validation/test class(es) of trial 0: "
           f"{t.test[0]}, {t.test[1]} (their results are not zero-shot)")
    assert "not zero-shot" in res.stdout  # the terminal table's caption
    md = (out / "table.md").read_text()
    assert f"**Warning (validity):** {msg}" in md
    tex = (out / "table.tex").read_text()
    assert "\\textbf{Warning (validity):} the audio network" in tex and "(their results are not zero-shot)" in tex
    assert tex.index("not zero-shot") > tex.index("\\end{tabular}")  # a note under the table
    (cell,) = list(csv.DictReader(io.StringIO((out / "table.csv").read_text())))
    assert cell["warnings"] == msg
    (trial,) = list(csv.DictReader(io.StringIO((out / "trials.csv").read_text())))
    assert trial["warnings"] == msg and list(trial)[-1] == "warnings"
    for fmt, want in (("md", f"**Warning (validity):** {msg}"), ("latex", "(their results are not zero-shot)"),
                      ("csv", "(their results are not zero-shot)")):
        r = cli("report", out / "results.json", "--format", fmt)
        assert r.exit_code == 0 and want in r.stdout, (fmt, r.stdout)
    r = cli("report", out / "results.json", "--json")
    assert r.exit_code == 0, r.stderr
    doc = r.json()
    assert doc["kind"] == "experiment" and doc["warnings"] == [msg] and doc["tables"][0]["warnings"] == [msg]
    clean = tmp_path / "clean"
    res = cli("experiment", "--audio", syn.audio, "--split", syn.split, "--text", syn.text, "-o", clean,
              "--epochs", "1")
    assert res.exit_code == 0, res.stderr
    assert "Warning" not in (clean / "table.md").read_text() + (clean / "table.tex").read_text()
    (trial,) = list(csv.DictReader(io.StringIO((clean / "trials.csv").read_text())))
    assert trial["warnings"] == ""
    assert cli("report", clean / "results.json", "--json").json()["warnings"] == []


def test_split_remainder_warning_is_in_report_of_the_split(tmp_path, cli):
    cs = _classes(tmp_path, 50)
    make_split(cs, "random", tmp_path / "b.json", sizes=[16, 16, 16], trials=1)
    r = cli("report", tmp_path / "b.json")
    assert r.exit_code == 0 and "**Warning (validity):** trial 0 leaves 2 of 50 classes in no partition" in r.stdout
    doc = cli("report", tmp_path / "b.json", "--json").json()
    assert doc["kind"] == "split" and doc["warnings"][0].startswith("trial 0 leaves 2 of 50 classes")


def _experiment_results(path, scores: dict[str, list[float]]):
    trials = [{"method": m, "semantic": "text", "split": "s.json", "trial": k, "task": "zsl", "modality": "both",
               "metrics": {"both": {"top1": v}}} for m, vals in scores.items() for k, v in enumerate(vals)]
    write_results(path, results_doc("experiment", make_manifest({}, []), {}, trials=trials))
    return path


def test_compare_with_two_treatments_or_few_blocks_warns_and_reports_wilcoxon(tmp_path, cli):
    p = _experiment_results(tmp_path / "r.json", {"a": [0.5, 0.6, 0.7], "b": [0.4, 0.5, 0.55]})
    comp = compare_results([p])
    assert [w["code"] for w in comp["warnings"]] == ["compare-too-small"] * 2
    wx = comp["wilcoxon"]
    # every difference positive, n = 3: W- = 0; exact two-sided p = 2 * P(W- = 0) = 2 / 2^3
    assert wx["a"] == "a" and wx["b"] == "b" and wx["n_nonzero"] == 3
    assert wx["statistic"] == 0.0 and wx["p"] == pytest.approx(0.25)
    res = cli("compare", p)  # the terminal table says it too
    assert res.exit_code == 0 and "Warning (validity): 2 treatments: the Friedman test" in res.stdout
    res = cli("compare", p, "--strict")
    assert res.exit_code == 1 and res.stderr.startswith("Error: 2 treatments: the Friedman test")
    big = _experiment_results(tmp_path / "big.json", {m: list(np.linspace(0.1, 0.9, 6) + i / 10)
                                                    for i, m in enumerate("abc")})
    comp = compare_results([big])
    assert "warnings" not in comp and "wilcoxon" not in comp


def test_extract_image_preset_paper_uses_the_original_imagenet_weights(tmp_path, monkeypatch, cli):
    import zsltool.extract.image as I
    from zsltool.extract.registry import get_extractor

    asked = []

    class Stop(Exception):
        pass

    def fake(name, weights, num_classes=None):
        asked.append((name, weights))
        raise Stop

    monkeypatch.setattr(I, "build_image_model", fake)
    spec = get_extractor("resnet101", "image")
    for opts, want in (({"preset": "paper"}, "IMAGENET1K_V1"), ({}, spec.default_weights),
                       ({"preset": "paper", "weights": "IMAGENET1K_V2"}, "IMAGENET1K_V2")):
        with pytest.raises(Stop):
            spec.build(spec.make_config(**opts))
        assert asked[-1] == ("resnet101", want)
    assert spec.default_weights != "IMAGENET1K_V1"   # the paper's weights are not the default: the preset matters
    with pytest.raises(ZslError, match="--preset paper is resnet101 logits"):
        spec.build(spec.make_config(preset="paper", layer="penultimate"))
    res = cli("extract-image", tmp_path, "-o", tmp_path / "i.h5", "--preset", "nope")
    assert res.exit_code == 2
