"""--weights random follows the seed: the same command gives the same embeddings, another --seed another
network; a library call's network does not depend on the caller's torch generator."""

import numpy as np
import torch
from PIL import Image

from zsltool.extract.pipeline import extract_image
from zsltool.store import read_embeddings


def _images(d, n=3):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(d / f"{i}.png")
        paths.append(d / f"{i}.png")
    return paths


def test_random_weights_follow_the_seed(cli, tmp_path):
    imgs = _images(tmp_path)
    outs = {}
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        res = cli("--seed", seed, "extract-image", *imgs, "--model", "smallcnn", "--weights", "random",
                  "--image-size", "16", "-o", tmp_path / f"{name}.h5")
        assert res.exit_code == 0, res.stderr
        outs[name] = read_embeddings(tmp_path / f"{name}.h5").embeddings
    assert np.array_equal(outs["a"], outs["b"])
    assert not np.allclose(outs["a"], outs["c"])


def test_the_library_call_does_not_depend_on_the_callers_generator(tmp_path):
    imgs = _images(tmp_path, 2)
    outs = []
    for k, before in enumerate((123, 7)):
        torch.manual_seed(before)
        extract_image(imgs, tmp_path / f"x{k}.h5", model="smallcnn", weights="random", image_size=16, device="cpu",
                      progress=False, seed=5)
        outs.append(read_embeddings(tmp_path / f"x{k}.h5").embeddings)
    assert np.array_equal(outs[0], outs[1])
