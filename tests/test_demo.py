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
    assert r["n_test"] == 5 and r["chance"] == pytest.approx(0.2)
    text = r["rows"][0]
    assert text["side information"] == "word vectors" and text["clips"] == 30
    assert text["chance"] == pytest.approx(0.2)
    assert text["test top-1"] >= 0.5  # at least 2.5x chance on unseen attribute combinations
    assert text["mAP"] > 0.5
    assert r["rows"][1]["test top-1"] >= 0.5  # audio prototypes: the upper bound
    saved = json.loads((out / "results.json").read_text())
    assert saved["format"] == "zsl.results" and saved["rows"] == r["rows"]
    assert sum(map(sum, saved["confusion"]["text"])) == 30
    for key in ("model (text)", "audio embeddings", "text embeddings", "confusion plot"):
        assert Path(r["files"][key]).stat().st_size > 0


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


def test_examples_demo_sh_runs_offline(tmp_path):
    from zsltool.cli.app import app

    names = {c.name for c in app.registered_commands}
    missing = {"evaluate", "retrieve", "plot"} - names
    if missing:
        pytest.skip(f"zsl {', '.join(sorted(missing))} not in this build")
    env = dict(os.environ, SMALL="1", PYTHONPATH=str(REPO), ZSL=f"{sys.executable} -m zsltool")
    res = subprocess.run(["bash", str(REPO / "examples" / "demo.sh"), str(tmp_path / "steps")], env=env,
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "steps" / "models" / "projection.pt").exists()
