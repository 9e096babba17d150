"""Shared fixtures: the reference data folder, the CLI runner and the checks of its errors, a module's synthetic
dataset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# $ZSL_SHARED_DATA, else <repo>/../shared/data or further up (a git worktree may sit deeper than the checkout)
SHARED_DATA = (Path(os.environ["ZSL_SHARED_DATA"]) if os.environ.get("ZSL_SHARED_DATA") else
               next((p / "shared" / "data" for p in REPO.parents if (p / "shared" / "data").is_dir()),
                    REPO.parent / "shared" / "data"))
REFERENCE_FILES = ("audioset_ontology.json", "class-descriptions-boxable.csv", "audioset_class_labels_indices.csv")


@pytest.fixture(autouse=True, scope="session")
def _zsl_cache_in_tmp(tmp_path_factory):
    """zsl's own cache (``$ZSL_CACHE``: sha256 of large files, class files) in a temporary folder
    for the whole run, subprocesses included: tests never read or write the user's cache."""
    old = os.environ.get("ZSL_CACHE")
    os.environ["ZSL_CACHE"] = str(tmp_path_factory.mktemp("zsl-cache"))
    yield
    if old is None:
        os.environ.pop("ZSL_CACHE", None)
    else:
        os.environ["ZSL_CACHE"] = old


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real reference files (AudioSet ontology, Open Images classes, ...); skip when absent."""
    if not all((SHARED_DATA / n).exists() for n in REFERENCE_FILES):
        pytest.skip(f"reference data not found at {SHARED_DATA} (set ZSL_SHARED_DATA to its folder)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def syn(request, tmp_path_factory):
    """The module's tiny synthetic dataset (zsltool.train.synthetic.make_synthetic: audio/video instance files,
    text/image class files, a one-trial split), made once per module. Its size is the module's
    ``pytestmark = pytest.mark.synthetic(n_classes=..., per_class=..., ...)`` (make_synthetic's keywords);
    make_synthetic's defaults without one."""
    from zsltool.train.synthetic import make_synthetic

    mark = request.node.get_closest_marker("synthetic")
    return make_synthetic(tmp_path_factory.mktemp("syn"), **(mark.kwargs if mark else {}))


@pytest.fixture
def tiny_weights(tmp_path) -> Path:
    """A small random VGGish-shaped state dict (width 1/16, seed 0) in the torchvggish layout, saved to a file."""
    import torch

    from zsltool.extract.audio.vggish import VGGish

    torch.manual_seed(0)
    path = tmp_path / "tiny_vggish.pth"
    torch.save(VGGish(width=1 / 16).state_dict(), path)
    return path


class CliResult:
    """One zsl call: exit_code, stdout and stderr apart, output (click's), exception; json() parses stdout."""

    def __init__(self, res):
        self.exit_code = res.exit_code
        self.stdout = res.stdout
        self.stderr = res.stderr
        self.output = res.output
        self.exception = res.exception

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture(scope="session")
def cli():
    """Run the zsl CLI in-process: cli("inspect", "x.h5", "--json", input=None, env=None) -> a CliResult.

    The one CLI runner of the suite (session-wide, so module-scoped fixtures can use it too); stderr is kept
    apart from stdout whatever click's version."""
    from typer.testing import CliRunner

    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always separates stderr
        runner = CliRunner()

    def run(*args, input=None, env=None):
        from zsltool.cli.app import app  # at each call: tests/extension/ runs a fresh zsltool

        return CliResult(runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=True))

    return run


def assert_user_error(res, *fragments: str) -> str:
    """Exit 1, exactly one stderr line starting with `Error:`, no traceback or internal error; returns it."""
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error:")]
    assert res.exit_code == 1, (res.exit_code, res.stderr, res.exception)
    assert len(errors) == 1, res.stderr
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr, res.stderr
    for frag in fragments:
        assert frag in errors[0], (frag, errors[0])
    return errors[0]


def assert_usage_error(res, *fragments: str) -> str:
    """Exit 2 (a bad option value or a missing argument), the fragments in stderr, no traceback; returns stderr."""
    assert res.exit_code == 2, (res.exit_code, res.stderr, res.exception)
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, res.stderr
    for frag in fragments:
        assert frag in errors[0], (frag, errors[0])
    return errors[0]


@pytest.fixture
def check_usage_error():
    """``check_usage_error(result, *fragments)``: the result is a usage error (see assert_usage_error)."""
    return assert_usage_error


@pytest.fixture
def check_user_error():
    """``check_user_error(result, *fragments)``: the result is one clear user error (see assert_user_error)."""
    return assert_user_error


@pytest.fixture(scope="session")
def run_cli(cli):
    """``cli`` for fixtures that build inputs: ``run_cli(*args)`` fails on a non-zero exit (with its stderr)."""

    def run(*args):
        r = cli(*args)
        assert r.exit_code == 0, f"zsl {' '.join(map(str, args))}: exit {r.exit_code}\n{r.stderr}{r.exception!r}"
        return r

    return run


@pytest.fixture(scope="module")
def esc50_inputs(tmp_path_factory, run_cli):
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
    prepared = json.loads(run_cli("prepare", "esc50", d / "ESC-50-master", "-o", d / "esc50", "--json").stdout)
    run_cli("extract-audio", d / "esc50" / "clips.csv", "--classes", d / "esc50" / "classes.json", "--weights",
            d / "tiny.pth", "-o", d / "audio.h5")
    text = json.loads(run_cli("extract-text", "--classes", d / "esc50" / "classes.json", "--vectors", d / "vectors.txt",
                              "-o", d / "text.h5", "--json").stdout)
    run_cli("split", d / "esc50" / "classes.json", "--protocol", "folds", "--folds", "5", "-o", d / "split.json")
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


@pytest.fixture
def sha256_reads(tmp_path, monkeypatch) -> list[str]:
    """The names of the files ``zsltool.files.provenance.file_digest`` reads to hash them, in order, with a
    cache folder of this test's own in which every file counts as large and settled (remembered at once)."""
    import zsltool.files.provenance as P

    monkeypatch.setenv("ZSL_CACHE", str(tmp_path / "zsl-cache"))
    monkeypatch.setattr(P, "DIGEST_CACHE_FROM", 0)
    monkeypatch.setattr(P, "SETTLED_NS", -10**12)
    seen: list[str] = []
    real = P._hash_file
    monkeypatch.setattr(P, "_hash_file", lambda p, a: seen.append(os.path.basename(p)) or real(p, a))
    return seen
