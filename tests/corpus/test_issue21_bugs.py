"""Issue 21, items 4 and 5: regression tests of the bugs found by an outside run, and tests that catch the bugs
planted there (each fails when its bug is put back). The bad-input cases themselves are in test_corpus.py."""

from __future__ import annotations

import builtins
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from zsltool.errors import ZslError


# -- z-score statistics: fitted on valid rows only (methods/base.py, the `ok` mask) ------------------------------
def test_zscore_statistics_ignore_invalid_zero_filled_rows():
    """Invalid rows are stored as zeros; fitted in, they would pull the mean towards 0 and change the SD."""
    from zsltool.methods.base import get_method

    model = get_method("avgzslnet")(audio_dim=2, semantic_dim=3, video_dim=2, zscore=True)
    audio = torch.tensor([[1.0, 2.0], [3.0, 6.0], [0.0, 0.0], [0.0, 0.0]])
    video = torch.tensor([[0.0, 0.0], [10.0, -1.0], [14.0, 3.0], [0.0, 0.0]])
    model.fit_scaling(audio, torch.tensor([True, True, False, False]), video,
                      torch.tensor([False, True, True, False]))
    # exact: mean and population SD of the valid rows only
    assert model.zscore_audio.tolist() == [[2.0, 4.0], [1.0, 2.0]]
    assert model.zscore_video.tolist() == [[12.0, 1.0], [2.0, 2.0]]
    assert model.prep_audio(audio[:2]).tolist() == [[-1.0, -1.0], [1.0, 1.0]]


def test_training_fits_zscore_on_the_valid_video_rows(tmp_path):
    """End to end: training rows without a video row (zero-filled, invalid) do not enter the video statistics."""
    from zsltool.train.checkpoint import load_checkpoint
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import prepare, train
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path, n_classes=6, per_class=6, n_train=3, n_val=2, invalid_video=6, video_dim=3)
    cfg = TrainConfig(audio=str(syn.audio), video=str(syn.video), text=str(syn.text), split=str(syn.split),
                      out=str(tmp_path / "m.pt"), method="avgzslnet", epochs=1, method_args={"zscore": True})
    t = prepare(cfg).train_set
    ok = t.video_valid.astype(bool)
    assert 0 < (~ok).sum() and np.all(t.video[~ok] == 0)  # the case: zero-filled invalid rows among training rows
    sd = train(cfg)
    z = load_checkpoint(sd.checkpoint)["state_dict"]["zscore_video"].double().numpy()
    np.testing.assert_allclose(z[0], t.video[ok].mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z[1], t.video[ok].std(0), rtol=1e-4)
    assert not np.allclose(z[0], t.video.mean(0), rtol=1e-3)  # what fitting on every row would give


# -- the restricted unpickler refuses every global outside its allow-list --------------------------------------
def _npy_with_pickle(path: Path, payload: bytes) -> Path:
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|O", "fortran_order": False, "shape": ()})
        f.write(payload)
    return path


@pytest.mark.parametrize("name", ["eval", "exec", "getattr", "__import__", "open", "compile", "setattr",
                                  "globals", "print"])
def test_unpickler_refuses_builtins(tmp_path, name):
    from zsltool.prepare.safe_npy import load_vector_dict

    marker = tmp_path / "PWNED"
    code = f"open({str(marker)!r}, 'w').close()"
    arg = code if name in ("eval", "exec") else "x"
    stream = f"cbuiltins\n{name}\n(V{arg}\ntR.".encode()  # protocol 0: builtins.<name>(arg)
    p = _npy_with_pickle(tmp_path / "w.npy", stream)
    with pytest.raises(ZslError, match=f"refused global builtins.{name}"):
        load_vector_dict(p)
    assert not marker.exists()


def test_unpickler_allow_list_is_exactly_the_numpy_names():
    import io

    from zsltool.prepare import safe_npy

    u = safe_npy._Restricted(io.BytesIO(b""))
    for module, name in safe_npy.ALLOWED:
        if module.startswith("numpy.core"):
            continue  # the NumPy 1.x names: import warnings on NumPy 2
        u.find_class(module, name)
    refused = [("builtins", n) for n in dir(builtins)] + [
        ("os", "system"), ("subprocess", "Popen"), ("posix", "system"), ("numpy", "load"), ("copyreg", "_reconstructor"),
        ("functools", "partial"), ("operator", "attrgetter"), ("importlib", "import_module"), ("pickle", "loads"),
        ("numpy.lib.npyio", "load"), ("torch", "load"), ("__builtin__", "eval"), ("numpy", "frombuffer")]
    for module, name in refused:
        with pytest.raises(pickle.UnpicklingError, match="refused global"):
            u.find_class(module, name)


# -- grid settings: integer settings are whole numbers (was: epochs=1.5 recorded, 1 epoch trained) --------------
def test_fractional_epochs_are_refused_not_truncated(tmp_path):
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path, n_classes=6, per_class=3, n_train=3, n_val=2, video=False)
    base = dict(audio=str(syn.audio), text=str(syn.text), split=str(syn.split), out=str(tmp_path / "m.pt"))
    with pytest.raises(ZslError, match="--epochs must be a whole number, got 1.5"):
        train(TrainConfig(**base, epochs=1.5))
    with pytest.raises(ZslError, match="grid key 'epochs': value 1.5 must be a whole number"):
        train(TrainConfig(**base, grid={"epochs": [1, 1.5]}))
    with pytest.raises(ZslError, match="--lr must be a number, got 'abc'"):
        train(TrainConfig(**base, epochs=1, lr="abc"))
    assert not (tmp_path / "m.pt").exists()


# -- experiment: a repeated --method, counts in words ----------------------------------------------------------
def test_repeated_method_runs_once_and_one_trial_is_singular(tmp_path, cli):
    from zsltool.evaluate.experiment import ExperimentSpec, plan
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path / "d", n_classes=6, per_class=3, n_train=3, n_val=2, video=False)
    r = cli("experiment", "--audio", syn.audio, "--split", syn.split, "--text", syn.text, "--epochs", "1",
            "--method", "projection", "--method", "projection", "-o", tmp_path / "out", "--json")
    assert r.exit_code == 0, r.stderr  # was: "two split files share a file name"
    assert [t["method"] for t in r.json()["trials"]] == ["projection"]
    assert "experiment: 1 trial, 0 already done, 1 to run with 1 job\n" in r.stderr  # was: "1 trials"
    assert "1 trial run, 0 reused" in r.stderr
    with pytest.raises(ZslError, match="method 'projection' is given twice"):
        plan(ExperimentSpec(audio=str(syn.audio), splits=[str(syn.split)], out_dir=str(tmp_path / "o2"),
                            text=str(syn.text), methods=["projection", "projection"]))
    from zsltool.runtime.progress import count_of

    assert (count_of(1, "trial"), count_of(0, "trial"), count_of(5, "job")) == ("1 trial", "0 trials", "5 jobs")


# -- two-stage: the caption's val HM is the value that chose the epoch ------------------------------------------
def test_two_stage_caption_shows_the_selection_value_and_every_beta():
    from zsltool.evaluate.aggregate import two_stage_caption

    rec = {"method": "avgzslnet", "modality": "audio",  # the first test modality
           "stage1": {"epoch": 7, "metric": "val_hm", "value": 0.4567,
                      "validation": {"audio": {"beta": 0.25, "HM": 0.2}, "both": {"beta": 0.5, "HM": 0.4567}}}}
    cap = two_stage_caption([rec])
    assert "avgzslnet: epoch 7 (val HM 45.7), β 0.25 (audio) / 0.5 (both)" in cap
    assert "20.0" not in cap and "first test modality" not in cap  # was: the audio modality's HM


# -- plot: an audio-visual t-SNE to one file name -----------------------------------------------------------------
def test_av_tsne_to_a_file_writes_one_file_per_modality(tmp_path, cli):
    """Was: x.svg written with the audio figure, then the video figure failed on the same name."""
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path / "d", n_classes=6, per_class=4, n_train=3, n_val=1, video_dim=5)
    ck = train(TrainConfig(audio=str(syn.audio), video=str(syn.video), text=str(syn.text), split=str(syn.split),
                           out=str(tmp_path / "av.pt"), method="avgzslnet", epochs=1)).checkpoint
    out = tmp_path / "x.svg"
    r = cli("plot", ck, "--kind", "tsne", "--layout", "pca", "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["out"] == [str(tmp_path / "x.audio.svg"), str(tmp_path / "x.video.svg")]
    assert "avgzslnet audio embeddings" in (tmp_path / "x.audio.svg").read_text()
    assert "avgzslnet video embeddings" in (tmp_path / "x.video.svg").read_text()
    assert not out.exists()
    # a second run is refused before the first figure is drawn: nothing changes
    (tmp_path / "x.audio.svg").unlink()
    before = (tmp_path / "x.video.svg").read_bytes()
    r = cli("plot", ck, "--kind", "tsne", "--layout", "pca", "--out", out)
    assert r.exit_code == 1 and "output already exists" in r.stderr and "x.video.svg" in r.stderr
    assert not (tmp_path / "x.audio.svg").exists() and (tmp_path / "x.video.svg").read_bytes() == before


# -- prepare folder: a class folder it cannot read is an error (was: dropped, exit 0) ----------------------------
def test_prepare_folder_refuses_an_unreadable_class_folder(tmp_path, cli, monkeypatch, check_user_error):
    import soundfile as sf

    for c in ("dog", "rain", "siren"):
        (tmp_path / "data" / c).mkdir(parents=True)
        sf.write(tmp_path / "data" / c / "0.wav", np.zeros(800, np.float32) + 0.1, 8000)
    real = os.scandir

    def scandir(path="."):  # as for a folder without read permission (root reads every folder, so patched)
        if Path(path).name == "rain":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    r = cli("prepare", "folder", tmp_path / "data", "-o", tmp_path / "out")
    err = check_user_error(r, "cannot read folder", "rain", "Permission denied", "hint:")
    assert err and not (tmp_path / "out").exists()


# -- Ctrl-C of experiment --jobs 2: one line, no worker traceback ----------------------------------------------
def _workers(pid: int) -> list[int]:
    """The spawned worker processes of ``pid`` (not multiprocessing's resource tracker)."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            if (d.name.isdigit() and int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid
                    and b"spawn_main" in (d / "cmdline").read_bytes()):
                out.append(int(d.name))
        except (OSError, IndexError, ValueError):
            pass
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the worker processes in /proc")
def _interruptible() -> None:
    """In the child before exec: SIGINT at its default and unblocked, as a terminal's foreground job has it,
    whatever state the test process was left in (an ignored or blocked SIGINT is inherited across exec, and
    Python then installs no KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.mark.timeout(400)  # a missed Ctrl-C would otherwise train for 100000 epochs
def test_ctrl_c_of_parallel_experiment_prints_one_line(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, while the workers start (import torch:
    where a worker printed its KeyboardInterrupt traceback) and while they train."""
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path / "d", n_classes=10, per_class=6, n_train=5, n_val=2, video=False)
    args = [sys.executable, "-m", "zsltool", "experiment", "--audio", syn.audio, "--split", syn.split, "--text",
            syn.text, "--method", "projection", "--method", "devise", "--method", "ale", "--method", "sje",
            "--epochs", "100000", "--jobs", "2", "--threads", "1", "-o", tmp_path / "out"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("ZSL_DEBUG", None)
    for delay in (0.3, 2.0):  # after the first worker process appears: still importing, then training
        p = subprocess.Popen([str(a) for a in args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                             start_new_session=True, env=env, preexec_fn=_interruptible)
        try:
            assert p.stderr.readline().startswith("experiment: 4 trials")  # the parent is about to start workers
            t0 = time.monotonic()
            while not _workers(p.pid) and time.monotonic() - t0 < 60:
                time.sleep(0.02)
            time.sleep(delay)
            os.killpg(p.pid, signal.SIGINT)
            _, err = p.communicate(timeout=120)
            assert p.returncode == 130, err
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        assert [ln for ln in err.splitlines() if ln.strip()] == ["Error: interrupted"], err
        assert not (tmp_path / "out").exists()


# -- docs/methods.md's library API block runs as written ----------------------------------------------------------
def test_methods_doc_library_api_block_runs(tmp_path, monkeypatch):
    """The 'Library API (stable)' block of docs/methods.md, executed against a trained checkpoint (was: the docs
    and the API disagreed on summary())."""
    import re

    from zsltool.train.synthetic import make_synthetic

    text = (Path(__file__).resolve().parents[2] / "docs" / "methods.md").read_text()
    block = re.search(r"## Library API \(stable\)\n```python\n(.*?)```", text, re.S).group(1)
    syn = make_synthetic(tmp_path, n_classes=6, per_class=3, n_train=3, n_val=2, video=False)
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train

    res = train(TrainConfig(audio=str(syn.audio), text=str(syn.text), split=str(syn.split), out=str(tmp_path / "m.pt"),
                            epochs=1))
    monkeypatch.chdir(tmp_path)
    scope = {"class_ids": syn.classes[3:]}
    exec(compile(block, "docs/methods.md", "exec"), scope)
    assert scope["S"].shape == (len(scope["inst"].labels), 3)
    assert callable(res.summary) and res.summary()["out"] == str(tmp_path / "m.pt")


# -- a hint on every error ------------------------------------------------------------------------------------
def test_an_error_without_its_own_hint_points_to_the_commands_help(cli, tmp_path, monkeypatch, check_user_error):
    import zsltool.store.inspect as I

    def boom(path, check=False):
        raise ZslError("boom")

    monkeypatch.setattr(I, "inspect_file", boom)
    err = check_user_error(cli("inspect", tmp_path / "x.h5"))
    assert err == "Error: boom (hint: see `zsl inspect --help` for what it expects)"
    res = cli("split", tmp_path / "c.json", "-p", "random", "--trials", "0", "-o", tmp_path / "s.json")
    assert res.exit_code in (1, 2) and "(hint: " in res.stderr
