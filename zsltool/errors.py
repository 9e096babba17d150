"""User-facing errors.

Every mistake a user can make (bad path, corrupt file, unknown class, wrong shape, mismatched class sets)
raises :class:`ZslError`. The CLI turns it into one ``Error: ...`` line (plus a hint) on stderr and exit
code 1; library callers get an ordinary exception with a readable message.
"""

from __future__ import annotations


class ZslError(Exception):
    """An error caused by the user's input, with an optional hint on what to try next."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(ZslError):
    """A malformed option value found past the CLI's own parsing (e.g. ``--grid lr=1,,2``): the CLI reports it as a
    usage error (the command's usage line, ``Error: Invalid value for 'OPTION': ...``, exit 2)."""

    def __init__(self, message: str, hint: str | None = None, option: str | None = None):
        super().__init__(message, hint)
        self.option = option
