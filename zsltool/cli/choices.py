"""The one check of a command-line choice against a name list or registry (a usage error, exit 2)."""

from __future__ import annotations

from typing import Iterable, Optional

import typer


def check_choice(value: Optional[str], choices: Iterable[str], option: str) -> Optional[str]:
    """``value`` when it is one of ``choices`` (or None); else a usage error listing them."""
    choices = list(choices)
    if value is not None and value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=option)
    return value
