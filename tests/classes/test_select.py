import pytest

from zsltool.classes.build import build_audioset_openimages
from zsltool.classes.manifest import read_clip_manifest, read_crop_manifest, read_manifest_header
from zsltool.classes.select import read_segments, select_audio, select_images
from zsltool.errors import ZslError

SEGMENTS = '''# Segments csv created Sun Mar  5 10:54:31 2017
# num_ytids=8, num_segs=8, num_unique_labels=6, num_positive_labels=12
# YTID, start_seconds, end_seconds, positive_labels
dog1, 30.000, 40.000, "/m/dog"
dog2, 0.000, 10.000, "/m/dog,/m/speech"
dog3, 10.500, 20.500, "/m/dog"
owl1, 20.000, 30.000, "/m/owl"
both, 0.000, 10.000, "/m/bird,/m/owl"
mix1, 5.000, 15.000, "/m/dog,/m/owl,/m/door"
tire, 60.000, 70.000, "/m/tire"
none, 0.000, 10.000, "/m/speech"
'''


@pytest.fixture
def cs_path(tiny, tmp_path):
    cs = build_audioset_openimages(tiny["ontology"], tiny["image"], tiny["audio"])
    return cs.save(tmp_path / "cs.json")


def test_read_segments_quoted_multilabel(tmp_path):
    p = tmp_path / "seg.csv"
    p.write_text(SEGMENTS)
    segs = read_segments([p])
    assert len(segs) == 8 and segs[0] == {"ytid": "dog1", "start": 30.0, "end": 40.0, "labels": ["/m/dog"]}
    assert segs[5]["labels"] == ["/m/dog", "/m/owl", "/m/door"]
    p.write_text("x, 1.0\n")
    with pytest.raises(ZslError, match="expected YTID"):
        read_segments([p])


def test_select_audio_maps_merged_mids_and_caps(tmp_path, cs_path):
    seg = tmp_path / "seg.csv"
    seg.write_text(SEGMENTS)
    out = tmp_path / "clips.csv"
    r = select_audio([seg], cs_path, out, per_class=300, path_template="/audio/{ytid}_{start_int}.wav",
                     trimmed=False)
    rows = {x["id"]: x for x in read_clip_manifest(out)}
    assert r["segments"] == 8 and r["no_class"] == 1 and r["selected"] == 7
    assert rows["owl1_20000"]["labels"] == ["/m/bird"]           # merged child MID -> parent
    assert rows["both_0"]["labels"] == ["/m/bird"]               # parent + child count once
    assert rows["tire_60000"]["labels"] == ["/m/v"]              # Tire -> Car -> Vehicle (kept top-most)
    assert rows["mix1_5000"]["labels"] == ["/m/dog", "/m/bird", "/m/door"]
    assert rows["dog3_10500"]["path"] == "/audio/dog3_10.wav" and rows["dog3_10500"]["start"] == 10.5
    assert r["counts"]["Dog"] == 4 and r["counts"]["Bird"] == 3 and "Cat" in r["empty_classes"]
    assert read_manifest_header(out)["class_set_sha256"] == r["class_set_sha256"]

    single = select_audio([seg], cs_path, tmp_path / "single.csv", single_label=True)
    assert single["multi_class_dropped"] == 1 and single["selected"] == 6
    assert read_clip_manifest(tmp_path / "single.csv")[0]["start"] is None  # trimmed files: whole file

    capped = [select_audio([seg], cs_path, tmp_path / f"cap{i}.csv", per_class=2, seed=s)
              for i, s in enumerate((0, 0, 1, 2, 3, 4))]
    for c in capped:
        assert max(c["counts"].values()) <= 2 and c["counts"]["Vehicle"] == 1
    a, b = (read_clip_manifest(tmp_path / f"cap{i}.csv") for i in (0, 1))
    assert a == b  # same seed, same selection
    picks = {tuple(x["id"] for x in read_clip_manifest(tmp_path / f"cap{i}.csv")) for i in range(6)}
    assert len(picks) > 1  # different seeds pick different clips
    with pytest.raises(ZslError, match="unknown field"):
        select_audio([seg], cs_path, tmp_path / "x.csv", path_template="{video}.wav")
    with pytest.raises(ZslError, match="exists"):
        select_audio([seg], cs_path, out)


BOXES = """ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside
img1,xclick,/m/dog,1,0.1,0.5,0.2,0.6,0,0,0,0,0
img1,xclick,/m/apple,1,0.0,1.0,0.0,1.0,0,0,0,0,0
img1,xclick,/m/hammer,1,0.2,0.3,0.4,0.5,1,0,0,0,0
img2,activemil,/m/dog,1,0.0,0.25,0.0,0.75,0,0,1,0,0
img3,xclick,/m/dog,1,0.3,0.9,0.1,0.9,0,0,0,1,0
img4,xclick,/m/drill,1,0.5,0.6,0.5,0.6,0,0,0,0,0
"""


def test_select_images_filters_merges_and_caps(tmp_path, cs_path):
    ann = tmp_path / "boxes.csv"
    ann.write_text(BOXES)
    out = tmp_path / "crops.csv"
    r = select_images([ann], cs_path, out, path_template="/oi/{source}/{image_id}.jpg")
    rows = {x["id"]: x for x in read_crop_manifest(out)}
    assert r["boxes"] == 6 and r["selected"] == 5
    assert rows["img1_2"]["class"] == "/m/tools" and rows["img1_2"]["source_label"] == "/m/hammer"
    assert rows["img1_0"]["xmax"] == 0.5 and rows["img1_0"]["ymin"] == 0.2
    assert rows["img2_0"]["is_group_of"] is True and rows["img2_0"]["path"] == "/oi/activemil/img2.jpg"
    f = select_images([ann], cs_path, tmp_path / "f.csv", drop_group_of=True, drop_depiction=True)
    assert f["filtered"] == 2 and f["counts"]["Dog"] == 1
    c1 = select_images([ann], cs_path, tmp_path / "c1.csv", per_class=1, seed=5)
    assert c1["counts"]["Dog"] == 1 and c1["counts"]["Tools"] == 1
    select_images([ann], cs_path, tmp_path / "c2.csv", per_class=1, seed=5)
    assert read_crop_manifest(tmp_path / "c1.csv") == read_crop_manifest(tmp_path / "c2.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("ImageID,LabelName\nx,/m/dog\n")
    with pytest.raises(ZslError, match="missing XMin"):
        select_images([bad], cs_path, tmp_path / "b.csv")
