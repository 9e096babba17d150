import json
import urllib.error

import pytest

from zsltool.classes.build import build_audioset_openimages, build_from_list
from zsltool.classes.classset import ClassSet
from zsltool.classes.download import official_file
from zsltool.classes.presets import PAPER_TABLE_I, PAPER_TABLE_II, paper_class_names
from zsltool.errors import ZslError


def test_real_files_79_mutual_69_after_pruning(shared_data, tmp_path):
    d = shared_data
    cs = build_audioset_openimages(d / "audioset_ontology.json", d / "class-descriptions-boxable.csv",
                                   d / "audioset_class_labels_indices.csv")
    counts = cs.report["counts"]
    assert counts["mutual"] == 79 and counts["dropped"] == 3 and counts["merged"] == 7 and counts["final"] == 69
    assert len(cs) == 69
    dropped = {x["name"]: x["mutual_descendants"] for x in cs.report["dropped"]}
    assert dropped == {"Animal": 17, "Musical instrument": 18, "Vehicle": 13}
    merged = {x["into_name"]: sorted(x["names"]) for x in cs.report["merged"]}
    assert merged == {"Bird": ["Owl"], "Insect": ["Bee, wasp, etc."], "Car": ["Tire squeal"],
                      "Aircraft": ["Fixed-wing aircraft, airplane", "Helicopter"], "Tools": ["Drill", "Hammer"]}
    assert cs.get("/m/0k5j")["merged_ids"] == ["/m/09ct_", "/m/0cmf2"]
    assert cs.mid_to_class["/m/01d380"] == "/m/07k1x"  # Drill counts as Tools
    ids = set(cs.ids)
    assert not ids & {"/m/0jbk", "/m/04szw", "/m/07yv9", "/m/09d5_", "/m/01h3n", "/m/0h9mv", "/m/09ct_", "/m/0cmf2",
                      "/m/03l9g", "/m/01d380"}
    cats = {}
    for c in cs.classes:
        cats[c["category"]] = cats.get(c["category"], 0) + 1
    assert cats == {"Animal": 15, "Musical instrument": 18, "Vehicle": 10, None: 26}
    amb = cs.get("/m/012n7d")
    assert amb["path"][:2] == ["Sounds of things", "Vehicle"] and amb["path"][-1] == "Ambulance (siren)"
    assert amb["openimages_name"] == "Ambulance" and amb["audioset_name"] == "Ambulance (siren)"
    # every name of the paper's Tables I and II is among the 69 (by name for all but hand/bike)
    table = paper_class_names()
    assert len(table) == 69 == len(set(table))
    for cat, names in PAPER_TABLE_II.items():
        assert set(names) <= set(table)
    lower = {n.lower() for n in cs.names}
    assert set(table) - lower == {"hand", "bike"}
    assert cs.resolve("Human hand") == "/m/0k65p" and cs.resolve("Bicycle") == "/m/0199g"
    paper = build_audioset_openimages(d / "audioset_ontology.json", d / "class-descriptions-boxable.csv",
                                      d / "audioset_class_labels_indices.csv", names="paper")
    assert set(paper.names) == set(table)
    assert {c["name"] for c in paper.classes if c["category"] == "Vehicle"} == set(PAPER_TABLE_II["Vehicle"])
    assert {c["name"] for c in paper.classes if c["category"] == "Animal"} == set(PAPER_TABLE_II["Animal"]) | {"insect"}
    assert paper.get("bike")["id"] == "/m/0199g" and "tool" in PAPER_TABLE_I["train"]
    # without the labelled-class restriction the ontology offers 82 mutual MIDs
    loose = build_audioset_openimages(d / "audioset_ontology.json", d / "class-descriptions-boxable.csv")
    assert loose.report["counts"]["mutual"] == 82


def test_pruning_on_tiny_ontology(tiny):
    cs = build_audioset_openimages(tiny["ontology"], tiny["image"], tiny["audio"])
    assert cs.report["counts"] == {"ontology_classes": 13, "audio_classes": 13, "image_classes": 13, "mutual": 12,
                                   "dropped": 1, "merged": 5, "final": 6}
    assert cs.ids == ["/m/dog", "/m/cat", "/m/bird", "/m/v", "/m/tools", "/m/door"]
    assert cs.get("/m/v")["merged_ids"] == ["/m/car", "/m/tire"]  # the top-most kept ancestor absorbs all
    assert cs.get("/m/bird")["category"] == "Animal" and cs.get("/m/door")["category"] is None
    assert cs.get("/m/v")["openimages_name"] == "Vehicle"
    cs1 = build_audioset_openimages(tiny["ontology"], tiny["image"], tiny["audio"], max_children=1)
    assert [x["name"] for x in cs1.report["dropped"]] == ["Animal", "Vehicle", "Tools"]
    assert sorted(cs1.ids) == sorted(["/m/dog", "/m/cat", "/m/bird", "/m/car", "/m/hammer", "/m/drill", "/m/door"])
    assert cs1.get("/m/car")["merged_ids"] == ["/m/tire"] and cs1.get("/m/car")["category"] == "Vehicle"
    cs0 = build_audioset_openimages(tiny["ontology"], tiny["image"], tiny["audio"], max_children=0)
    assert sorted(cs0.ids) == sorted(["/m/dog", "/m/cat", "/m/owl", "/m/tire", "/m/hammer", "/m/drill", "/m/door"])
    assert cs0.get("/m/tire")["category"] == "Vehicle" and cs0.get("/m/tire")["name"] == "Tire"


def test_bad_inputs(tiny, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "x"}))
    with pytest.raises(ZslError, match="not an AudioSet ontology"):
        build_audioset_openimages(bad, tiny["image"])
    with pytest.raises(ZslError, match="header must be"):
        build_audioset_openimages(tiny["ontology"], tiny["image"], tiny["image"])
    with pytest.raises(ZslError, match="no MID in common"):
        other = tmp_path / "oi.csv"
        other.write_text("/m/zzz,Zebra\n")
        build_audioset_openimages(tiny["ontology"], other)


def test_list_sources_audiosetzsl_and_esc50(shared_data, tmp_path):
    z = shared_data / "audiosetzsl"
    cs = build_from_list(z / "all_class.txt", seen=z / "seen_class.txt", unseen=z / "unseen_class.txt")
    assert len(cs) == 33 and cs.ids[:3] == ["dog", "cat", "horse"] and cs.ids == cs.names
    assert sum(c.get("zsl_split") == "seen" for c in cs.classes) == 23
    assert [c["id"] for c in cs.classes if c.get("zsl_split") == "unseen"][:3] == ["pig", "panther", "stream"]
    summ = build_from_list(z / "class_summary.csv", name_column="class", mid_column="mids_in_all_clips",
                           split_column="split")
    assert summ.mid_to_class["/m/0cdnk"] == "panther" and summ.get("church-bell")["zsl_split"] == "unseen"
    esc = build_from_list(shared_data / "esc50.csv", name_column="category")
    assert len(esc) == 50 and esc.ids[0] == "dog" and "chirping_birds" in esc.ids
    with pytest.raises(ZslError, match="no column"):
        build_from_list(shared_data / "esc50.csv", name_column="label")
    extra = tmp_path / "unseen.txt"
    extra.write_text("'pig',\n'unicorn',\n")
    with pytest.raises(ZslError, match="unicorn"):
        build_from_list(z / "all_class.txt", unseen=extra)


def test_download_cache_offline_and_checksum(tmp_path, monkeypatch, tiny):
    monkeypatch.setenv("ZSL_CACHE", str(tmp_path / "cache"))

    def offline(url):
        raise urllib.error.URLError("no network")

    with pytest.raises(ZslError) as e:
        build_audioset_openimages(None, tiny["image"], fetch=offline)
    assert "--ontology" in e.value.hint and "ontology.json" in str(e.value)
    with pytest.raises(ZslError, match="sha256"):
        official_file("ontology", fetch=lambda url: b"[]")
    body = tiny["audio"].read_bytes()
    p = official_file("audio-classes", fetch=lambda url: body)  # not pinned: stored as downloaded
    assert p.read_bytes() == body and p.parent == tmp_path / "cache" / "classes"
    assert official_file("audio-classes", fetch=offline) == p  # cached: no second download


def test_classset_roundtrip_keeps_hash(tiny, tmp_path):
    cs = build_audioset_openimages(tiny["ontology"], tiny["image"], tiny["audio"])
    p = cs.save(tmp_path / "cs.json")
    back = ClassSet.load(p)
    assert back.sha256 == cs.sha256 and back.report["counts"]["final"] == 6
    assert [i["path"] for i in json.loads(p.read_text())["inputs"]] == [str(tiny[k]) for k in
                                                                       ("ontology", "image", "audio")]
