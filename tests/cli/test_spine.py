"""The CLI spine: import cost, version, global options, error lines and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "torchvision", "torchaudio", "gensim", "av", "scipy", "matplotlib", "sklearn", "h5py")


def _py(*code_or_args, env=None, **kw):
    e = dict(os.environ, PYTHONPATH=str(REPO))
    e.update(env or {})
    kw.setdefault("cwd", REPO)
    return subprocess.run([sys.executable, *code_or_args], capture_output=True, text=True, env=e, **kw)


def test_importing_the_cli_imports_no_heavy_library():
    code = ("import sys, zsltool.cli.app as a; heavy = %r; "
            "print(','.join(m for m in heavy if m in sys.modules))" % (HEAVY,))
    res = _py("-c", code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""


USER_ERRORS = [  # (argv, start of the one Error line): a missing input is reported before torch & co. load
    (["--help"], None),
    (["inspect", "missing.h5"], "Error: file not found: missing.h5"),
    (["evaluate", "missing.pt", "-o", "r.json"], "Error: checkpoint not found: missing.pt"),
    (["retrieve", "missing.pt"], "Error: checkpoint not found: missing.pt"),
    (["extract-audio", "missing.csv", "-o", "a.h5"], "Error: input not found: missing.csv"),
    (["split", "missing.json", "--protocol", "random", "-o", "s.json"], "Error: class set not found"),
]


@pytest.mark.parametrize("argv,error", USER_ERRORS, ids=[" ".join(a[:2]) for a, _ in USER_ERRORS])
def test_help_and_user_errors_import_no_heavy_library(tmp_path, argv, error):
    code = ("import sys, runpy; sys.argv = ['zsl'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('zsltool', run_name='__main__')\nexcept SystemExit as e:\n    code = e.code\n"
            "print('HEAVY=' + ','.join(m for m in %r if m in sys.modules), file=sys.stderr)" % (HEAVY,))
    res = _py("-c", code, *argv, cwd=tmp_path)
    heavy = res.stderr.strip().splitlines()[-1]
    assert heavy == "HEAVY=", res.stderr
    if error is None:
        assert "Usage" in res.stdout and res.stderr.strip().splitlines() == ["HEAVY="]
    else:
        assert res.stderr.startswith(error) and len(res.stderr.strip().splitlines()) == 2, res.stderr


def test_help_and_version(cli):
    from zsltool import __version__

    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"zsl {__version__}"
    r = cli("--help")
    assert r.exit_code == 0
    for name in ("inspect", "import-embeddings", "merge"):
        assert name in r.stdout


def test_global_options_are_parsed(cli, tmp_path):
    from zsltool.cli.common import STATE

    np.save(tmp_path / "m.npy", np.ones((1, 2)))
    (tmp_path / "i.csv").write_text("id\na\n")
    r = cli("-q", "--seed", "7", "--device", "cpu", "import-embeddings", tmp_path / "m.npy", "--ids",
            tmp_path / "i.csv", "-o", tmp_path / "e.h5")
    assert r.exit_code == 0, r.stderr
    assert (STATE.seed, STATE.device, STATE.quiet) == (7, "cpu", True)
    assert "wrote" not in r.stderr  # --quiet silences progress lines


def test_usage_errors_exit_2(cli):
    assert cli("inspect").exit_code == 2
    assert cli("inspect", "x", "--no-such-option").exit_code == 2
    assert cli("--device", "tpu", "inspect", "x").exit_code == 2
    assert cli("no-such-command").exit_code == 2


def test_user_errors_print_one_line_and_exit_1(cli, tmp_path):
    r = cli("inspect", tmp_path / "missing.h5")
    assert r.exit_code == 1
    assert r.stderr.strip().splitlines() == [f"Error: file not found: {tmp_path / 'missing.h5'} (hint: check the path)"]
    assert "Traceback" not in r.stderr and r.stdout == ""
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage")
    r = cli("inspect", junk)
    assert r.exit_code == 1 and r.stderr.startswith("Error: ") and len(r.stderr.strip().splitlines()) == 1


def test_traceback_only_with_zsl_debug(tmp_path):
    args = ("-m", "zsltool", "inspect", str(tmp_path / "missing.h5"))
    plain = _py(*args)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    debug = _py(*args, env={"ZSL_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ZslError" in debug.stderr


def test_internal_errors_are_one_line_with_a_bug_hint(cli, monkeypatch, tmp_path):
    import zsltool.store.inspect as insp

    def boom(*a, **k):
        raise ValueError("unexpected")

    monkeypatch.setattr(insp, "inspect_file", boom)
    r = cli("inspect", tmp_path)
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: internal error: ValueError: unexpected (hint: this is a bug in zsl; rerun "
                                "with ZSL_DEBUG=1 for the traceback and report it)")


def _installed_zsl() -> Path | None:
    exe = Path(sys.executable).parent / "zsl"
    return exe if exe.exists() else None


def test_installed_entry_point_help_and_version():
    exe = _installed_zsl()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("zsl is not installed next to the test interpreter in CI")
        pytest.skip("zsl is not installed in this environment (pip install -e . to test the entry point)")
    from zsltool import __version__

    v = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.strip() == f"zsl {__version__}"
    h = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert h.returncode == 0 and "Usage: zsl" in h.stdout


def test_readme_quick_start_has_two_commands_and_ci_runs_the_second():
    readme = (REPO / "README.md").read_text()
    first_section = readme.split("\n## ")[1]
    commands = [line for line in first_section.splitlines() if line.startswith("python3 -m venv .venv")]
    assert len(commands) == 2
    assert "zsl demo" in commands[0] and "pytest" in commands[1]
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line.startswith("python3")]
    assert ci == [commands[1]]
