import json
import subprocess
import sys

from tests.classes.conftest import write_tiny_ontology


def test_build_classes_split_select_chain(tmp_path, cli):
    t = write_tiny_ontology(tmp_path)
    cs = tmp_path / "cs.json"
    r = cli("build-classes", "--ontology", t["ontology"], "--image-classes", t["image"],
            "--audio-classes", t["audio"], "-o", cs, "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n_classes"] == 6 and out["counts"]["mutual"] == 12
    assert [m["into_name"] for m in out["merged"]] == ["Bird", "Vehicle", "Tools"]
    r = cli("build-classes", "--ontology", t["ontology"], "--image-classes", t["image"], "-o", cs)
    assert r.exit_code == 1 and "Error:" in r.stderr and "--overwrite" in r.stderr

    r = cli("split", cs, "--protocol", "random", "--sizes", "2,2,2", "--trials", "3", "--seed", "1",
            "-o", tmp_path / "s.json", "--json")
    assert r.exit_code == 0, r.stderr
    trials = json.loads(r.stdout)["trials"]
    assert [(x["train"], x["val"], x["test"]) for x in trials] == [(2, 2, 2)] * 3
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["format"] == "zsl.split" and saved["seed"] == 1 and len(saved["trials"]) == 3

    r = cli("split", cs, "--protocol", "within", "--category", "Plant", "-o", tmp_path / "w.json")
    assert r.exit_code == 1 and "Error: unknown category 'Plant'" in r.stderr
    r = cli("split", cs, "--protocol", "random", "--sizes", "3,3,3", "-o", tmp_path / "w.json")
    assert r.exit_code == 1 and "need 9 classes" in r.stderr
    r = cli("split", cs, "--protocol", "random", "--sizes", "a,b", "-o", tmp_path / "w.json")
    assert r.exit_code == 2
    r = cli("split", cs, "--protocol", "nope", "-o", tmp_path / "w.json")
    assert r.exit_code == 2

    seg = tmp_path / "seg.csv"
    seg.write_text('# YTID, start_seconds, end_seconds, positive_labels\n'
                   'a, 0.000, 10.000, "/m/owl,/m/dog"\nb, 0.000, 10.000, "/m/hammer"\n')
    r = cli("select-audio", seg, "-c", cs, "-o", tmp_path / "clips.csv", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["selected"] == 2

    r = cli("split", cs, "--protocol", "gzsl", "--instances", tmp_path / "clips.csv",
            "-o", tmp_path / "g.json", "--json")
    assert r.exit_code == 1 and "seen/unseen" in r.stderr


def test_real_build_classes_cli(tmp_path, cli, shared_data):
    d = shared_data
    cs = tmp_path / "cs.json"
    r = cli("build-classes", "--ontology", d / "audioset_ontology.json", "--image-classes",
            d / "class-descriptions-boxable.csv", "--audio-classes",
            d / "audioset_class_labels_indices.csv", "--names", "paper", "-o", cs)
    assert r.exit_code == 0, r.stderr
    assert "pruning decisions" in r.stdout and "Musical instrument" in r.stdout
    r = cli("split", cs, "-p", "across", "--categories", "Animal,Vehicle", "--membership", "paper",
            "-o", tmp_path / "a.json", "--json")
    assert r.exit_code == 0, r.stderr
    assert {(x["train"], x["val"], x["test"]) for x in json.loads(r.stdout)["trials"]} == {(8, 8, 2)}
    z = d / "audiosetzsl"
    r = cli("build-classes", "--from-list", z / "all_class.txt", "--seen", z / "seen_class.txt",
            "--unseen", z / "unseen_class.txt", "-o", tmp_path / "z.json", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["counts"] == {"listed": 33, "final": 33, "seen": 23, "unseen": 10}


def test_cli_modules_do_not_import_heavy_libraries():
    code = ("import sys, zsltool.cli.commands.classes, zsltool.cli.commands.select, zsltool.cli.commands.split;"
            "bad=[m for m in ('torch','torchaudio','torchvision','gensim','av','scipy','matplotlib') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
