"""`zsl demo`: the whole pipeline on the small embedded dataset, and examples/demo.sh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    pytest.importorskip("zsltool.train.loop", reason="zsl train is not in this build")
    from typer.testing import CliRunner

    from zsltool.cli.app import app

    out = tmp_path_factory.mktemp("demo") / "run"
    res = CliRunner().invoke(app, ["--quiet", "demo", "--small", "--out", str(out), "--threads", "1", "--json"])
    assert res.exit_code == 0, (res.stdout, getattr(res, "stderr", ""), res.exception)
    return out, json.loads(res.stdout)


def test_demo_unseen_accuracy_is_far_above_chance(demo_run):
    out, r = demo_run
    d = r["demo"]
    assert d["n_test"] == 5 and d["chance"] == pytest.approx(0.2)
    rows = {row["class embeddings"]: row for row in d["rows"]}
    assert list(rows) == ["Audio (upper bound)", "Image", "Text", "Hybrid"]  # paper 000 Table III's rows
    for row in rows.values():
        assert row["clips"] == 30 and row["chance"] == pytest.approx(0.2)
    assert rows["Text"]["top-1"] >= 0.5 and rows["Text"]["mAP"] > 0.5  # >= 2.5x chance on new combinations
    assert rows["Hybrid"]["top-1"] >= 0.5
    assert rows["Image"]["top-1"] >= 0.3  # the image network never saw a test-class picture
    assert rows["Audio (upper bound)"]["top-1"] >= 0.5
    # the Table III numbers are the evaluation library's: the results files of zsl evaluate / retrieve
    for sem, label in (("audio", "Audio (upper bound)"), ("image", "Image"), ("text", "Text"), ("hybrid", "Hybrid")):
        ev = json.loads((out / "results" / f"zsl-{sem}.json").read_text())
        ret = json.loads((out / "results" / f"retrieval-{sem}.json").read_text())
        assert ev["format"] == "zsl.results" and ev["task"] == "zsl" and ret["task"] == "retrieval"
        assert ev["metrics"]["top1"] == rows[label]["top-1"] and ret["metrics"]["mAP"] == rows[label]["mAP"]
        assert sum(map(sum, ev["confusion"]["matrix"])) == 30
        for png in ("confusion", "per-class", "tsne"):
            assert (out / "plots" / sem / f"{png}.png").stat().st_size > 0
    saved = json.loads((out / "results.json").read_text())
    assert saved["format"] == "zsl.results" and saved["task"] == "experiment" and saved["demo"]["rows"] == d["rows"]
    cells = {row["class_embeddings"]: row["cells"]["Accuracy"]["mean"] for row in saved["tables"][0]["rows"]}
    assert cells["Text"] == rows["Text"]["top-1"] and cells["Hybrid"] == rows["Hybrid"]["top-1"]
    side = json.loads((out / "models" / "image-net.pth.json").read_text())
    assert sorted(side["train_classes"]) == sorted(json.loads((out / "data" / "split.json").read_text())
                                                   ["trials"][0]["train"])  # seen classes only


def test_demo_is_deterministic_for_a_seed(demo_run, tmp_path):
    """Same seed, same numbers: a second small run with shorter training must reproduce its own numbers, and
    the first run's numbers are reproduced by re-evaluating its checkpoints."""
    from zsltool.evaluate.evaluate import evaluate_checkpoint

    out, r = demo_run
    for row, sem in zip(r["demo"]["rows"], ("audio", "image", "text", "hybrid")):
        assert evaluate_checkpoint(out / "models" / f"projection-{sem}.pt")["metrics"]["top1"] == row["top-1"]
    from zsltool.demo import run_demo

    kw = dict(seed=1, small=True, pretrain_epochs=2, image_epochs=2, train_epochs=3, progress=False)
    a = run_demo(tmp_path / "a", **kw)["demo"]["rows"]
    b = run_demo(tmp_path / "b", **kw)["demo"]["rows"]
    assert a == b


def test_demo_does_not_overwrite_a_finished_run(demo_run, cli):
    out, _ = demo_run
    res = cli("demo", "--small", "--out", out)
    assert res.exit_code == 1
    assert "already holds a demo run" in res.stderr and "--overwrite" in res.stderr


def test_demo_data_only_cli(tmp_path, cli):
    res = cli("demo", "--data-only", "--small", "--no-video", "--out", tmp_path / "d", "--seed", "1", "--json")
    assert res.exit_code == 0, res.stderr
    r = res.json()
    assert (r["classes"], r["train"], r["val"], r["test"], r["audio"], r["video"]) == (18, 10, 3, 5, 108, 0)
    assert Path(r["files"]["audio_manifest"]).exists() and "video_manifest" not in r["files"]


def test_examples_demo_sh_runs_offline(demo_run, tmp_path):
    """examples/demo.sh, step by step through the CLI, reproduces `zsl demo --small`'s Table III exactly."""
    env = dict(os.environ, SMALL="1", PYTHONPATH=str(REPO), ZSL=f"{sys.executable} -m zsltool")
    res = subprocess.run(["bash", str(REPO / "examples" / "demo.sh"), str(tmp_path / "steps")], env=env,
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    steps = tmp_path / "steps"
    for f in ("models/projection.pt", "results/zsl.json", "results/retrieval.json", "plots/tsne.png",
              "plots/confusion.png", "plots/per-class.png"):
        assert (steps / f).stat().st_size > 0, f
    _, r = demo_run
    demo = {row["class embeddings"].split(" ")[0]: row["top-1"] for row in r["demo"]["rows"]}
    table = json.loads((steps / "results" / "table3" / "results.json").read_text())["tables"][0]
    cells = {row["class_embeddings"]: row["cells"][table["columns"][0]]["mean"] for row in table["rows"]}
    assert cells == pytest.approx(demo, abs=1e-12) and set(cells) == {"Audio", "Image", "Text", "Hybrid"}
    text = json.loads((steps / "results" / "zsl.json").read_text())["metrics"]
    assert text["top1"] == pytest.approx(demo["Text"], abs=1e-12) and text["chance"] == pytest.approx(0.2)
