import pytest

from zsltool.classes.manifest import (read_clip_manifest, read_crop_manifest, write_clip_manifest,
                                      write_crop_manifest)
from zsltool.errors import ZslError


def test_clip_manifest_roundtrip(tmp_path):
    p = tmp_path / "clips.csv"
    rows = [{"id": "a_30000", "path": "/x/a, b.wav", "labels": ["/m/1", "/m/2"], "start": 30.0, "end": 40.0},
            {"id": "b", "path": "b.wav", "labels": ["/m/3"], "start": None, "end": None}]
    write_clip_manifest(p, rows)
    got = read_clip_manifest(p)
    assert [r["id"] for r in got] == ["a_30000", "b"]
    assert got[0]["labels"] == ["/m/1", "/m/2"] and got[0]["path"] == "/x/a, b.wav"
    assert got[0]["start"] == 30.0 and got[0]["end"] == 40.0
    assert got[1]["start"] is None and got[1]["labels"] == ["/m/3"]


def test_clip_manifest_errors(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("id,path,labels\na,b,c\n")
    with pytest.raises(ZslError, match="missing column"):
        read_clip_manifest(p)
    p.write_text("id,path,labels,start,end\na,x,/m/1,0,1\na,y,/m/1,0,1\n")
    with pytest.raises(ZslError, match="duplicate"):
        read_clip_manifest(p)
    p.write_text("id,path,labels,start,end\na,x,/m/1,zero,1\n")
    with pytest.raises(ZslError, match="not a number"):
        read_clip_manifest(p)
    with pytest.raises(ZslError, match="not found"):
        read_clip_manifest(tmp_path / "nope.csv")


def test_crop_manifest_roundtrip(tmp_path):
    p = tmp_path / "crops.csv"
    write_crop_manifest(p, [{"id": "img1_2", "image_id": "img1", "path": "/i/img1.jpg", "class": "/m/01yrx",
                             "xmin": 0.1, "xmax": 0.5, "ymin": 0.25, "ymax": 0.75, "is_group_of": False,
                             "is_depiction": True, "source_label": "/m/01yrx"}])
    got = read_crop_manifest(p)
    assert got[0]["class"] == "/m/01yrx" and got[0]["xmax"] == 0.5 and got[0]["ymin"] == 0.25
    assert got[0]["is_depiction"] is True and got[0]["is_group_of"] is False
