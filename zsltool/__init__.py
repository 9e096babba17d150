"""zsltool: zero-shot audio classification toolkit (the ``zsl`` command)."""

__version__ = "0.1.0"
