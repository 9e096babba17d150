"""Shared option types: every float option of every command is a :class:`FiniteFloat` (NaN and Inf are never
accepted: ``--max-seconds nan`` once removed the length cap), with its range written once where it is declared;
and the one check of a choice against a name list or registry (a usage error, exit 2).

    max_seconds: float = float_option(10.0, "--max-seconds", min=0, min_open=True, help="...")
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Optional

import click
import typer


class FiniteFloat(click.ParamType):
    """A finite float, optionally in ``[min, max]`` (``min_open`` / ``max_open`` exclude the bound)."""

    name = "float"

    def __init__(self, min: Optional[float] = None, max: Optional[float] = None, min_open: bool = False,
                 max_open: bool = False):
        self.min, self.max, self.min_open, self.max_open = min, max, min_open, max_open

    def _range(self) -> str:
        lo = "" if self.min is None else f"{self.min:g} {'<' if self.min_open else '<='} "
        hi = "" if self.max is None else f" {'<' if self.max_open else '<='} {self.max:g}"
        return f"{lo}x{hi}" if (lo or hi) else ""

    def convert(self, value: Any, param, ctx) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(x):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        below = self.min is not None and (x <= self.min if self.min_open else x < self.min)
        above = self.max is not None and (x >= self.max if self.max_open else x > self.max)
        if below or above:
            self.fail(f"{value!r} is out of range ({self._range()})", param, ctx)
        return x

    def get_metavar(self, param, ctx=None) -> str:  # click >= 8.2 passes ctx
        return "FLOAT"

    def __repr__(self) -> str:
        return f"FiniteFloat({self._range() or 'any'})"


def float_option(default: Any, *decls: str, min: Optional[float] = None, max: Optional[float] = None,
                 min_open: bool = False, max_open: bool = False, **kwargs) -> Any:
    """A typer option of type :class:`FiniteFloat` (same keyword arguments as ``typer.Option``)."""
    return typer.Option(default, *decls, click_type=FiniteFloat(min, max, min_open, max_open), **kwargs)


def check_choice(value: Optional[str], choices: Iterable[str], option: str) -> Optional[str]:
    """``value`` when it is one of ``choices`` (or None); else a usage error listing them."""
    choices = list(choices)
    if value is not None and value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=option)
    return value


class NamesChoice(click.Choice):
    """``click.Choice`` over a registry's name list read when the command runs, not when the CLI is imported
    (``NamesChoice(lambda: names.METHOD_NAMES)``): a name added to the list is a choice at once."""

    def __init__(self, names: Callable[[], Iterable[str]]):
        self._names = names
        super().__init__([])

    @property
    def choices(self):
        return list(self._names())

    @choices.setter
    def choices(self, _value):  # click.Choice.__init__ assigns it
        pass
