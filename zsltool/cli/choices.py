"""The one check of a command-line choice against a name list or registry (a usage error, exit 2)."""

from __future__ import annotations

from typing import Callable, Iterable, Optional

import click
import typer


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
