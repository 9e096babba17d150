"""Leak-free class folds from a dataset folder to a mean ± SD table: examples/esc50_zsl.sh and
examples/urbansound8k_zsl.sh end to end on tiny folders in each dataset's layout (one audio network per fold,
trained on that fold's training classes only; one `zsl experiment --audio 'audio.fold{fold}.h5'`; `zsl
report`), and the leakage guard on the old way (one network's file for every fold)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# tiny settings: a VGGish of 1/16 width for one epoch on 1 s clips, the methods for 2 epochs
TINY = {"NET_EPOCHS": "1", "WIDTH": "0.0625", "MAX_SECONDS": "1", "WORKERS": "0", "EPOCHS": "2",
        "OMP_NUM_THREADS": "1"}


def _run_example(script: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    full = dict(os.environ, PYTHONPATH=str(REPO), ZSL=f"{sys.executable} -m zsltool", **TINY, **env)
    res = subprocess.run(["bash", str(REPO / "examples" / script)], env=full, capture_output=True, text=True,
                         cwd=cwd, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


@pytest.fixture(scope="module")
def esc50_run(tmp_path_factory):
    from zsltool.testing.esc50 import make_esc50, write_vectors

    d = tmp_path_factory.mktemp("esc50-folds")
    make_esc50(d / "ESC-50-master")
    write_vectors(d / "vectors.txt")
    res = _run_example("esc50_zsl.sh", d, ESC50=str(d / "ESC-50-master"), VECTORS=str(d / "vectors.txt"),
                       OUT=str(d / "run"))
    return d / "run", res


def _check_table(out: Path, stdout: str, n_folds: int, methods: list[str]) -> dict:
    """Every trial on its own fold's file, no validity warning, and the table's cells the mean ± SD of the
    trials' top-1 (printed last, by zsl report)."""
    doc = json.loads((out / "experiment" / "results.json").read_text())
    trials = doc["trials"]
    assert sorted((t["trial"], t["method"]) for t in trials) == sorted((k, m) for k in range(n_folds)
                                                                      for m in methods)
    assert "warnings" not in doc and not any(t.get("warnings") for t in trials)
    for t in trials:  # each trial trained on the embeddings of its own fold's network
        unit = json.loads((out / "experiment" / "trials" / f"{t['name']}.json").read_text())
        assert unit["manifest"]["config"]["unit"]["train"]["audio"] == str(out / "features" /
                                                                           f"audio.fold{t['trial']}.h5")
    side = [json.loads((out / "models" / f"audio-net.fold{k}.pth.json").read_text()) for k in range(n_folds)]
    from zsltool.classes.splits import load_split

    split = load_split(next((out).glob("*/split_class_folds.json")))
    for k, s in enumerate(side):  # each network saw its trial's training classes and nothing else
        assert sorted(s["train_classes"]) == sorted(split.trial(k).train)
    (table,) = doc["tables"]
    tail = stdout[stdout.rindex("**Zero-shot top-1 accuracy"):]  # zsl report's table ends the output
    for row in table["rows"]:
        top1 = [t["metrics"]["both"]["top1"] for t in trials if t["method"] == row["method"]]
        cell = row["cells"]["Accuracy"]
        assert cell["n"] == n_folds and cell["mean"] == pytest.approx(np.mean(top1), abs=1e-12)
        assert cell["sd"] == pytest.approx(np.std(top1, ddof=1), abs=1e-12)
        method = f"| {row['method']} " if len(methods) > 1 else ""  # one method: no method column
        assert f"{method}| Text | {cell['mean']:.2f} ± {cell['sd']:.2f} |" in tail
    last = tail.strip().splitlines()[-1]
    assert last.startswith("*Accuracy: class-fold split") and f"{n_folds} trials" in last
    return doc


def test_esc50_example_is_leak_free_and_ends_in_mean_sd_table(esc50_run):
    out, res = esc50_run
    assert "not zero-shot" not in res.stderr and "validity:" not in res.stderr
    _check_table(out, res.stdout, 5, ["projection", "eszsl"])


def test_one_file_for_every_fold_is_flagged_and_the_template_resumes(esc50_run, cli):
    """The old way (fold 0's network for every trial) is flagged on the 4 trials whose validation or test
    classes it trained on; the example's own command re-run reuses every trial (the config hash holds each
    trial's own file)."""
    out, _ = esc50_run
    split, text = out / "esc50" / "split_class_folds.json", out / "features" / "text.h5"
    res = cli("experiment", "--audio", out / "features" / "audio.fold0.h5", "--split", split, "--text", text,
              "--epochs", "1", "-o", out / "old", "--json")
    assert res.exit_code == 0, res.stderr
    flagged = {t["trial"]: [w["code"] for w in t.get("warnings", [])] for t in res.json()["trials"]}
    assert flagged == {0: [], 1: ["network-leakage"], 2: ["network-leakage"], 3: ["network-leakage"],
                       4: ["network-leakage"]}
    assert res.stderr.count("(their results are not zero-shot)") == 4
    res = cli("experiment", "--audio", out / "features" / "audio.fold0.h5", "--split", split, "--text", text,
              "--epochs", "1", "-o", out / "old-strict", "--strict")
    assert res.exit_code == 1 and "[--strict]" in res.stderr
    res = cli("--seed", "0", "experiment", "--audio", str(out / "features" / "audio.fold{fold}.h5"), "--split",
              split, "--text", text, "--method", "projection", "--method", "eszsl", "--epochs", "2", "-o",
              out / "experiment", "--json")
    assert res.exit_code == 0, res.stderr
    assert (res.json()["ran"], res.json()["reused"]) == (0, 10)


def test_per_trial_template_errors(esc50_run, cli, tmp_path):
    out, _ = esc50_run
    args = ["--split", out / "esc50" / "split_class_folds.json", "--text", out / "features" / "text.h5"]
    res = cli("experiment", "--audio", str(out / "features" / "audio.fold{trail}.h5"), *args, "-o", tmp_path / "a")
    assert res.exit_code == 1 and res.stderr.startswith("Error: ") and "unknown placeholder {trail}" in res.stderr
    shutil.copy(out / "features" / "audio.fold1.h5", tmp_path / "audio.1.h5")
    res = cli("experiment", "--audio", str(tmp_path / "audio.{trial}.h5"), *args, "-o", tmp_path / "b")
    assert res.exit_code == 1 and res.stderr.count("\n") == 1
    assert f"no file {tmp_path / 'audio.0.h5'} for trial 0 of" in res.stderr and "--trials" in res.stderr
    assert not (tmp_path / "b").exists()
    res = cli("experiment", "--audio", str(tmp_path / "audio.{trial}.h5"), *args, "-o", tmp_path / "c",
              "--trials", "1", "--epochs", "1", "--json")
    assert res.exit_code == 0, res.stderr
    assert [t["trial"] for t in res.json()["trials"]] == [1] and "warnings" not in res.json()


def test_urbansound8k_example_is_leak_free_and_ends_in_mean_sd_table(tmp_path):
    from zsltool.testing.esc50 import write_vectors
    from zsltool.testing.urbansound8k import WORDS, make_urbansound8k

    make_urbansound8k(tmp_path / "UrbanSound8K")
    write_vectors(tmp_path / "vectors.txt", words=WORDS)
    res = _run_example("urbansound8k_zsl.sh", tmp_path, US8K=str(tmp_path / "UrbanSound8K"),
                       VECTORS=str(tmp_path / "vectors.txt"), OUT=str(tmp_path / "run"), FOLDS="3",
                       METHODS="projection")
    assert "not zero-shot" not in res.stderr and "validity:" not in res.stderr
    _check_table(tmp_path / "run", res.stdout, 3, ["projection"])


def _with_network(src, dst, weights: Path, train_classes: list[str]) -> Path:
    """A copy of the embedding file ``src`` whose provenance names ``weights``, trained on ``train_classes``
    (its ``.pth.json`` sidecar, as pretrain-audio writes it)."""
    from zsltool.store import read_embeddings, write_embeddings

    weights.write_bytes(b"not read")
    Path(str(weights) + ".json").write_text(json.dumps({"format": "zsl.audio_pretrain",
                                                        "train_classes": train_classes}))
    e = read_embeddings(src)
    e.meta.extractor_meta = {"weights": str(weights), "embedding": "raw"}
    write_embeddings(dst, meta=e.meta, ids=e.ids, X=e.X, classes=e.classes, labels=e.labels, valid=e.valid,
                     reasons=e.reasons)
    return dst


def test_every_feature_file_may_be_per_trial_and_each_is_guarded(tmp_path, cli):
    """--audio and --image as templates: trial k trains on audio.k.h5 and image.k.h5; the image file of
    trial 2, made by trial 0's network, is flagged on trial 2 only; the manifest lists every file."""
    from zsltool.classes.protocols import make_split
    from zsltool.classes.splits import load_split
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path / "s", n_classes=9, per_class=6, video=False)
    make_split(tmp_path / "s" / "classes.json", "folds", tmp_path / "folds.json", folds=3)
    trials = load_split(tmp_path / "folds.json").trials
    for k, t in enumerate(trials):
        _with_network(syn.audio, tmp_path / f"audio.{k}.h5", tmp_path / f"a{k}.pth", t.train)
        net_of = trials[0] if k == 2 else t
        _with_network(syn.image, tmp_path / f"image.{k}.h5", tmp_path / f"i{k}.pth", net_of.train)
    res = cli("experiment", "--audio", tmp_path / "audio.{trial}.h5", "--image", tmp_path / "image.{fold}.h5",
              "--split", tmp_path / "folds.json", "--epochs", "1", "-o", tmp_path / "exp", "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert [t["trial"] for t in doc["trials"]] == [0, 1, 2] and [t["semantic"] for t in doc["trials"]] == ["image"] * 3
    leaked = [c for c in list(trials[2].val) + list(trials[2].test) if c in trials[0].train]
    assert leaked  # fold 0's network trained on classes that trial 2 validates or tests on
    assert [[w["code"] for w in t.get("warnings", [])] for t in doc["trials"]] == [[], [], ["network-leakage"]]
    (w,) = doc["trials"][2]["warnings"]
    assert w["message"].startswith(f"the image (image.2.h5) network {tmp_path / 'i2.pth'} was trained on "
                                   f"{len(leaked)} validation/test class(es) of trial 2")
    for t in doc["trials"]:
        train = json.loads((tmp_path / "exp" / "trials" / f"{t['name']}.json").read_text())[
            "manifest"]["config"]["unit"]["train"]
        k = t["trial"]
        assert (train["audio"], train["image"]) == (str(tmp_path / f"audio.{k}.h5"), str(tmp_path / f"image.{k}.h5"))
    paths = [i["path"] for i in doc["manifest"]["inputs"]]
    assert paths == [str(tmp_path / f"{n}.{k}.h5") for n in ("audio", "image") for k in range(3)] + [
        str(tmp_path / "folds.json")]


def test_template_placeholders(tmp_path):
    from zsltool.errors import ZslError
    from zsltool.evaluate.trialfiles import expand, fields

    (tmp_path / "a.within_animal.2.h5").write_bytes(b"")
    (tmp_path / "b{x}.h5").write_bytes(b"")
    got = expand(str(tmp_path / "a.{split}.{fold}.h5"), "splits/within_animal.json", 2)
    assert got == str(tmp_path / "a.within_animal.2.h5")
    assert expand(str(tmp_path / "a.{split}.{trial}.h5"), "within_animal.json", 2) == got
    assert fields("plain.h5") == [] and expand("plain.h5", "s.json", 7) == "plain.h5"  # not checked here
    assert expand(str(tmp_path / "b{{x}}.h5"), "s.json", 0) == str(tmp_path / "b{x}.h5")  # a literal brace
    with pytest.raises(ZslError, match="unknown placeholder {x}"):
        fields("b{x}.h5")
    with pytest.raises(ZslError, match=r"Single '\}'|unmatched|expected"):
        fields("b{trial.h5")
