"""`zsl demo`: the whole pipeline on the small embedded dataset, and examples/demo.sh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# The least mean top-1 over the small demo's 5 training runs per Table III row (chance 0.2), on any CPU: the
# float kernels torch dispatches (ATEN_CPU_CAPABILITY) change the networks and the projection, and one run of
# this toy split moves by up to 0.2. Measured (zsl demo --small --threads 1, mean of the 5 runs; one machine,
# ATEN_CPU_CAPABILITY set; docs/demo.md, "Why 5 runs"):
#                      Audio  Image  Text   Hybrid
#   seed 0, default    0.668  0.428  0.504  0.480
#   seed 0, avx2       0.928  0.612  0.556  0.592
#   seed 0, avx512     0.908  0.568  0.604  0.660
#   seed 1, default    0.840  0.564  0.652  0.676
#   seed 1, avx2       0.780  0.692  0.600  0.592
# Each threshold is the least measured mean less about 0.1 (two SDs of a 5-run mean where one run's SD was
# 0.22: seed 1's image runs 0.22 .. 0.76), and still 1.5x chance or more.
# The lead's single runs (run 0) under the full emulation of other CPUs (MKL_ENABLE_INSTRUCTIONS, ATEN_CPU_CAPABILITY
# and ONEDNN_MAX_CPU_ISA together; BOARD 05:55) went lower still: Audio 0.72, Image 0.40, Text 0.34, Hybrid 0.48 at
# SSE4_2/default/SSE41, Text 0.36 with MKL at AVX2; so Text's threshold is 1.5x chance, below that run.
THRESHOLDS = {"Audio (upper bound)": 0.5, "Image": 0.3, "Text": 0.3, "Hybrid": 0.35}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, cli):
    out = tmp_path_factory.mktemp("demo") / "run"
    # a progress line every update if --quiet let any through: on stderr, a line with a rate ("12.3 clips/s");
    # warnings may come through (--quiet keeps them: e.g. a checkpoint that stores no temperature, which a CPU
    # whose kernels leave the validation scores no better than chance gives)
    res = cli("--quiet", "demo", "--small", "--out", out, "--threads", "1", "--json",
              env={"ZSL_PROGRESS_INTERVAL": "0"})
    assert res.exit_code == 0, (res.stdout, res.stderr, res.exception)
    import re

    leaked = [ln for ln in res.stderr.splitlines() if re.search(r"\d \S+/s\b", ln)]
    assert not leaked, leaked
    return out, res.json()


def test_demo_unseen_accuracy_is_far_above_chance(demo_run):
    out, r = demo_run
    d = r["demo"]
    assert d["n_test"] == 5 and d["chance"] == pytest.approx(0.2) and d["runs"] == 5
    rows = {row["class embeddings"]: row for row in d["rows"]}
    assert list(rows) == ["Audio (upper bound)", "Image", "Text", "Hybrid"]  # Dogan et al. Table III's rows
    for row in rows.values():
        assert row["clips"] == 50 and row["chance"] == pytest.approx(0.2) and row["runs"] == 5
    # Each row is the mean of 5 training runs (seeds 0-4). Far above chance (0.2) on new combinations, on any
    # CPU: THRESHOLDS below holds the measured spread (docs/demo.md, "On other CPUs").
    for label, least in THRESHOLDS.items():
        assert rows[label]["top-1"] >= least, (label, rows[label])
    assert rows["Text"]["mAP"] > 0.3
    # the Table III numbers are the evaluation library's: zsl experiment's trial files, zsl retrieve's results
    by_sem = {}
    for rec in (x for x in r["trials"] if x["task"] == "zsl"):
        by_sem.setdefault(rec["semantic"], []).append(rec)
    for sem, label in (("audio", "Audio (upper bound)"), ("image", "Image"), ("text", "Text"), ("hybrid", "Hybrid")):
        recs = by_sem[sem]
        assert [x["seed"] for x in recs] == [0, 1, 2, 3, 4]
        top1 = [x["metrics"]["both"]["top1"] for x in recs]
        assert rows[label]["top-1"] == pytest.approx(sum(top1) / 5, abs=1e-12)
        assert rows[label]["top-1 SD"] == pytest.approx(float(np.std(top1, ddof=1)), abs=1e-12)
        ev = json.loads(Path(d["files"][f"results ({sem})"]).read_text())
        ret = json.loads(Path(d["files"][f"retrieval ({sem})"]).read_text())
        assert Path(d["files"][f"results ({sem})"]).parent == out / "table3" / "trials"
        assert ev["format"] == "zsl.results" and ev["task"] == "zsl" and ret["task"] == "retrieval"
        assert ev["metrics"]["top1"] == top1[0] and ev["record"]["seed"] == 0  # the files: the first run's
        assert sum(map(sum, ev["confusion"]["matrix"])) == 50
        for png in ("confusion", "per-class", "tsne"):
            assert (out / "plots" / sem / f"{png}.png").stat().st_size > 0
    saved = json.loads((out / "results.json").read_text())
    assert saved["format"] == "zsl.results" and saved["task"] == "experiment" and saved["demo"]["rows"] == d["rows"]
    table = saved["tables"][0]  # zsl experiment's Table III; its column is named as `zsl experiment` names it
    cells = {row["class_embeddings"]: row["cells"][table["columns"][0]] for row in table["rows"]}
    assert cells["Text"]["mean"] == rows["Text"]["top-1"] and cells["Hybrid"]["mean"] == rows["Hybrid"]["top-1"]
    assert cells["Text"]["sd"] == rows["Text"]["top-1 SD"] and cells["Text"]["n"] == 5
    side = json.loads((out / "models" / "image-net.pth.json").read_text())
    assert sorted(side["train_classes"]) == sorted(json.loads((out / "data" / "split.json").read_text())
                                                   ["trials"][0]["train"])  # seen classes only


def test_demo_av_gzsl_is_far_above_chance_without_leakage(demo_run):
    """Mazumder et al.'s audio-visual GZSL part: every model x test modality row, S / U / HM well above the random
    guess among all 18 classes; the video network saw only the seen classes' training videos."""
    out, r = demo_run
    av = r["demo"]["av"]
    chance = av["chance"]["classification"]["HM"]
    assert av["n_classes"] == 18 and chance == pytest.approx(1 / 18)
    rows = {(row["model"], row["test"]): row for row in av["rows"]}
    assert list(rows) == [("avgzslnet", "audio"), ("avgzslnet", "video"), ("avgzslnet", "both"), ("cjme", "audio"),
                          ("cjme", "video"), ("cjme", "both"), ("audio-only", "audio")]  # Mazumder et al. Table 1's rows
    assert all(row["beta"] is not None for row in rows.values())  # calibrated stacking, beta from validation
    # One training run each (no repeats in this part): what holds under every ATEN_CPU_CAPABILITY measured
    # (small demo, seed 0; HM / chance 0.056, mAP HM / its chance 0.048):
    #                      avgzslnet audio  video  both   audio-only  mAP HM: avgzslnet both  least  most
    #   default                     0.234  0.046  0.294   0.350               0.104          0.104  0.203
    #   avx2                        0.461  0.269  0.531   0.485               0.281          0.227  0.305
    #   avx512                      0.608  0.269  0.522   0.556               0.201          0.143  0.239
    #   SSE4_2/default/SSE41 (MKL, ATen, oneDNN together; final main)  audio 0.294, audio-only 0.261
    # (video alone ranges from below chance to 4.8x chance: asserted only as weaker than audio + video.)
    assert rows[("avgzslnet", "audio")]["HM"] > 3 * chance and rows[("audio-only", "audio")]["HM"] > 4 * chance
    assert rows[("avgzslnet", "both")]["HM"] > 3 * chance
    assert rows[("avgzslnet", "both")]["HM"] > rows[("avgzslnet", "video")]["HM"]  # audio adds to video
    ret_chance = av["chance"]["retrieval"]
    assert 0 < ret_chance["HM"] < 0.1
    maps = [row["mAP HM"] for row in rows.values()]
    assert rows[("avgzslnet", "both")]["mAP HM"] > 1.5 * ret_chance["HM"] and max(maps) > 3 * ret_chance["HM"]
    # the numbers are the experiment library's (Mazumder et al. Tables 1 and 2 in results.json)
    saved = json.loads((out / "results.json").read_text())
    kinds = [t["kind"] for t in saved["tables"]]
    assert kinds == ["zsl", "gzsl", "retrieval"]
    cells = {(x["method"], x["test"]): x["cells"]["HM"]["mean"] for x in saved["tables"][1]["rows"]}
    assert cells[("avgzslnet", "both")] == rows[("avgzslnet", "both")]["HM"] and len(cells) == 7
    # no leakage: the GZSL split holds val_unseen clips apart; the video network trained on instances.train only
    gz = json.loads((out / "split-gzsl.json").read_text())["trials"][0]
    inst = gz["instances"]
    assert inst["val_unseen"] and not set(inst["val_unseen"]) & set(inst["train"])
    side = json.loads((out / "models" / "video-net.pth.json").read_text())
    assert side["train_classes"] == gz["seen"] and side["videos"] == len(inst["train"]) == 78
    assert sorted(side["train_videos"]) == sorted(inst["train"])
    unseen_names = {c.lower().replace(" ", "-") for c in (out / "data" / "unseen.txt").read_text().split("\n") if c}
    assert len(unseen_names) == 5 and not any(v.rsplit("-", 1)[0] in unseen_names for v in side["train_videos"])


def test_demo_audio_network_never_saw_a_held_out_clip(demo_run):
    """One audio network serves Table III and the AV GZSL part: it trains only on the Table III training classes'
    clips that the GZSL split keeps for training, never on a GZSL val / test_seen / val_unseen clip, nor on a
    clip of a Table III validation or test class."""
    out, r = demo_run
    side = json.loads((out / "models" / "audio-net.pth.json").read_text())
    clips = set(side["train_clips"])
    assert len(clips) == side["clips"] == r["demo"]["pretrain_audio"]["clips"] == 60
    inst = json.loads((out / "split-gzsl.json").read_text())["trials"][0]["instances"]
    for part in ("val", "test_seen", "val_unseen"):
        assert inst[part] and not clips & set(inst[part]), part
    zsl = json.loads((out / "data" / "split.json").read_text())["trials"][0]
    import csv

    with open(out / "data" / "audio.csv", newline="") as fh:
        label = {row["id"]: row["labels"] for row in csv.DictReader(fh)}
    assert {label[c] for c in clips} == set(zsl["train"])
    assert not {label[c] for c in clips} & (set(zsl["val"]) | set(zsl["test"]))
    assert clips == set(inst["train"]) & {c for c, lab in label.items() if lab in set(zsl["train"])}


def test_demo_is_deterministic_for_a_seed(demo_run, tmp_path):
    """Same seed, same numbers: a second small run with shorter training must reproduce its own numbers, and
    the first run's numbers are reproduced by re-evaluating its checkpoints."""
    from zsltool.evaluate.evaluate import evaluate_checkpoint

    out, r = demo_run
    first = {x["semantic"]: x for x in reversed(r["trials"]) if x["task"] == "zsl"}  # each source's first run
    for sem in ("audio", "image", "text", "hybrid"):
        assert first[sem]["seed"] == 0
        assert (evaluate_checkpoint(r["demo"]["files"][f"model ({sem})"])["metrics"]["top1"]
                == first[sem]["metrics"]["both"]["top1"])
    from zsltool.demo import run_demo

    kw = dict(seed=1, small=True, pretrain_epochs=2, image_epochs=2, train_epochs=3, video_epochs=2, av_epochs=3,
              repeats=2, progress=False)
    a = run_demo(tmp_path / "a", **kw)["demo"]
    b = run_demo(tmp_path / "b", **kw)["demo"]
    assert a["rows"] == b["rows"] and a["av"]["rows"] == b["av"]["rows"] and len(a["av"]["rows"]) == 7


def test_demo_table3_is_run_experiment_on_its_files(demo_run, tmp_path):
    """No hand-made evaluation: `run_experiment` (what `zsl experiment` runs) on the demo's files, with hybrid
    built in memory from --image and --text by the training path instead of the demo's combined file, gives
    exactly the demo's Table III (top-1, mean per-class accuracy, the validation top-1 that chose the epoch)."""
    from zsltool.evaluate.experiment import ExperimentSpec, run_experiment

    out, r = demo_run
    f = r["demo"]["files"]
    doc = run_experiment(ExperimentSpec(
        audio=f["audio embeddings"], splits=[f["split"]], out_dir=str(tmp_path / "exp"), text=f["text embeddings"],
        image=f["image prototypes"], audio_prototypes=f["audio prototypes"], methods=["projection"], epochs=100,
        optimizer="adam", lr=1e-3, seed=0, threads=1, repeats=5, refit=False))

    def runs(records):
        return [(t["semantic"], t["seed"], t["metrics"]["both"]["top1"], t["metrics"]["both"]["mean_class_acc"],
                 t["train"]["best_value"]) for t in records if t["task"] == "zsl"]

    assert runs(doc["trials"]) == runs(r["trials"]) and len(runs(doc["trials"])) == 20
    for sem, row in zip(("audio", "image", "text", "hybrid"), r["demo"]["rows"]):
        mine = [x for x in runs(doc["trials"]) if x[0] == sem]
        assert row["top-1"] == pytest.approx(np.mean([x[2] for x in mine]), abs=1e-12)
        assert row["mean per-class"] == pytest.approx(np.mean([x[3] for x in mine]), abs=1e-12)
        assert row["val top-1"] == pytest.approx(np.mean([x[4] for x in mine]), abs=1e-12)
    assert list(doc["tables"][0]["rows"][0]["cells"]) == ["Accuracy"]  # one split: not its file name
    assert doc["manifest"]["config"]["hybrid"] is None and r["trials"][15]["semantic"] == "hybrid"  # no --hybrid file


def test_demo_hybrid_is_the_one_hybrid(demo_run, tmp_path):
    """Hybrid is built one way: the demo's features/hybrid.h5 (zsl combine) holds, to the bit, what training and
    `zsl experiment` build in memory from the image prototypes and the word vectors (plain image || text, as
    Dogan et al. concatenate; per-part L2 only with `combine --l2`)."""
    import numpy as np

    from zsltool.store.compose import combine
    from zsltool.store import read_embeddings
    from zsltool.train.data import load_semantic

    out, r = demo_run
    f = r["demo"]["files"]
    demo = read_embeddings(f["hybrid embeddings"])
    train = load_semantic("hybrid", image=f["image prototypes"], text=f["text embeddings"])
    assert demo.ids == train.ids and np.array_equal(demo.X, train.X) and demo.X.dtype == np.float32
    im, tx = read_embeddings(f["image prototypes"]), read_embeddings(f["text embeddings"])
    assert demo.X.shape == (18, im.dim + tx.dim) and np.array_equal(demo.X[:, :im.dim], im.subset(demo.ids).X)
    assert np.array_equal(demo.X[:, im.dim:], tx.subset(demo.ids).X)
    combine([f["image prototypes"], f["text embeddings"]], tmp_path / "l2.h5", l2=True)
    l2 = read_embeddings(tmp_path / "l2.h5").X
    assert np.allclose(np.linalg.norm(l2[:, :im.dim], axis=1), 1, atol=1e-6) and not np.allclose(l2, demo.X)
    assert demo.meta.extractor_meta["l2"] is False


def test_demo_does_not_overwrite_a_finished_run(demo_run, cli):
    out, _ = demo_run
    res = cli("demo", "--small", "--out", out)
    assert res.exit_code == 1
    assert "already holds a demo run" in res.stderr and "--overwrite" in res.stderr


def test_demo_data_only_cli(tmp_path, cli):
    res = cli("demo", "--data-only", "--small", "--no-video", "--out", tmp_path / "d", "--seed", "1", "--json")
    assert res.exit_code == 0, res.stderr
    r = res.json()
    assert (r["classes"], r["train"], r["val"], r["test"], r["audio"], r["video"]) == (18, 10, 3, 5, 180, 0)
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
    # Mazumder et al.'s AV GZSL part through the CLI: the same S / U / HM and mAP as `zsl demo --small`
    av = json.loads((steps / "results" / "av" / "results.json").read_text())["trials"]
    av += json.loads((steps / "results" / "av" / "audio-only" / "results.json").read_text())["trials"]
    got = {(t["method"], m, k): x for t in av for m, v in t["metrics"].items()
           for k, x in (("HM", v["HM"]), ("mAP HM", t["retrieval"][m]["HM"]))}
    want = {(row["model"], row["test"], k): row[k] for row in r["demo"]["av"]["rows"] for k in ("HM", "mAP HM")}
    assert got == pytest.approx(want, abs=1e-12) and len(got) == 14
    text = json.loads((steps / "results" / "zsl.json").read_text())["metrics"]  # zsl train: the Text row's run 0
    run0 = next(x for x in r["trials"] if x["task"] == "zsl" and x["semantic"] == "text" and x["seed"] == 0)
    assert text["top1"] == pytest.approx(run0["metrics"]["both"]["top1"], abs=1e-12)
    assert text["chance"] == pytest.approx(0.2)


def test_demo_tables_have_captions_and_one_kind_of_path(demo_run):
    """Each demo table says what was measured (a caption under it); the files table holds absolute paths only
    (was: the data folder absolute, the rest relative to the current folder)."""
    from rich.console import Console

    from zsltool.cli.commands.demo import _results_table

    out, r = demo_run
    d = r["demo"]
    assert all(Path(v).is_absolute() and Path(v).exists() for v in d["files"].values())
    console = Console(record=True, width=400, file=open(os.devnull, "w"))
    for t in _results_table(r):
        console.print(t)
    text = " ".join(console.export_text().split())
    assert (f"tested on {d['n_test']} unseen classes ({d['rows'][0]['clips']} clips); chance {d['chance']:.2f}."
            in text)
    assert f"projection trained on {d['n_train_classes']} classes" in text
    assert "Audio (upper bound): each class embedded by the mean audio embedding of its own clips" in text
    assert "an image or hybrid row can score higher" in text
    assert f"GZSL split ({d['n_train_classes'] + d['n_val_classes']} seen + {d['n_test']} unseen classes" in text
    assert "Absolute paths." in text


def test_per_epoch_pretrain_lines_only_with_verbose(caplog):
    import logging

    import torch

    from zsltool.extract.pretrain import EpochStats

    s = EpochStats()
    s.add(torch.tensor(0.5), 3, 4)
    with caplog.at_level(logging.DEBUG, logger="zsltool"):
        rec = s.record(1, 2, "pretrain-audio")
    assert rec["train_top1"] == 0.75
    assert [(x.levelno, x.getMessage()) for x in caplog.records] == [
        (logging.DEBUG, "pretrain-audio epoch 1/2: loss 0.5000, train top-1 0.750")]


def test_demo_ends_with_zsl_classify_and_its_command_reruns(demo_run, cli):
    """The demo's last step classifies one unseen-class clip among the unseen classes' names; the printed
    command, run as is, gives the same ranking and probabilities."""
    import shlex

    out, r = demo_run
    c = r["demo"]["classify"]
    assert c["command"].startswith("zsl classify ") and c["valid"]
    assert sorted(c["labels"]) == sorted(r["demo"]["test_classes"]) and c["true_label"] in c["labels"]
    assert [t["rank"] for t in c["top"]] == list(range(1, len(c["top"]) + 1))
    again = cli(*shlex.split(c["command"])[1:], "--json")
    assert again.exit_code == 0, again.stderr
    top = again.json()["clips"][0]["top"]
    assert [t["label"] for t in top] == [t["label"] for t in c["top"]]
    assert [t["probability"] for t in top] == pytest.approx([t["probability"] for t in c["top"]])


def test_demo_table_files_are_tidy(demo_run):
    import csv
    import io

    out, r = demo_run
    rows = list(csv.DictReader(io.StringIO((out / "results" / "table.csv").read_text())))
    assert [x["class_embeddings"] for x in rows] == ["Audio", "Image", "Text", "Hybrid"]
    top1 = {x["semantic"] if "semantic" in x else x["class embeddings"]: x["top-1"] for x in r["demo"]["rows"]}
    assert [float(x["mean"]) for x in rows] == pytest.approx(list(top1.values()))
    av = list(csv.DictReader(io.StringIO((out / "results" / "table-av.csv").read_text())))
    assert {x["table"] for x in av} == {"gzsl", "retrieval"} and all(float(x["mean"]) >= 0 for x in av)


def test_readme_classify_example_works_after_moving_the_demo_folder(demo_run, cli, tmp_path, monkeypatch):
    """The README's `zsl classify` example, run from the folder the demo folder was moved into: the paths the
    demo recorded (audio network weights, word vectors) are found next to the moved checkpoint."""
    import re
    import shlex
    import shutil

    out, _ = demo_run
    line = next(m.group(1) for m in re.finditer(r"^(?:\.venv/bin/)?(zsl classify .*)$",
                                                 (REPO / "README.md").read_text(), re.M))
    args = shlex.split(line)[2:]
    demo_dir = Path(args[0]).parts[0]  # zsl-demo: the README runs in the folder that holds the demo's output
    moved = tmp_path / "elsewhere" / demo_dir
    moved.parent.mkdir()
    shutil.move(out, moved)
    try:
        monkeypatch.chdir(moved.parent)
        clip = sorted((Path(demo_dir) / "data" / "audio").glob("*.wav"))[0]
        args = [str(clip) if a == "my-clip.wav" else a for a in args]
        r = cli("classify", *args, "--json")
        assert r.exit_code == 0, r.stderr
        assert r.json()["clips"][0]["valid"]
        # labels that are not classes of the checkpoint: embedded with the (moved) word vectors
        r = cli("classify", args[0], clip, "--labels", "Hissing whistle,Rising hum", "--json")
        assert r.exit_code == 0, r.stderr
        assert r.json()["label_tokens"]["Hissing whistle"] == ["hissing", "whistle"]
    finally:
        shutil.move(moved, out)
