"""zsl experiment on synthetic features: Table III's shape, numbers equal to train + evaluate by hand, resume,
--jobs; compare and plot on its results."""


import numpy as np
import pytest

from zsltool.classes.splits import Split, Trial
from zsltool.evaluate.evaluate import evaluate_checkpoint
from zsltool.evaluate.experiment import ExperimentSpec, plan, run_experiment
from zsltool.store import StoreMeta, read_embeddings, write_embeddings
from zsltool.train.config import TrainConfig
from zsltool.train.loop import train
from zsltool.train.synthetic import make_synthetic

EPOCHS = 2


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("exp")
    syn = make_synthetic(d, n_classes=9, per_class=6, n_train=3, n_val=3, video=False)
    a = read_embeddings(syn.audio)
    lab = a.label_index()
    protos = np.stack([a.X[lab == k].mean(axis=0) for k in range(len(a.classes))])
    write_embeddings(d / "protos.h5", meta=StoreMeta(kind="class", modality="audio", extractor="prototypes",
                                                     class_set_sha256=syn.class_set_sha256),
                     ids=a.classes, X=protos, classes=a.classes)
    cls = syn.classes
    rng = np.random.default_rng(1)
    trials = []
    for _ in range(2):
        p = list(rng.permutation(cls))
        trials.append(Trial(train=p[:3], val=p[3:6], test=p[6:]))
    Split(trials=trials, protocol="random", class_set_sha256=syn.class_set_sha256).save(d / "random.json")
    return syn, d


def spec(syn, d, out, **kw):
    base = dict(audio=str(syn.audio), splits=[str(d / "random.json")], out_dir=str(out), text=str(syn.text),
                image=str(syn.image), audio_prototypes=str(d / "protos.h5"), epochs=EPOCHS, seed=0, threads=1,
                refit=False)  # refit after selection: tests/evaluate/test_refit.py
    base.update(kw)
    return ExperimentSpec(**base)


@pytest.fixture(scope="module")
def ran(data, tmp_path_factory):
    syn, d = data
    out = tmp_path_factory.mktemp("run")
    return run_experiment(spec(syn, d, out)), out


def test_table_iii_shape_and_numbers_match_by_hand(data, ran, tmp_path):
    syn, d = data
    doc, out = ran
    (tab,) = doc["tables"]
    assert tab["columns"] == ["Accuracy"]
    assert [r["class_embeddings"] for r in tab["rows"]] == ["Audio", "Image", "Text", "Hybrid"]
    files = {"text": str(syn.text), "image": str(syn.image), "audio_prototypes": str(d / "protos.h5")}
    for row, sem in zip(tab["rows"], ["audio", "image", "text", "hybrid"]):
        accs = []
        for k in range(2):
            r = train(TrainConfig(audio=str(syn.audio), split=str(d / "random.json"), trial=k, semantic=sem,
                                  out=str(tmp_path / f"{sem}{k}.pt"), epochs=EPOCHS, seed=0, **files))
            accs.append(evaluate_checkpoint(r.checkpoint)["metrics"]["top1"])
        cell = row["cells"]["Accuracy"]
        assert cell["n"] == 2
        assert cell["mean"] == pytest.approx(np.mean(accs), abs=1e-12)
        assert cell["sd"] == pytest.approx(np.std(accs, ddof=1), abs=1e-12)
        assert cell["text"] == f"{np.mean(accs):.2f} ± {np.std(accs, ddof=1):.2f}"
    assert (out / "results.json").exists() and (out / "trials.csv").exists()
    assert len((out / "trials.csv").read_text().splitlines()) == 1 + 8
    assert "Hybrid" in (out / "table.csv").read_text()


def test_rerun_reuses_finished_trials(data, ran, monkeypatch):
    syn, d = data
    doc, out = ran
    import zsltool.evaluate.experiment as E

    def boom(unit):
        raise AssertionError(f"recomputed {unit.name}")

    monkeypatch.setattr(E, "run_unit", boom)
    again = run_experiment(spec(syn, d, out))
    assert again["ran"] == 0 and again["reused"] == 8
    assert again["tables"] == doc["tables"]
    # a changed setting changes the config hash: those trials would run again
    units = plan(spec(syn, d, out, epochs=EPOCHS + 1))
    assert all(E.finished_record(u) is None for u in units)


def test_jobs_give_the_same_numbers(data, ran, tmp_path):
    syn, d = data
    doc, _ = ran
    par = run_experiment(spec(syn, d, tmp_path / "par", semantics=["text", "image"], jobs=2))
    assert par["ran"] == 4
    by_name = {r["name"]: r for r in doc["trials"]}
    for r in par["trials"]:
        assert r["metrics"] == by_name[r["name"]]["metrics"]


def test_cli_experiment_compare_and_plots(data, ran, tmp_path, cli):
    syn, d = data
    doc, out = ran
    res = cli("experiment", "--no-refit", "--audio", syn.audio, "--split", d / "random.json", "--text", syn.text,
              "--image",
              syn.image, "--audio-prototypes", d / "protos.h5", "--epochs", EPOCHS, "--threads", 1, "--out", out)
    assert res.exit_code == 0, res.stderr
    assert "Hybrid" in res.stdout and "±" in res.stdout and "0 trials run, 8 reused" in res.stderr
    res = cli("compare", out / "results.json", "--by", "semantic", "--plot", tmp_path / "cd.png", "--json")
    assert res.exit_code == 0, res.stderr
    comp = res.json()
    assert comp["k"] == 4 and comp["n_blocks"] == 2 and comp["metric"] == "top1"
    assert sorted(m["name"] for m in comp["methods"]) == ["audio", "hybrid", "image", "text"]
    assert comp["cd"] == pytest.approx(2.569 * (4 * 5 / (6 * 2)) ** 0.5)
    from PIL import Image

    assert Image.open(tmp_path / "cd.png").size[0] > 200
    trial_file = next((out / "trials").glob("*.json"))
    for kind in ("confusion", "per-class"):
        res = cli("plot", kind, trial_file, "--out", tmp_path / f"{kind}.png")
        assert res.exit_code == 0, res.stderr
        img = np.asarray(Image.open(tmp_path / f"{kind}.png").convert("L"))
        assert img.shape[0] > 100 and img.std() > 5
    ck = next((out / "checkpoints").glob("*.pt"))
    res = cli("plot", "tsne", ck, "--layout", "pca", "--out", tmp_path / "t.png")
    assert res.exit_code == 0, res.stderr
    assert Image.open(tmp_path / "t.png").size[0] > 200


def test_cli_experiment_errors(data, tmp_path, cli):
    syn, d = data
    res = cli("experiment", "--audio", syn.audio, "--split", d / "random.json", "--out", tmp_path / "x")
    assert res.exit_code == 1 and "no class-embedding source" in res.stderr
    res = cli("experiment", "--audio", syn.audio, "--split", d / "random.json", "--text", syn.text,
              "--semantics", "image", "--out", tmp_path / "x")
    assert res.exit_code == 1 and "--image" in res.stderr
    res = cli("experiment", "--audio", syn.audio, "--split", d / "random.json", "--text", syn.text,
              "--modalities", "smell", "--out", tmp_path / "x")
    assert res.exit_code == 2


def test_cli_experiment_arg_for_a_method_not_run(data, tmp_path, cli):
    # was: silently dropped
    syn, d = data
    res = cli("experiment", "--audio", syn.audio, "--split", d / "random.json", "--text", syn.text,
              "--method", "projection", "--arg", "eszsl:alpha=1", "--out", tmp_path / "x")
    text = " ".join(res.stderr.replace("│", " ").split())
    assert res.exit_code == 2 and "names method 'eszsl', which is not among --method (projection)" in text
    assert not (tmp_path / "x").exists()


def test_experiment_runs_on_the_global_device(data, tmp_path, cli, monkeypatch):
    """zsl --device reaches every trial's training and evaluation (was: hard-coded cpu), outside the config
    hash, so a finished trial is reused whatever the device."""
    import zsltool.evaluate.experiment as E

    syn, d = data
    units = {dev: plan(spec(syn, d, tmp_path, device=dev)) for dev in ("cpu", "cuda")}
    assert [u.device for u in units["cuda"]] == ["cuda"] * len(units["cuda"])
    assert [u.config_hash for u in units["cpu"]] == [u.config_hash for u in units["cuda"]]
    seen = {}

    def fake_train(jobs, device="cpu", **kw):
        seen["train"] = device
        raise RuntimeError("stop")

    monkeypatch.setattr("zsltool.runtime.env.resolve_device", lambda d: d)  # no GPU needed to see where it goes
    monkeypatch.setattr("zsltool.train.engine.train_jobs", fake_train)
    with pytest.raises(RuntimeError, match="stop"):
        E.run_unit(units["cuda"][0])
    assert seen["train"] == "cuda"
    got = {}
    monkeypatch.setattr(E, "run_experiment", lambda s: got.setdefault("spec", s) and (_ for _ in ()).throw(
        RuntimeError("stop")))
    cli("--device", "cuda", "experiment", "--audio", syn.audio, "--split", d / "random.json", "--text", syn.text,
        "--out", tmp_path / "y")
    assert got["spec"].device == "cuda"


def test_cli_plot_auto_from_checkpoint_into_folder(data, ran, tmp_path, cli):
    doc, out = ran
    from PIL import Image

    ck = next((out / "checkpoints").glob("*.pt"))
    res = cli("plot", ck, "--layout", "pca", "--out", tmp_path / "figs", "--json")
    assert res.exit_code == 0, res.stderr
    names = sorted(__import__("pathlib").Path(p).name for p in res.json()["out"])
    assert names == ["confusion.png", "pca.png"]     # named by the layout drawn
    for n in names:
        img = np.asarray(Image.open(tmp_path / "figs" / n).convert("L"))
        assert img.shape[1] > 200 and img.std() > 5
    res = cli("plot", "--kind", "per-class", ck, "--out", tmp_path / "pc.png")
    assert res.exit_code == 0, res.stderr
    res = cli("plot", "tsne", out / "results.json", "--out", tmp_path / "x.png")
    assert res.exit_code == 1 and "needs a checkpoint" in res.stderr
    res = cli("compare", out / "results.json", "--by", "semantic", "--out", tmp_path / "cd2.png")
    assert res.exit_code == 0 and (tmp_path / "cd2.png").exists()


def test_experiment_grid_records_the_choice_per_trial_and_in_the_caption(data, tmp_path, cli):
    syn, d = data
    out = tmp_path / "grid"
    r = cli("experiment", "--no-refit", "--audio", syn.audio, "--split", d / "random.json", "--text", syn.text,
              "-o", out,
            "--epochs", "2", "--grid", "lr=1e-3,1e-1", "--grid", "projection:margin=0.1,1", "--threads", "1",
            "--json")
    assert r.exit_code == 0, r.output
    import json

    doc = json.loads(r.stdout)
    labels = []
    for rec in doc["trials"]:
        sel = rec["selection"]
        assert sel["metric"] == "val_top1" and len(sel["candidates"]) == 4
        best = max(c["value"] for c in sel["candidates"])
        assert sel["value"] == best == rec["train"]["best_value"]
        assert sel["label"] == f"lr={sel['chosen']['lr']} margin={sel['chosen']['margin']}"
        labels.append(sel["label"])
    from zsltool.evaluate.tables import table_caption

    cap = doc["tables"][0]["selection"]
    assert cap.startswith("Settings chosen on validation (val_top1) per trial: projection: ")
    assert all(lab in cap for lab in labels) and table_caption(doc["tables"][0]).endswith(cap)
    assert cap in (out / "table.md").read_text()
    assert "chosen" in (out / "trials.csv").read_text().splitlines()[0]
    r = cli("experiment", "--audio", syn.audio, "--split", d / "random.json", "--text", syn.text, "-o", out,
            "--grid", "sae:lam=1,2")
    assert r.exit_code == 1 and "names method 'sae', which is not trained here" in r.stderr


def test_cli_plot_pdf_and_svg_files(data, ran, tmp_path, cli):
    """Was: --out c.pdf made a folder c.pdf/ holding confusion.png."""
    doc, out = ran
    trial_file = next((out / "trials").glob("*.json"))
    res = cli("plot", "confusion", trial_file, "--out", tmp_path / "c.pdf")
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "c.pdf").is_file() and (tmp_path / "c.pdf").read_bytes()[:5] == b"%PDF-"
    res = cli("plot", trial_file, "--out", tmp_path / "figs", "--format", "svg", "--json")
    assert res.exit_code == 0, res.stderr
    assert sorted(__import__("pathlib").Path(p).name for p in res.json()["out"]) == ["confusion.svg",
                                                                                       "per-class.svg"]
    assert b"<svg" in (tmp_path / "figs" / "confusion.svg").read_bytes()[:400]
    ck = next((out / "checkpoints").glob("*.pt"))
    res = cli("plot", "tsne", ck, "--out", tmp_path / "t.svg")
    assert res.exit_code == 0, res.stderr
    text = (tmp_path / "t.svg").read_text()
    assert "t-SNE of projection audio embeddings" in text and "PCA" not in text


def test_experiment_table_files_and_report(data, ran, tmp_path, cli):
    """table.csv is tidy and numeric (was: a `#` line and "0.50 ± 0.15" strings); table.md/.tex next to it;
    experiment --table-format and zsl report print the same exports."""
    import csv
    import io

    from zsltool.evaluate.tables import export_tables

    syn, d = data
    doc, out = ran
    text = (out / "table.csv").read_text()
    assert not text.startswith("#") and "±" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["class_embeddings"] for r in rows] == ["Audio", "Image", "Text", "Hybrid"]
    cell = doc["tables"][0]["rows"][0]["cells"]["Accuracy"]
    assert float(rows[0]["mean"]) == pytest.approx(cell["mean"]) and int(rows[0]["n"]) == 2
    assert float(rows[0]["ci95"]) == pytest.approx(12.706205 * cell["sd"] / 2 ** 0.5, rel=1e-6)
    assert (out / "table.md").read_text() == export_tables(doc["tables"], "md")
    assert r"\begin{tabular}" in (out / "table.tex").read_text()
    res = cli("experiment", "--no-refit", "--audio", syn.audio, "--split", d / "random.json", "--text", syn.text,
              "--image",
              syn.image, "--audio-prototypes", d / "protos.h5", "--epochs", EPOCHS, "--threads", 1, "--out", out,
              "--table-format", "latex")
    assert res.exit_code == 0, res.stderr
    assert res.stdout == (out / "table.tex").read_text()
    assert "random class split (3 unseen test classes, 2 trials, chance 0.33)" in res.stdout
    for fmt, name in (("md", "table.md"), ("csv", "table.csv"), ("latex", "table.tex")):
        res = cli("report", out / "results.json", "--format", fmt)
        assert res.exit_code == 0, res.stderr
        assert res.stdout == (out / name).read_text()
    res = cli("report", out / "results.json", "--format", "latex", "--out", tmp_path / "t.tex")
    assert res.exit_code == 0 and (tmp_path / "t.tex").read_text() == (out / "table.tex").read_text()
    trial_file = next((out / "trials").glob("*.json"))
    res = cli("report", trial_file)
    assert res.exit_code == 1 and "not an experiment's" in res.stderr


def test_experiment_puts_several_text_backends_side_by_side(data, tmp_path, cli):
    """--text NAME=FILE (repeatable): one row per text backend, each trial trained on its own file."""
    import json

    from zsltool.train.checkpoint import load_checkpoint

    syn, d = data
    e = read_embeddings(syn.text)
    rng = np.random.default_rng(0)
    other = tmp_path / "sent.h5"   # a 384-d unit-norm "sentence" backend for the same classes
    X = rng.normal(size=(len(e.ids), 384))
    write_embeddings(other, meta=e.meta, ids=e.ids, X=X / np.linalg.norm(X, axis=1, keepdims=True),
                     classes=e.classes)
    out = tmp_path / "texts"
    r = cli("experiment", "--audio", syn.audio, "--split", d / "random.json", "--text", f"w2v={syn.text}",
            "--text", f"minilm={other}", "-o", out, "--epochs", "1", "--threads", "1", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [row["class_embeddings"] for row in doc["tables"][0]["rows"]] == ["text:w2v", "text:minilm"]
    by = {}
    for rec in doc["trials"]:
        ck = load_checkpoint(rec["train"]["checkpoint"])
        by.setdefault(rec["semantic"], set()).add(ck["config"]["text"])
    assert by == {"text:w2v": {str(syn.text)}, "text:minilm": {str(other)}}
    r = cli("experiment", "--audio", syn.audio, "--split", d / "random.json", "--text", str(syn.text),
            "--text", str(other), "-o", out)
    assert r.exit_code == 2 and "--text NAME=FILE" in r.stderr


def test_one_map_of_semantic_sources_names_fields_of_train_experiment_and_load_semantic():
    import dataclasses
    import inspect

    from zsltool.evaluate.experiment import ExperimentSpec
    from zsltool.names import SEMANTIC_INPUTS, SEMANTIC_SOURCES
    from zsltool.train.config import TrainConfig
    from zsltool.train.data import load_semantic

    assert SEMANTIC_SOURCES == ("audio", "image", "text", "hybrid") and SEMANTIC_INPUTS["hybrid"] == ("image", "text")
    fields = {cls: {f.name for f in dataclasses.fields(cls)} for cls in (TrainConfig, ExperimentSpec)}
    keywords = set(inspect.signature(load_semantic).parameters)
    for source, files in SEMANTIC_INPUTS.items():
        for f in files:
            assert f in fields[TrainConfig] and f in fields[ExperimentSpec] and f in keywords, (source, f)


def test_repeats_train_each_trial_with_seeds_and_the_table_averages_them(data, tmp_path, cli):
    """--repeats N: every trial trained N times with seeds seed … seed+N-1 (Table III as mean ± SD over training
    runs, as the demo reports it); the table's cell is the mean and SD of the trials × runs."""
    import csv
    import io
    import json

    syn, d = data
    res = cli("experiment", "--audio", syn.audio, "--split", d / "random.json", "--text", syn.text, "--semantics",
              "text", "--epochs", EPOCHS, "--threads", 1, "--repeats", 2, "--out", tmp_path / "rep", "--json")
    assert res.exit_code == 0, res.stderr
    rep = res.json()
    assert [(r["trial"], r["repeat"], r["seed"]) for r in rep["trials"]] == [(0, 0, 0), (0, 1, 1), (1, 0, 0),
                                                                             (1, 1, 1)]
    assert [r["name"] for r in rep["trials"]][:2] == ["random.t0.r0.projection.text", "random.t0.r1.projection.text"]
    for r in rep["trials"]:  # each run trained with its own seed (the trial file's unit config)
        unit = json.loads((tmp_path / "rep" / "trials" / f"{r['name']}.json").read_text())["manifest"]["config"]
        assert unit["unit"]["train"]["seed"] == r["seed"] and unit["unit"]["train"]["trial"] == r["trial"]
    assert len({r["config_hash"] for r in rep["trials"]}) == 4
    (tab,) = rep["tables"]
    cell = tab["rows"][0]["cells"]["Accuracy"]
    accs = [r["metrics"]["both"]["top1"] for r in rep["trials"]]
    assert cell["n"] == 4 and cell["mean"] == pytest.approx(np.mean(accs), abs=1e-12)
    assert cell["sd"] == pytest.approx(np.std(accs, ddof=1), abs=1e-12)
    assert tab["splits"]["Accuracy"]["trials"] == 2 and tab["splits"]["Accuracy"]["repeats"] == 2
    assert "2 trials × 2 seeds" in (tmp_path / "rep" / "table.md").read_text()
    rows = list(csv.DictReader(io.StringIO((tmp_path / "rep" / "trials.csv").read_text())))
    assert [(x["trial"], x["repeat"], x["seed"]) for x in rows] == [("0", "0", "0"), ("0", "1", "1"),
                                                                    ("1", "0", "0"), ("1", "1", "1")]
    again = cli("experiment", "--audio", syn.audio, "--split", d / "random.json", "--text", syn.text, "--semantics",
                "text", "--epochs", EPOCHS, "--threads", 1, "--repeats", 2, "--out", tmp_path / "rep", "--json")
    assert again.exit_code == 0 and again.json()["reused"] == 4  # resumed: every run found by its config hash
    res = cli("experiment", "--audio", syn.audio, "--split", d / "random.json", "--text", syn.text,
              "--repeats", 0, "--out", tmp_path / "zero")
    assert res.exit_code == 2 and "--repeats" in res.stderr
