"""The zsl CLI run in-process for tests and fixtures that need it outside a test function (module-scoped
fixtures, where the ``cli`` fixture of tests/conftest.py cannot be used)."""

from __future__ import annotations


def run_cli(*args):
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
