"""extract-image: random resnet18 state dict, crops with clamped and degenerate boxes, each --layer."""

import json

import numpy as np
import pytest
import torch
import torchvision
import torchvision.transforms.functional as TF
from PIL import Image

from zsltool.classes.classset import ClassSet
from zsltool.classes.manifest import write_crop_manifest
from zsltool.errors import ZslError
from zsltool.extract.image import IMAGENET_MEAN, IMAGENET_STD, pixel_box
from zsltool.extract.pipeline import extract_image
from zsltool.extract.runner import InvalidInput
from zsltool.store import read_embeddings

W, H = 40, 30


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("img")
    rng = np.random.default_rng(0)
    arrays = {}
    for name in ("a", "b"):
        arr = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
        Image.fromarray(arr).save(d / f"{name}.png")
        arrays[name] = arr
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    torch.save(model.state_dict(), d / "r18.pt")
    cs = ClassSet(classes=[{"id": "/m/cat", "name": "Cat"}, {"id": "/m/dog", "name": "Dog"}])
    cs.save(d / "classes.json")
    rows = [
        dict(id="a_0", image_id="a", path=str(d / "a.png"), **{"class": "/m/cat"}, xmin=0.25, xmax=0.75, ymin=0.1,
             ymax=0.9),
        dict(id="b_1", image_id="b", path="b.png", **{"class": "Dog"}, xmin=-0.2, xmax=1.3, ymin=0.5, ymax=1.0),
        dict(id="a_2", image_id="a", path=str(d / "a.png"), **{"class": "/m/dog"}, xmin=0.5, xmax=0.5, ymin=0.0,
             ymax=1.0),
        dict(id="c_3", image_id="c", path=str(d / "missing.png"), **{"class": "/m/cat"}, xmin=0.0, xmax=1.0,
             ymin=0.0, ymax=1.0),
    ]
    write_crop_manifest(d / "crops.csv", rows)
    return d, arrays, model


def _reference(model, arrays, layer):
    # a: box 0.25..0.75 x 0.1..0.9 of 40x30 -> pixels x 10..30, y 3..27; b: clamped to x 0..40, y 15..30
    crops = [arrays["a"][3:27, 10:30], arrays["b"][15:30, 0:40]]
    xs = []
    for c in crops:
        t = torch.from_numpy(np.ascontiguousarray(c)).permute(2, 0, 1)
        t = TF.resize(t.float() / 255.0, [224, 224], antialias=True)
        t = (t - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
        xs.append(t)
    x = torch.stack(xs)
    with torch.no_grad():
        logits = model(x)
        if layer == "logits":
            return logits.numpy()
        if layer == "softmax":
            return torch.softmax(logits, -1).numpy()
        feats = torch.nn.Sequential(*list(model.children())[:-1])(x)
        return feats.flatten(1).numpy()


def test_pixel_box_clamps_and_rejects_degenerate():
    assert pixel_box((0.25, 0.75, 0.1, 0.9), 40, 30) == (10, 3, 30, 27)
    assert pixel_box((-0.2, 1.3, 0.5, 1.0), 40, 30) == (0, 15, 40, 30)
    with pytest.raises(InvalidInput, match="degenerate"):
        pixel_box((0.5, 0.5, 0.0, 1.0), 40, 30)
    with pytest.raises(InvalidInput, match="degenerate"):
        pixel_box((0.9, 0.2, 0.0, 1.0), 40, 30)  # xmax < xmin
    with pytest.raises(InvalidInput, match="degenerate"):
        pixel_box((1.2, 1.5, 0.0, 1.0), 40, 30)  # entirely outside after clamping


@pytest.mark.parametrize("layer,dim", [("logits", 1000), ("softmax", 1000), ("penultimate", 512)])
def test_extract_matches_direct_forward(setup, tmp_path, layer, dim):
    d, arrays, model = setup
    out = tmp_path / f"{layer}.h5"
    res = extract_image([d / "crops.csv"], out, model="resnet18", weights=str(d / "r18.pt"), layer=layer,
                        classes=d / "classes.json", batch_size=3, device="cpu", progress=False)
    assert res["written"] == 4 and res["valid"] == 2 and res["dim"] == dim
    emb = read_embeddings(out)
    assert emb.ids == ["a_0", "b_1", "a_2", "c_3"]
    assert emb.classes == ["/m/cat", "/m/dog"]
    assert emb.label_index().tolist() == [0, 1, 1, 0]  # "Dog" resolved through the class set
    assert emb.valid.tolist() == [True, True, False, False]
    assert "degenerate box" in emb.reasons[2] and "not found" in emb.reasons[3]
    ref = _reference(model, arrays, layer)
    np.testing.assert_allclose(emb.X[:2], ref, rtol=1e-4, atol=1e-5)
    assert np.all(emb.X[2:] == 0)
    if layer == "softmax":
        np.testing.assert_allclose(emb.X[:2].sum(1), 1.0, rtol=1e-5)
    m = emb.meta
    assert m.modality == "image" and m.extractor_meta["layer"] == layer
    assert m.class_set_sha256 == ClassSet.load(d / "classes.json").sha256
    assert any(r["path"].endswith("r18.pt") and len(r["sha256"]) == 64 for r in m.inputs)


def test_image_folder_ids_and_weights_transforms(setup, tmp_path):
    d, arrays, model = setup
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(arrays["a"]).save(folder / "x.png")
    Image.fromarray(arrays["b"]).save(folder / "sub" / "y.jpg")
    out = tmp_path / "f.h5"
    extract_image([folder], out, model="resnet18", weights=str(d / "r18.pt"), preprocess="weights",
                  device="cpu", progress=False)
    emb = read_embeddings(out)
    assert emb.ids == ["sub/y", "x"] and emb.valid.all() and emb.classes == []
    # weights transforms: resize short side to 256, centre-crop 224 (ResNet18_Weights.IMAGENET1K_V1)
    t = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()
    x = t(Image.open(folder / "x.png").convert("RGB"))[None]
    with torch.no_grad():
        np.testing.assert_allclose(emb.X[1], model(x)[0].numpy(), rtol=1e-4, atol=1e-5)


def test_weights_mismatch_and_offline_errors(setup, tmp_path, monkeypatch):
    d, _, _ = setup
    with pytest.raises(ZslError, match="do not fit model resnet34"):
        extract_image([d / "a.png"], tmp_path / "x.h5", model="resnet34", weights=str(d / "r18.pt"), device="cpu")
    with pytest.raises(ZslError, match="unknown image extractor 'resnet1O1'"):
        extract_image([d / "a.png"], tmp_path / "x.h5", model="resnet1O1", device="cpu")
    with pytest.raises(ZslError, match="unknown weights 'IMAGENET9K'"):
        extract_image([d / "a.png"], tmp_path / "x.h5", model="resnet18", weights="IMAGENET9K", device="cpu")
    import urllib.error

    import torchvision.models._api as api

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    with pytest.raises(ZslError) as e:
        extract_image([d / "a.png"], tmp_path / "x.h5", model="resnet18", weights="IMAGENET1K_V1", device="cpu")
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in e.value.message
    assert "--weights PATH" in e.value.hint
    assert not (tmp_path / "x.h5").exists()


def test_cli_extract_image(setup, tmp_path, cli):
    d, arrays, model = setup
    out = tmp_path / "cli.h5"
    args = ["extract-image", str(d / "crops.csv"), "-o", str(out), "--model", "resnet18", "--weights",
            str(d / "r18.pt"), "--classes", str(d / "classes.json"), "--device", "cpu", "--json"]
    r = cli(*args)
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["valid"] == 2 and res["invalid"] == 2 and out.exists()
    assert res["weights"] == str(d / "r18.pt")   # every summary says which weights were used
    np.testing.assert_allclose(read_embeddings(out).X[:2], _reference(model, arrays, "logits"), rtol=1e-4, atol=1e-5)
    r = cli(*args)  # exists, no --overwrite
    assert r.exit_code == 1 and "Error: output already exists" in r.stderr
    r = cli(*args[:-1] + ["--layer", "fc7", "--overwrite"])
    assert r.exit_code == 2
