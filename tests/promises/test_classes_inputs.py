"""build-classes, select-audio, select-images and split with inputs of the wrong kind."""

from __future__ import annotations

import json

AUDIO_SEGMENTS = ('# YTID, start_seconds, end_seconds, positive_labels\n'
                  '--PJHxphWEs, 30.000, 40.000, "/m/0bt9lr,/m/01yrx"\n')
BOXES = "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax\n0001,x,/m/0bt9lr,1,0.1,0.5,0.2,0.6\n"


def test_build_classes_csv_without_name_column(cli, check_user_error, out):
    # was: the header and every CSV row became a class ("name,category", "dog,Animal", ...)
    (out / "names.csv").write_text("name,category\ndog,Animal\ncat,Animal\n")
    res = cli("build-classes", "--from-list", out / "names.csv", "-o", out / "cs.json")
    check_user_error(res, "--name-column", "name, category")
    assert not (out / "cs.json").exists()
    res = cli("build-classes", "--from-list", out / "names.csv", "--name-column", "name", "-o", out / "cs.json",
              "--json")
    assert res.exit_code == 0, res.stderr
    assert [c["name"] for c in json.loads((out / "cs.json").read_text())["classes"]] == ["dog", "cat"]


def test_select_audio_binary_empty_and_unmatched(qa, cli, check_user_error, out):
    # binary: was an internal UnicodeDecodeError; empty: was an empty manifest and exit 0
    res = cli("select-audio", qa.binary, "-c", qa.tones, "-o", out / "a.csv")
    check_user_error(res, "is not a text file")
    res = cli("select-audio", qa.empty, "-c", qa.tones, "-o", out / "a.csv")
    check_user_error(res, "no segments in")
    (out / "seg.csv").write_text(AUDIO_SEGMENTS)
    res = cli("select-audio", out / "seg.csv", "-c", qa.tones, "-o", out / "a.csv")
    check_user_error(res, "none of the 1 segments has a class of the class set")
    assert not (out / "a.csv").exists()


def test_select_images_binary_and_unmatched(qa, cli, check_user_error, out):
    res = cli("select-images", qa.binary, "-c", qa.tones, "-o", out / "i.csv")
    check_user_error(res, "is not a text file")
    (out / "boxes.csv").write_text(BOXES)
    res = cli("select-images", out / "boxes.csv", "-c", qa.tones, "-o", out / "i.csv")
    check_user_error(res, "none of the 1 boxes has a class of the class set")
    assert not (out / "i.csv").exists()


def test_split_class_set_of_the_wrong_kind(qa, cli, check_user_error, out):
    res = cli("split", qa.syn.audio, "-p", "random", "-o", out / "s.json")
    check_user_error(res, "is an HDF5 file", "not a class set")
    res = cli("split", qa.npy, "-p", "random", "-o", out / "s.json")
    check_user_error(res, "numpy array file")


def test_split_binary_membership_file(qa, cli, check_user_error, out):
    # was: internal UnicodeDecodeError
    (out / "members.csv").write_bytes(bytes(range(256)))
    res = cli("split", qa.tones, "-p", "within", "--category", "A", "--membership", out / "members.csv",
              "-o", out / "s.json")
    check_user_error(res, "is not a text file")


def test_split_gzsl_instances_of_the_wrong_kind(qa, cli, check_user_error, out):
    (out / "seen.txt").write_text("low\nhigh\n")
    base = ["split", qa.tones, "-p", "gzsl", "--seen", out / "seen.txt", "-o", out / "s.json"]
    # a class-level file: was "classes have no instances"
    check_user_error(cli(*base, "--instances", qa.syn.text), "class-level", "instance-level file is needed")
    # an instance file of another class set: was "classes have no instances"
    check_user_error(cli(*base, "--instances", qa.syn.audio), "was built from class set")


def test_split_option_ranges_are_usage_errors(qa, cli, out):
    for opts in (["-p", "random", "--trials", "0"], ["-p", "folds", "--folds", "1"],
                 ["-p", "folds", "--val-folds", "-1"]):
        res = cli("split", qa.tones, *opts, "-o", out / "s.json")
        assert res.exit_code == 2, (opts, res.stderr)


def test_malformed_split_files(qa, cli, check_user_error, out):
    # was: "train": "a" became ["a"] silently; "val": 1 was an internal TypeError
    bad = {"format": "zsl.split", "format_version": 1, "trials": [{"train": "c00", "val": 1, "test": None}]}
    (out / "bad.json").write_text(json.dumps(bad))
    res = cli("train", "--audio", qa.syn.audio, "--split", out / "bad.json", "--text", qa.syn.text,
              "-o", out / "m.pt")
    check_user_error(res, "trial 0", "'train' must be a list of ids")
    (out / "bad2.json").write_text(json.dumps({**bad, "trials": [3]}))
    res = cli("train", "--audio", qa.syn.audio, "--split", out / "bad2.json", "--text", qa.syn.text,
              "-o", out / "m.pt")
    check_user_error(res, "a trial must be a JSON object")


def test_files_starting_with_a_utf8_bom(qa, cli, out):
    # was: "is not valid JSON (line 1: Unexpected UTF-8 BOM)", a manifest "missing column(s) id", a segment
    # CSV whose "# header" line became a data row; Windows tools (Excel, Notepad) write the BOM
    from zsltool.classes.manifest import read_clip_manifest, read_manifest_header
    from zsltool.classes.ontology import load_ontology
    from zsltool.classes.select import read_segments
    from zsltool.files.formats import load_json

    bom = "\ufeff"
    (out / "cs.json").write_text(bom + qa.tones.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_json(out / "cs.json")["name"] == "tones"
    res = cli("split", out / "cs.json", "-p", "random", "--trials", "1", "-o", out / "s.json")
    assert res.exit_code == 0, res.stderr
    (out / "onto.json").write_text(bom + json.dumps([{"id": "/m/a", "name": "A", "child_ids": []}]), encoding="utf-8")
    assert load_ontology(out / "onto.json").name("/m/a") == "A"
    (out / "clips.csv").write_text(bom + "# source: x\n" + qa.clips.read_text(), encoding="utf-8")
    assert [r["id"] for r in read_clip_manifest(out / "clips.csv")] == ["c0", "c1", "c2"]
    assert read_manifest_header(out / "clips.csv") == {"source": "x"}
    (out / "seg.csv").write_text(bom + AUDIO_SEGMENTS, encoding="utf-8")
    assert [s["ytid"] for s in read_segments([out / "seg.csv"])] == ["--PJHxphWEs"]


def test_split_two_folds_on_the_default_val_folds(qa, cli, check_user_error, out):
    # was: "--val-folds must be between 0 and 0 with 2 folds, got 1" although --val-folds was not given
    res = cli("split", qa.tones, "-p", "folds", "--folds", "2", "-o", out / "f.json", "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["params"]["val_folds"] == 0
    assert [(t["train"], t["val"], t["test"]) for t in res.json()["trials"]] == [(2, 0, 2), (2, 0, 2)]
    res = cli("split", qa.tones, "-p", "folds", "--folds", "3", "-o", out / "g.json", "--json")
    assert res.json()["params"]["val_folds"] == 1
    check_user_error(cli("split", qa.tones, "-p", "folds", "--folds", "2", "--val-folds", "1", "-o", out / "h.json"),
                     "--val-folds must be between 0 and 0 with 2 folds, got 1")


def test_split_gzsl_unseen_class_without_instances(qa, cli, check_user_error, out):
    # was: accepted; "x" then had no test instances and its unseen accuracy was never measured
    (out / "clips.csv").write_text("id,path,labels,start,end\n" + "".join(
        f"{c}{i},a.wav,{c},,\n" for c in ("low", "high", "other") for i in range(3)))
    (out / "unseen.txt").write_text("other\nx\n")
    res = cli("split", qa.tones, "-p", "gzsl", "--instances", out / "clips.csv", "--unseen", out / "unseen.txt",
              "-o", out / "g.json")
    check_user_error(res, "1 unseen class(es) have no instances in", ": x")
    assert not (out / "g.json").exists()
    (out / "clips.csv").write_text((out / "clips.csv").read_text() + "x0,a.wav,x,,\n")
    res = cli("split", qa.tones, "-p", "gzsl", "--instances", out / "clips.csv", "--unseen", out / "unseen.txt",
              "-o", out / "g.json", "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["params"]["n_test_unseen"] == [4]
