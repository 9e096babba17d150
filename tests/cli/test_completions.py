"""The committed completion scripts match what the CLI generates."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen", REPO / "completions" / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_current(shell, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    gen = _generator()
    fresh = gen.render(shell)
    assert "_ZSL_COMPLETE" in fresh and "zsl" in fresh
    committed = (REPO / "completions" / gen.SHELLS[shell]).read_text()
    assert committed == fresh, f"completions/{gen.SHELLS[shell]} is stale: run python completions/generate.py"
