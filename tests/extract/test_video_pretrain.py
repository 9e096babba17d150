"""pretrain-video: a small 3-D CNN trained from scratch on the seen classes' training videos only; extract-video
loads it."""

import json

import numpy as np
import pytest
import torch

from zsltool.classes.classset import ClassSet
from zsltool.classes.manifest import write_clip_manifest
from zsltool.classes.splits import Split, Trial
from zsltool.errors import ZslError
from zsltool.extract.pipeline import extract_video
from zsltool.extract.video import Small3D, build_video_model
from zsltool.extract.video_pretrain import pretrain_video
from zsltool.store import read_embeddings
from zsltool.testing.video import write_mp4

S, T = 16, 8
# red: a bright square moving right; blue: a dark square moving down; green (seen, held-out instances only)
COLOURS = {"/m/red": (220, 30, 30), "/m/blue": (30, 30, 220), "/m/green": (30, 200, 30), "/m/grey": (128,) * 3}


def _frames(rgb, rng):
    f = np.clip(np.array(rgb) + rng.normal(0, 8, (T, S, S, 3)), 0, 255).astype(np.uint8)
    for t in range(T):
        f[t, 2 + t // 2:6 + t // 2, 2:6] = 255
    return f


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("vpre")
    rng = np.random.default_rng(0)
    rows, inst = [], {"train": [], "val": [], "test_seen": []}
    for cid, rgb in COLOURS.items():
        for k in range(4):
            vid = f"{cid[3:]}{k}"
            path = d / f"{vid}.mp4"
            if cid == "/m/grey" or k == 3:
                # unseen-class videos and the seen classes' val / test videos do not exist: reading one fails
                path = d / "absent.mp4"
                if cid != "/m/grey":
                    inst["test_seen"].append(vid)
            else:
                write_mp4(path, _frames(rgb, rng))
                inst["train" if cid != "/m/green" else "val"].append(vid)
            rows.append({"id": vid, "path": str(path), "labels": [cid], "start": None, "end": None})
    write_clip_manifest(d / "videos.csv", rows)
    cs = ClassSet(classes=[{"id": c, "name": c[3:].title()} for c in COLOURS])
    cs.save(d / "classes.json")
    seen = ["/m/red", "/m/blue", "/m/green"]
    Split(trials=[Trial(train=seen, val=seen, test=seen + ["/m/grey"], seen=seen, unseen=["/m/grey"],
                        instances=inst)], protocol="gzsl", class_set_sha256=cs.sha256).save(d / "gzsl.json")
    kw = dict(classes_path=d / "classes.json", split_path=d / "gzsl.json", model="small3d", frame_size=S, clip_len=T,
              epochs=15, batch_size=3, lr=3e-3, seed=3, progress=False)
    res = pretrain_video([d / "videos.csv"], d / "net.pth", **kw)
    return d, kw, res


def test_trains_on_the_seen_classes_training_videos_only(setup):
    d, _, res = setup
    # 6 training videos (red, blue x 3); green's videos are val instances, grey is unseen: never opened
    assert (res["videos"], res["classes"], res["other_videos"]) == (6, 3, 10)
    assert res["final_train_top1"] == 1.0
    side = json.loads((d / "net.pth.json").read_text())
    assert side["format"] == "zsl.video_pretrain" and side["train_classes"] == ["/m/red", "/m/blue", "/m/green"]
    assert side["train_videos"] == ["blue0", "blue1", "blue2", "red0", "red1", "red2"]
    assert side["instances"] == "instances.train of the trial" and len(side["history"]) == 15
    sd = torch.load(d / "net.pth", weights_only=True)
    assert tuple(sd["fc.weight"].shape) == (3, 64)  # the 3-way head of the seen classes


def test_same_seed_same_weights(setup, tmp_path):
    d, kw, _ = setup
    pretrain_video([d / "videos.csv"], tmp_path / "a.pth", **{**kw, "epochs": 2})
    pretrain_video([d / "videos.csv"], tmp_path / "b.pth", **{**kw, "epochs": 2})
    a, b = (torch.load(tmp_path / f"{n}.pth", weights_only=True) for n in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_extract_video_loads_the_weights_and_separates_the_classes(setup, tmp_path):
    d, _, _ = setup
    model, _, info = build_video_model("small3d", str(d / "net.pth"))
    assert isinstance(model, Small3D) and model.fc.out_features == 3 and info["weights_sha256"]
    ok = d / "ok.csv"
    rows = [{"id": p.stem, "path": str(p), "labels": [f"/m/{p.stem[:-1]}"], "start": None, "end": None}
            for p in sorted(d.glob("*.mp4"))]
    write_clip_manifest(ok, rows)
    res = extract_video([ok], tmp_path / "v.h5", model="small3d", weights=str(d / "net.pth"), crop_size=S,
                        clip_len=T, clips=1, classes=d / "classes.json", device="cpu", progress=False)
    assert (res["dim"], res["written"]) == (64, 9)  # red, blue, green x 3
    e = read_embeddings(tmp_path / "v.h5")
    assert e.meta.extractor_meta["resize"] == [S, S] and e.meta.extractor_meta["crop"] == [S, S]
    keep = [k for k, i in enumerate(e.ids) if not i.startswith("green")]  # the two trained-on classes
    lab = e.labels.argmax(1)[keep]
    x = e.X[keep] / np.linalg.norm(e.X[keep], axis=1, keepdims=True)
    sim = x @ x.T
    same = sim[lab[:, None] == lab[None, :]].mean()
    other = sim[lab[:, None] != lab[None, :]].mean()
    assert same > other  # the classes the network was trained on sit apart in its embedding space


def test_user_errors(setup, tmp_path):
    d, kw, _ = setup
    with pytest.raises(ZslError, match="not a clip manifest"):
        pretrain_video([d / "red0.mp4"], tmp_path / "x.pth", **kw)
    with pytest.raises(ZslError, match="pretrain-video trains small3d"):
        pretrain_video([d / "videos.csv"], tmp_path / "x.pth", **{**kw, "model": "s3d"})
    with pytest.raises(ZslError, match="already exists"):
        pretrain_video([d / "videos.csv"], d / "net.pth", **kw)
    with pytest.raises(ZslError, match="no pretrained weights"):
        build_video_model("small3d", "KINETICS400_V1")


def test_cli(setup, cli, tmp_path):
    d, _, _ = setup
    res = cli("--seed", "3", "pretrain-video", d / "videos.csv", "--classes", d / "classes.json", "--split",
              d / "gzsl.json", "--frame-size", S, "--clip-len", T, "--epochs", 1, "--batch-size", 3,
              "--out", tmp_path / "n.pth", "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["videos"] == 6 and (tmp_path / "n.pth.json").exists()
    res = cli("pretrain-video", d / "videos.csv", "--classes", d / "classes.json", "--split", d / "gzsl.json",
              "--out", tmp_path / "n.pth")
    assert res.exit_code == 1 and "Error:" in res.stderr


def test_instances_rule_is_the_one_of_training_classes(setup, tmp_path):
    d, kw, _ = setup
    # a GZSL trial without instances.train: refused (was: every seen-class video, the unreadable test-seen
    # ones included)
    seen = ["/m/red", "/m/blue", "/m/green"]
    Split(trials=[Trial(train=seen, val=seen, test=seen + ["/m/grey"], seen=seen, unseen=["/m/grey"])],
          protocol="gzsl").save(tmp_path / "g.json")
    with pytest.raises(ZslError, match="lists no training instances"):
        pretrain_video([d / "videos.csv"], tmp_path / "x.pth", **{**kw, "split_path": tmp_path / "g.json"})
    # a ZSL trial: every video of its training classes, whatever instances it lists (was: only those)
    Split(trials=[Trial(train=["/m/red", "/m/blue"], val=["/m/green"], test=["/m/grey"],
                        instances={"train": ["red0"]})], protocol="custom").save(tmp_path / "z.json")
    rows = [{"id": p.stem, "path": str(p), "labels": [f"/m/{p.stem[:-1]}"], "start": None, "end": None}
            for p in sorted(d.glob("*.mp4"))]
    write_clip_manifest(tmp_path / "ok.csv", rows)
    res = pretrain_video([tmp_path / "ok.csv"], tmp_path / "z.pth",
                         **{**kw, "split_path": tmp_path / "z.json", "epochs": 1})
    assert res["videos"] == 6
