"""Every command that runs a model on a device has a GPU test in tests/test_gpu.py (run where CUDA is present)."""

import importlib.util
import inspect
from pathlib import Path

import click
import typer.main

from zsltool.cli.app import app

GPU_TESTS = Path(__file__).resolve().parents[1] / "test_gpu.py"


def _device_commands() -> set[str]:
    """Commands with their own --device option, and commands whose code reads the global one (STATE.device)."""
    found = set()
    for name, cmd in typer.main.get_command(app).commands.items():
        if isinstance(cmd, click.Group):
            continue
        own = any("--device" in p.opts for p in cmd.params)
        if own or (cmd.callback is not None and "STATE.device" in inspect.getsource(cmd.callback)):
            found.add(name)
    return found


def test_every_device_command_has_a_gpu_test():
    spec = importlib.util.spec_from_file_location("zsl_gpu_tests", GPU_TESTS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    commands = _device_commands()
    assert {"train", "evaluate", "experiment", "retrieve", "classify", "extract-audio", "pretrain-audio"} <= commands
    assert set(mod.COVERED) == commands
    assert all(f.__name__.startswith("test_") and f.__module__ == mod.__name__ for f in mod.COVERED.values())
