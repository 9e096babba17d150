"""VGGish network, weights and postprocessing against an independent numpy forward pass."""

from pathlib import Path

import numpy as np
import pytest
import torch

from zsltool.errors import ZslError
from zsltool.extract.audio import vggish as V

CH = (4, 8, 8, 16, 16, 16)
HID = 32


def random_port_state_dict(seed=0, ch=CH, hidden=HID):
    """A random state dict in torchvggish's key layout (built by hand, not through zsl's module)."""
    g = torch.Generator().manual_seed(seed)
    sd, cin = {}, 1
    for k, c in zip((0, 3, 6, 8, 11, 13), ch):
        sd[f"features.{k}.weight"] = torch.randn(c, cin, 3, 3, generator=g) * (2.0 / (9 * cin)) ** 0.5
        sd[f"features.{k}.bias"] = torch.randn(c, generator=g) * 0.1
        cin = c
    dims = [(cin * 24, hidden), (hidden, hidden), (hidden, 128)]
    for k, (i, o) in zip((0, 2, 4), dims):
        sd[f"embeddings.{k}.weight"] = torch.randn(o, i, generator=g) * (2.0 / i) ** 0.5
        sd[f"embeddings.{k}.bias"] = torch.randn(o, generator=g) * 0.1
    return sd


def np_forward(sd, x, flatten="nhwc"):
    """Independent forward in NHWC (TensorFlow layout): x (N, 96, 64) -> raw 128-d (no final ReLU)."""
    h = x[..., None].astype(np.float64)  # N, H, W, C
    for k in (0, 3, 6, 8, 11, 13):
        w = sd[f"features.{k}.weight"].double().numpy()  # O, I, 3, 3
        b = sd[f"features.{k}.bias"].double().numpy()
        n, H, W, _ = h.shape
        p = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
        out = np.zeros((n, H, W, w.shape[0]))
        for dy in range(3):
            for dx in range(3):
                out += np.einsum("nhwc,oc->nhwo", p[:, dy:dy + H, dx:dx + W, :], w[:, :, dy, dx])
        h = np.maximum(out + b, 0.0)
        if k in (0, 3, 8, 13):
            n, H, W, C = h.shape
            h = h.reshape(n, H // 2, 2, W // 2, 2, C).max(axis=(2, 4))
    assert h.shape[1:3] == (6, 4)
    if flatten == "nchw":
        h = h.transpose(0, 3, 1, 2)
    z = h.reshape(h.shape[0], -1)  # NHWC flatten, as the TF checkpoint expects
    for k in (0, 2, 4):
        z = z @ sd[f"embeddings.{k}.weight"].double().numpy().T + sd[f"embeddings.{k}.bias"].double().numpy()
        if k != 4:
            z = np.maximum(z, 0.0)
    return z


def np_post(raw, kind, ev=None, mu=None):
    if kind == "raw":
        return raw
    r = np.maximum(raw, 0.0)
    if kind == "relu":
        return r
    p = (ev @ (r.T - mu[:, None])).T  # the published Postprocessor's formula
    if kind == "pca":
        return p
    q = np.round((np.clip(p, -2.0, 2.0) + 2.0) * (255.0 / 4.0)).astype(np.uint8)
    return q.astype(np.float64) / 255.0 * 4.0 - 2.0


def test_published_architecture_has_the_port_layout():
    with torch.device("meta"):
        m = V.VGGish()
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert list(shapes) == V.expected_keys()
    assert shapes["features.0.weight"] == (64, 1, 3, 3)
    assert [shapes[f"features.{k}.weight"][0] for k in (0, 3, 6, 8, 11, 13)] == [64, 128, 256, 256, 512, 512]
    assert shapes["embeddings.0.weight"] == (4096, 512 * 4 * 6)
    assert shapes["embeddings.2.weight"] == (4096, 4096)
    assert shapes["embeddings.4.weight"] == (128, 4096)
    assert sum(int(np.prod(s)) for s in shapes.values()) == 72141184


def test_forward_matches_independent_numpy_forward():
    sd = random_port_state_dict()
    model = V.VGGish.from_state_dict(sd).eval()
    x = np.random.default_rng(1).normal(size=(3, 96, 64)).astype(np.float32)
    with torch.inference_mode():
        got = model(torch.from_numpy(x)).double().numpy()
    want = np_forward(sd, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # a channels-first flatten (the classic porting mistake) gives other numbers: the test can tell
    wrong = np_forward(sd, x, flatten="nchw")
    assert np.max(np.abs(wrong - want)) > 100 * np.max(np.abs(got - want)) + 1e-2


def test_fused_inference_forward_equals_the_module():
    """extract-audio's CPU path (convolution + ReLU fused by oneDNN) gives the module's numbers."""
    sd = random_port_state_dict(seed=4)
    model = V.VGGish.from_state_dict(sd).eval().to(memory_format=torch.channels_last)
    if not V.fused_conv_relu_available("cpu"):
        pytest.skip("this torch build has no oneDNN fused convolution")
    x = torch.from_numpy(np.random.default_rng(5).normal(size=(6, 1, 96, 64)).astype(np.float32) * 3)
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        fused, plain = V.fused_forward(model, x), model(x)
    np.testing.assert_allclose(fused.numpy(), plain.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fused.double().numpy(), np_forward(sd, x[:, 0].numpy()), rtol=1e-4, atol=1e-4)
    assert V.build(width=0.1).fused  # the extractor uses it on the CPU


@pytest.mark.parametrize("kind", V.EMBEDDINGS)
def test_every_embedding_variant(tmp_path, kind):
    sd = random_port_state_dict(seed=2)
    torch.save(sd, tmp_path / "w.pth")
    rng = np.random.default_rng(3)
    ev = np.linalg.qr(rng.normal(size=(128, 128)))[0] * 0.5
    mu = rng.normal(size=128) * 0.05
    torch.save({"pca_eigen_vectors": torch.tensor(ev), "pca_means": torch.tensor(mu).reshape(128, 1)},
               tmp_path / "pca.pth")
    ext = V.build(weights=str(tmp_path / "w.pth"), embedding=kind, pca_params=str(tmp_path / "pca.pth"))
    x = rng.normal(size=(4, 96, 64)).astype(np.float32) * 3
    with torch.inference_mode():
        got = ext.embed_examples(torch.from_numpy(x)).numpy()
    raw = np_forward(sd, x)
    want = np_post(raw, kind, ev, mu)
    assert got.shape == (4, 128)
    if kind == "pca-quantized":
        # 8-bit codes: allow one step where float32 rounding lands on the other side of a .5 boundary
        step = 4.0 / 255.0
        assert np.mean(np.abs(got - want) < 1e-5) > 0.99 and np.max(np.abs(got - want)) <= step + 1e-5
        codes = (got + 2.0) * 255.0 / 4.0
        np.testing.assert_allclose(codes, np.round(codes), atol=1e-3)
        assert got.min() >= -2.0 - 1e-6 and got.max() <= 2.0 + 1e-6
    else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert ext.meta()["embedding"] == kind
    assert ext.meta()["weights_sha256"] and (kind not in ("pca", "pca-quantized") or ext.meta()["pca_params_sha256"])
    if kind == "raw":
        assert (got < 0).any()  # raw keeps negative values
    if kind == "relu":
        assert (got >= 0).all()


def test_bad_state_dicts_are_user_errors(tmp_path):
    sd = random_port_state_dict()
    sd.pop("embeddings.4.bias")
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(ZslError, match="missing embeddings.4.bias"):
        V.build(weights=str(tmp_path / "bad.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ZslError, match="is not a VGGish weights file"):
        V.build(weights=str(tmp_path / "junk.pth"))
    with pytest.raises(ZslError, match="not found"):
        V.build(weights=str(tmp_path / "missing.pth"))


def test_url_weights_go_through_the_hub_cache_with_checksum(tmp_path, monkeypatch):
    import hashlib

    sd = random_port_state_dict(seed=5)
    src = tmp_path / "src" / "w.pth"
    src.parent.mkdir()
    torch.save(sd, src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    good = tmp_path / "src" / f"vggish-{digest[:8]}.pth"
    src.rename(good)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    ext = V.build(weights=good.as_uri())
    cached = tmp_path / "hub" / "checkpoints" / good.name
    assert cached.is_file() and ext.meta()["weights_sha256"] == digest
    # a file whose name promises another checksum is refused
    bad = tmp_path / "src" / "vggish-00000000.pth"
    bad.write_bytes(good.read_bytes())
    with pytest.raises(ZslError, match="checksum"):
        V.build(weights=bad.as_uri())
    assert not (tmp_path / "hub" / "checkpoints" / bad.name).exists()


def test_offline_default_weights_error_names_url_and_option(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ZslError) as e:
        V.build()
    assert V.VGGISH_URL in str(e.value.message) and "--weights PATH" in e.value.hint


def test_weights_and_pca_params_are_hashed_once_per_run(tmp_path, monkeypatch):
    # was: fetch hashed a cached release file to check its prefix, then load_* hashed it again
    import hashlib

    sd = random_port_state_dict(seed=6)
    src = tmp_path / "w.pth"
    torch.save(sd, src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    cached = tmp_path / "hub" / "checkpoints" / f"vggish-{digest[:8]}.pth"
    cached.parent.mkdir(parents=True)
    src.rename(cached)
    pca = tmp_path / "pca.pth"
    torch.save({"pca_eigen_vectors": torch.eye(128), "pca_means": torch.zeros(128)}, pca)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    hashed = []
    import zsltool.files.provenance as U

    real = U._hash_file
    monkeypatch.setattr(U, "_hash_file", lambda p, a: hashed.append(Path(p).name) or real(p, a))
    ext = V.build(weights=f"https://example.invalid/{cached.name}", embedding="pca", pca_params=str(pca))
    assert sorted(hashed) == sorted([cached.name, "pca.pth"])
    assert ext.meta()["weights_sha256"] == digest
    assert ext.meta()["pca_params_sha256"] == hashlib.sha256(pca.read_bytes()).hexdigest()
