"""Shared fixtures: the reference data folder and a CLI runner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ZSL_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True, scope="session")
def _zsl_cache_in_tmp(tmp_path_factory):
    """zsl's own cache (``$ZSL_CACHE``: sha256 of weights and word vectors, class files) in a temporary folder
    for the whole run, subprocesses included: tests never read or write the user's cache."""
    old = os.environ.get("ZSL_CACHE")
    os.environ["ZSL_CACHE"] = str(tmp_path_factory.mktemp("zsl-cache"))
    yield
    if old is None:
        os.environ.pop("ZSL_CACHE", None)
    else:
        os.environ["ZSL_CACHE"] = old


@pytest.fixture
def shared_data() -> Path:
    """The real reference files (AudioSet ontology, Open Images classes, ...); skip when absent."""
    if not (SHARED_DATA / "audioset_ontology.json").exists():
        pytest.skip(f"reference data not found at {SHARED_DATA} (set ZSL_SHARED_DATA to its folder)")
    return SHARED_DATA


class CliResult:
    def __init__(self, res):
        self.exit_code = res.exit_code
        self.stdout = res.stdout
        self.stderr = res.stderr
        self.exception = res.exception

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def cli():
    """Run the zsl CLI in-process: cli("inspect", "x.h5", "--json") -> result with exit_code/stdout/stderr."""
    from typer.testing import CliRunner

    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always separates stderr
        runner = CliRunner()

    def run(*args, input=None, env=None):
        from zsltool.cli.app import app  # at each call: tests/test_extension_points.py runs a fresh zsltool

        return CliResult(runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=True))

    return run


def _run_cli(*args):
    """``zsl ARGS`` in-process (click's CliRunner, stderr apart); a non-zero exit fails with its stderr.
    Returns click's result (``.stdout``, ``.stderr``)."""
    from typer.testing import CliRunner

    from zsltool.cli.app import app

    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always separates stderr
        runner = CliRunner()
    r = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, f"zsl {' '.join(map(str, args))}: exit {r.exit_code}\n{r.stderr}"
    return r


@pytest.fixture(scope="session")
def run_cli():
    """The zsl CLI in-process for module-scoped fixtures (where ``cli`` cannot be used): ``run_cli(*args)``
    fails on a non-zero exit and returns click's result."""
    return _run_cli


@pytest.fixture(scope="module")
def esc50_inputs(tmp_path_factory):
    """``(d, prepare JSON, extract-text JSON)``: in folder ``d`` an ESC-50 folder (``zsltool.testing.esc50``) ->
    ``zsl prepare`` -> ``extract-audio`` (a tiny random VGGish) -> ``extract-text`` (the underscored names) ->
    ``split`` (5 class folds), each through the CLI in-process: d/audio.h5, d/text.h5, d/split.json and d/new.wav
    (a clip that is not in the manifest)."""
    import soundfile as sf
    import torch

    from zsltool.extract.audio.vggish import VGGish
    from zsltool.testing.esc50 import SR, clip, make_esc50, write_vectors

    d = tmp_path_factory.mktemp("esc")
    make_esc50(d / "ESC-50-master")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.save(VGGish(width=1 / 16).state_dict(), d / "tiny.pth")
    write_vectors(d / "vectors.txt")
    run = _run_cli
    prepared = json.loads(run("prepare", "esc50", d / "ESC-50-master", "-o", d / "esc50", "--json").stdout)
    run("extract-audio", d / "esc50" / "clips.csv", "--classes", d / "esc50" / "classes.json", "--weights",
        d / "tiny.pth", "-o", d / "audio.h5")
    text = json.loads(run("extract-text", "--classes", d / "esc50" / "classes.json", "--vectors", d / "vectors.txt",
                          "-o", d / "text.h5", "--json").stdout)
    run("split", d / "esc50" / "classes.json", "--protocol", "folds", "--folds", "5", "-o", d / "split.json")
    sf.write(d / "new.wav", clip(3, 9, seconds=1.5), SR)
    return d, prepared, text


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` run only where a CUDA device is present."""
    gpu = [it for it in items if "gpu" in it.keywords]
    if not gpu:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none here)")
    for it in gpu:
        it.add_marker(skip)
