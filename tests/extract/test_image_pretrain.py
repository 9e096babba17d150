"""pretrain-image: a small CNN trained from scratch on the training classes' crops only; extract-image loads it."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from zsltool.classes.classset import ClassSet
from zsltool.classes.manifest import write_crop_manifest
from zsltool.classes.splits import Split, Trial
from zsltool.errors import ZslError
from zsltool.extract.image import SmallCNN, build_image_model
from zsltool.extract.pipeline import extract_image
from zsltool.extract.image_pretrain import pretrain_image
from zsltool.store import read_embeddings

COLOURS = {"/m/red": (220, 30, 30), "/m/blue": (30, 30, 220), "/m/green": (30, 200, 30), "/m/grey": (128,) * 3}
S = 16


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("ipre")
    rng = np.random.default_rng(0)
    rows = []
    for cid, rgb in COLOURS.items():
        for k in range(4):
            name = f"{cid[3:]}{k}"
            if cid == "/m/grey":  # a test class: its files do not exist, so reading one would fail
                rows.append(dict(id=name, image_id=name, path=str(d / "absent.png"), **{"class": cid}, xmin=0.0,
                                 xmax=1.0, ymin=0.0, ymax=1.0))
                continue
            arr = np.clip(np.array(rgb) + rng.normal(0, 10, (S, S, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(d / f"{name}.png")
            rows.append(dict(id=name, image_id=name, path=str(d / f"{name}.png"), **{"class": cid}, xmin=0.0,
                             xmax=1.0, ymin=0.0, ymax=1.0))
    write_crop_manifest(d / "crops.csv", rows)
    cs = ClassSet(classes=[{"id": c, "name": c[3:].title()} for c in COLOURS])
    cs.save(d / "classes.json")
    Split(trials=[Trial(train=["/m/red", "/m/blue"], val=["/m/green"], test=["/m/grey"])], protocol="custom",
          class_set_sha256=cs.sha256).save(d / "split.json")
    kw = dict(classes_path=d / "classes.json", split_path=d / "split.json", model="smallcnn", image_size=S,
              epochs=25, batch_size=4, lr=3e-3, seed=3, progress=False)
    res = pretrain_image([d / "crops.csv"], d / "net.pth", **kw)
    return d, kw, res


def test_trains_on_training_classes_only(setup):
    d, _, res = setup
    assert (res["crops"], res["classes"], res["other_class_crops"]) == (8, 2, 8)
    assert res["final_train_top1"] == 1.0
    side = json.loads((d / "net.pth.json").read_text())
    assert side["format"] == "zsl.image_pretrain" and side["train_classes"] == ["/m/red", "/m/blue"]
    assert side["model"] == "smallcnn" and side["image_size"] == S and len(side["history"]) == 25
    sd = torch.load(d / "net.pth", weights_only=True)
    assert tuple(sd["fc.weight"].shape) == (2, 128)  # the 2-way head of the training classes


def test_same_seed_same_weights(setup, tmp_path):
    d, kw, _ = setup
    pretrain_image([d / "crops.csv"], tmp_path / "again.pth", **kw)
    a, b = torch.load(d / "net.pth", weights_only=True), torch.load(tmp_path / "again.pth", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_extract_image_loads_the_weights(setup, tmp_path):
    d, _, _ = setup
    out = tmp_path / "img.h5"
    extract_image([d / "crops.csv"], out, model="smallcnn", weights=str(d / "net.pth"), layer="logits",
                  classes=d / "classes.json", image_size=S, device="cpu", progress=False)
    e = read_embeddings(out)
    assert e.dim == 2 and int(e.valid.sum()) == 12  # the 4 grey crops have no file
    red, blue = e.X[:4], e.X[4:8]
    assert (red.argmax(1) == 0).all() and (blue.argmax(1) == 1).all()
    net = SmallCNN(2)
    net.load_state_dict(torch.load(d / "net.pth", weights_only=True))
    x = torch.from_numpy(np.array(Image.open(d / "red0.png").convert("RGB"))).permute(2, 0, 1).float() / 255
    x = (x - torch.tensor([0.485, 0.456, 0.406])[:, None, None]) / torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    with torch.no_grad():
        ref = net.eval()(x[None])[0].numpy()  # 16 x 16 already: resizing to 16 is the identity
    np.testing.assert_allclose(e.X[0], ref, rtol=1e-4, atol=1e-5)
    pen = tmp_path / "pen.h5"
    extract_image([d / "crops.csv"], pen, model="smallcnn", weights=str(d / "net.pth"), layer="penultimate",
                  classes=d / "classes.json", image_size=S, device="cpu", progress=False)
    assert read_embeddings(pen).dim == 128


def test_smallcnn_has_no_download_and_errors(setup, tmp_path):
    d, kw, _ = setup
    with pytest.raises(ZslError, match="no pretrained weights"):
        build_image_model("smallcnn", "DEFAULT")
    with pytest.raises(ZslError, match="weights file not found"):
        build_image_model("smallcnn", str(tmp_path / "nope.pth"))
    with pytest.raises(ZslError, match="not a crop manifest"):
        pretrain_image([d / "red0.png"], tmp_path / "x.pth", **kw)
    with pytest.raises(ZslError, match="already exists"):
        pretrain_image([d / "crops.csv"], d / "net.pth", **kw)


def test_cli_pretrain_image(setup, tmp_path, cli):
    d, _, _ = setup
    out = tmp_path / "cli.pth"
    res = cli("--seed", "3", "pretrain-image", d / "crops.csv", "--classes", d / "classes.json", "--split",
              d / "split.json", "--model", "smallcnn", "--image-size", S, "--epochs", 2, "--batch-size", 4,
              "--out", out, "--json")
    assert res.exit_code == 0, res.stderr
    r = res.json()
    assert r["crops"] == 8 and r["model"] == "smallcnn" and out.exists()
    res = cli("pretrain-image", d / "crops.csv", "--classes", d / "classes.json", "--split", d / "split.json",
              "--out", out)
    assert res.exit_code == 1 and "Error:" in res.stderr and "--overwrite" in res.stderr
