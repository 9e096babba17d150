"""The ``zsl`` command line: thin shims over the library (see docs/DESIGN.md)."""
