"""No file format that zsl reads can run code: for each format a payload that would create a marker file when
unpickled is refused with one error line and the marker never appears. Real published PCA files still load."""

from __future__ import annotations

import builtins
import hashlib
import io
import pickle

import h5py
import numpy as np
import pytest
import torch

from zsltool.errors import ZslError


class Payload:
    """Unpickling this object creates (opens for writing) the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def _torch_payload(path, marker, zip_format=True):
    torch.save({"w": Payload(marker)}, path, _use_new_zipfile_serialization=zip_format)
    assert not marker.exists()  # saving does not run it
    return path


@pytest.fixture
def marker(tmp_path):
    m = tmp_path / "PWNED"
    yield m
    assert not m.exists(), "a payload ran"


@pytest.fixture
def wav(tmp_path):
    import soundfile as sf

    p = tmp_path / "tone.wav"
    t = np.arange(16000) / 16000
    sf.write(p, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    return p


# -- torch files: checkpoints, weights, PCA parameters (zip and legacy formats) -----------------------------
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_torch_files_never_run_code(tmp_path, marker, cli, check_user_error, qa, wav, tiny_weights, zip_format):
    evil = _torch_payload(tmp_path / "evil.pt", marker, zip_format)
    out = tmp_path / "o"
    check_user_error(cli("evaluate", evil), "never unpickles")
    check_user_error(cli("retrieve", evil), "never unpickles")
    check_user_error(cli("inspect", evil, "--check"), "never unpickles")
    check_user_error(cli("extract-audio", wav, "-o", out / "a.h5", "--weights", evil, "--workers", "0"),
                     "never unpickles")
    check_user_error(cli("extract-audio", wav, "-o", out / "b.h5", "--weights", tiny_weights, "--embedding", "pca",
                         "--pca-params", evil, "--workers", "0"), "never unpickles")
    from zsltool.extract.tvweights import load_state_dict_file

    with pytest.raises(ZslError, match="never unpickles"):
        load_state_dict_file(evil)
    assert not out.exists() or not any(out.iterdir())


def test_numpy_arrays_allowed_but_other_objects_refused_in_weight_files(tmp_path, marker):
    """The numpy allowance is exactly array reconstruction: a payload next to arrays, or an object array,
    is still refused."""
    from zsltool.files.checks import torch_load

    torch.save({"pca_means": np.zeros(128), "x": Payload(marker)}, tmp_path / "mixed.pth")
    with pytest.raises(ZslError, match="never unpickles"):
        torch_load(tmp_path / "mixed.pth", "weights file", numpy_arrays=True)
    torch.save({"a": np.array([1, "two", 3.0], dtype=object)}, tmp_path / "objarr.pth")
    with pytest.raises(ZslError, match="not numeric|never unpickles"):
        torch_load(tmp_path / "objarr.pth", "weights file", numpy_arrays=True)
    torch.save({"a": np.arange(3.0)}, tmp_path / "np.pth")
    with pytest.raises(ZslError, match="never unpickles"):  # checkpoints stay tensors and plain data only
        torch_load(tmp_path / "np.pth", "checkpoint")
    assert torch_load(tmp_path / "np.pth", "weights file", numpy_arrays=True)["a"].tolist() == [0.0, 1.0, 2.0]


# -- numpy files ---------------------------------------------------------------------------------------------
def test_npy_and_npz_payloads_never_run(tmp_path, marker, cli, check_user_error, wav, tiny_weights):
    arr = np.empty(1, dtype=object)
    arr[0] = Payload(marker)
    np.save(tmp_path / "evil.npy", arr, allow_pickle=True)
    np.savez(tmp_path / "evil.npz", embeddings=arr, pca_eigen_vectors=arr, pca_means=arr)
    check_user_error(cli("import-embeddings", tmp_path / "evil.npy", "-o", tmp_path / "a.h5"), "evil.npy")
    check_user_error(cli("import-embeddings", tmp_path / "evil.npz", "-o", tmp_path / "b.h5"), "evil.npz")
    check_user_error(cli("extract-audio", wav, "-o", tmp_path / "c.h5", "--weights", tiny_weights, "--embedding",
                         "pca", "--pca-params", tmp_path / "evil.npz", "--workers", "0"), "PCA parameter file")
    assert not list(tmp_path.glob("*.h5"))


# -- gensim .kv word vectors (a pickle) ------------------------------------------------------------------------
def test_kv_payload_refused_by_default_with_hint(tmp_path, marker, cli, check_user_error):
    names = tmp_path / "names.txt"
    names.write_text("dog\n")
    evil = tmp_path / "evil.kv"
    evil.write_bytes(pickle.dumps(Payload(marker), protocol=4))
    err = check_user_error(cli("extract-text", "--names", names, "--vectors", evil, "-o", tmp_path / "t.h5"),
                           "gensim .kv file", "pickle")
    assert "save_word2vec_format" in err and "--trust-pickle" in err
    # the same content under another name, with --format auto or --format kv
    (tmp_path / "evil.bin").write_bytes(evil.read_bytes())
    check_user_error(cli("extract-text", "--names", names, "--vectors", tmp_path / "evil.bin", "-o",
                         tmp_path / "t.h5"), "pickle")
    check_user_error(cli("extract-text", "--names", names, "--vectors", tmp_path / "evil.bin", "--format", "kv",
                         "-o", tmp_path / "t.h5"), "pickle")
    assert not (tmp_path / "t.h5").exists()


def test_kv_loads_only_with_trust_pickle_and_warns(tmp_path, cli):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(["dog", "cat"], np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))
    kv.save(str(tmp_path / "v.kv"))
    names = tmp_path / "names.txt"
    names.write_text("dog\n")
    res = cli("extract-text", "--names", names, "--vectors", tmp_path / "v.kv", "--trust-pickle", "-o",
              tmp_path / "t.h5")
    assert res.exit_code == 0, res.stderr
    assert "runs whatever code it holds" in res.stderr
    from zsltool.store import read_embeddings

    assert read_embeddings(tmp_path / "t.h5").X.tolist() == [[1.0, 2.0, 3.0]]
    # the documented safe route: gensim's save_word2vec_format, then no trust is needed
    KeyedVectors.load(str(tmp_path / "v.kv")).save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    res = cli("extract-text", "--names", names, "--vectors", tmp_path / "v.bin", "-o", tmp_path / "t2.h5")
    assert res.exit_code == 0, res.stderr
    assert read_embeddings(tmp_path / "t2.h5").X.tolist() == [[1.0, 2.0, 3.0]]


# -- every other format: a pickle payload under its name is just a bad file ---------------------------------------
def _pickle_bytes(marker) -> bytes:
    return pickle.dumps(Payload(marker), protocol=2)


@pytest.mark.parametrize("name,args", [
    ("classes.json", lambda p, t: ["split", p, "-p", "random", "-o", t / "s.json"]),
    ("split.json", lambda p, t: ["inspect", p, "--check"]),
    ("results.json", lambda p, t: ["compare", p, p]),
    ("clips.csv", lambda p, t: ["split", t / "cs.json", "-p", "gzsl", "--instances", p, "-o", t / "s.json"]),
    ("boxes.csv", lambda p, t: ["select-images", p, "-c", t / "cs.json", "-o", t / "m.csv"]),
    ("segments.csv", lambda p, t: ["select-audio", p, "-c", t / "cs.json", "-o", t / "m.csv"]),
    ("list.txt", lambda p, t: ["build-classes", "--from-list", p, "-o", t / "c.json"]),
    ("emb.h5", lambda p, t: ["prototypes", p, "-o", t / "p.h5"]),
    ("feat.csv", lambda p, t: ["import-embeddings", p, "-o", t / "i.h5"]),
    ("a.tfrecord", lambda p, t: ["import-audioset", p, "-o", t / "i.h5", "--class-index", t / "idx.csv",
                                 "--classes", t / "cs.json"]),
    ("vectors.txt", lambda p, t: ["extract-text", "--names", t / "names.txt", "--vectors", p, "--format", "glove",
                                  "-o", t / "t.h5"]),
])
def test_pickle_payload_under_any_name_never_runs(tmp_path, marker, cli, check_user_error, name, args):
    from zsltool.classes.classset import ClassSet

    ClassSet(classes=[{"id": "a", "name": "a"}, {"id": "b", "name": "b"}, {"id": "c", "name": "c"}]).save(
        tmp_path / "cs.json")
    (tmp_path / "idx.csv").write_text("index,mid,display_name\n0,a,a\n")
    (tmp_path / "names.txt").write_text("dog\n")
    p = tmp_path / name
    p.write_bytes(_pickle_bytes(marker))
    before = hashlib.sha256(p.read_bytes()).hexdigest()
    check_user_error(cli(*args(p, tmp_path)))
    assert hashlib.sha256(p.read_bytes()).hexdigest() == before


def test_media_payloads_are_invalid_inputs_not_code(tmp_path, marker, cli, check_user_error, tiny_weights):
    for ext in ("wav", "png", "mp4"):
        (tmp_path / f"evil.{ext}").write_bytes(_pickle_bytes(marker))
    check_user_error(cli("extract-audio", tmp_path / "evil.wav", "-o", tmp_path / "a.h5", "--weights", tiny_weights,
                         "--workers", "0"), "could be embedded")
    check_user_error(cli("extract-image", tmp_path / "evil.png", "-o", tmp_path / "i.h5", "--model", "squeezenet1_1",
                         "--weights", "random", "--device", "cpu"), "could be embedded")
    check_user_error(cli("extract-video", tmp_path / "evil.mp4", "-o", tmp_path / "v.h5", "--model", "tiny3d",
                         "--weights", "random", "--device", "cpu"), "could be embedded")
    assert not list(tmp_path.glob("*.h5"))


def test_hdf5_with_pickled_attributes_and_datasets_is_never_unpickled(tmp_path, marker, cli, check_user_error,
                                                                      qa):
    """zsl reads HDF5 attributes as JSON text and datasets as numbers/strings: pickle bytes stored in them are
    inert data."""
    import shutil

    p = tmp_path / "a.h5"
    shutil.copy(qa.syn.audio, p)
    with h5py.File(p, "a") as f:
        f.attrs["extractor_meta"] = np.void(_pickle_bytes(marker))
        f.create_dataset("payload", data=np.frombuffer(_pickle_bytes(marker), dtype=np.uint8))
    res = cli("inspect", p, "--check")
    assert res.exit_code in (0, 1) and "Traceback" not in res.stderr and "internal error" not in res.stderr
    check_user_error(cli("prototypes", p, "-o", tmp_path / "p.h5"), "extractor_meta")


# -- real published PCA files load -----------------------------------------------------------------------------
def _pca_arrays():
    rng = np.random.default_rng(3)
    ev, _ = np.linalg.qr(rng.standard_normal((128, 128)))
    return ev, rng.standard_normal((128, 1))  # float64, as AudioSet's release


def _numpy1_legacy_torch_save(obj, path):
    """Write ``obj`` the way torchvggish's release file was made (2019: torch 1.x legacy format, NumPy 1.x): the
    pickle names numpy's array reconstruction ``numpy.core.multiarray._reconstruct``."""
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    assert b"numpy._core.multiarray" in data
    path.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))


@pytest.mark.parametrize("how", ["torchvggish-release", "torch-zip", "audioset-npz"])
def test_published_pca_files_load(tmp_path, how):
    from zsltool.extract.audio.vggish import load_pca

    ev, mu = _pca_arrays()
    if how == "torchvggish-release":
        p = tmp_path / "vggish_pca_params-970ea276.pth"
        _numpy1_legacy_torch_save({"pca_eigen_vectors": ev, "pca_means": mu}, p)
    elif how == "torch-zip":
        p = tmp_path / "pca.pth"
        torch.save({"pca_eigen_vectors": ev, "pca_means": mu}, p)
    else:
        p = tmp_path / "vggish_pca_params.npz"
        np.savez(p, pca_eigen_vectors=ev, pca_means=mu)
    E, M, meta = load_pca(str(p))
    np.testing.assert_allclose(E.numpy(), ev.astype(np.float32))
    np.testing.assert_allclose(M.numpy(), mu.reshape(-1).astype(np.float32))
    assert meta["pca_params_sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()


def test_pca_release_file_drives_extract_audio_pca(tmp_path, cli, wav, tiny_weights):
    """--embedding pca with a file written like the torchvggish release: (relu - means) @ eigen_vectors.T."""
    from zsltool.extract.audio.vggish import build
    from zsltool.store import read_embeddings

    ev, mu = _pca_arrays()
    p = tmp_path / "vggish_pca_params-970ea276.pth"
    _numpy1_legacy_torch_save({"pca_eigen_vectors": ev, "pca_means": mu}, p)
    res = cli("extract-audio", wav, "-o", tmp_path / "a.h5", "--weights", tiny_weights, "--embedding", "pca",
              "--pca-params", p, "--workers", "0")
    assert res.exit_code == 0, res.stderr
    got = read_embeddings(tmp_path / "a.h5").X[0]
    relu = build(weights=str(tiny_weights), embedding="relu")
    from zsltool.extract.audio.io import load_waveform

    wave, _ = load_waveform(str(wav))
    ex = torch.from_numpy(relu.examples(wave))
    with torch.no_grad():
        r = relu.embed_examples(ex).numpy().astype(np.float64)
    expect = ((r - mu.reshape(1, -1)) @ ev.T).mean(axis=0)
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-4)


def test_sentence_model_folder_with_pickled_weights_never_runs(tmp_path, marker, cli, check_user_error):
    """A sentence-transformers folder whose weights are a pickle (pytorch_model.bin) instead of safetensors."""
    from zsltool.testing.sentence import make_tiny_sentence_model

    m = make_tiny_sentence_model(tmp_path / "st", ["dog", "cat"], dim=8)
    for st in m.rglob("model.safetensors"):
        st.unlink()
        torch.save({"x": Payload(marker)}, st.parent / "pytorch_model.bin")
    (tmp_path / "names.txt").write_text("dog\n")
    err = check_user_error(cli("extract-text", "--names", tmp_path / "names.txt", "--model", "sentence",
                               "--sentence-model", m, "-o", tmp_path / "t.h5"), "never unpickles")
    assert len(err) < 400
