"""What a file is, from its first bytes: readable names for the binary files users mix up (no imports)."""

from __future__ import annotations

SIGNATURES = (
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (an embedding file?)"),
    (b"PK\x03\x04", "a zip archive (a checkpoint or .npz?)"),
    (b"\x93NUMPY", "a numpy array file (.npy)"),
)


def binary_kind(head: bytes) -> str | None:
    """A readable name for a well-known binary file starting with ``head`` (its first 8 bytes), else None."""
    for magic, name in SIGNATURES:
        if head.startswith(magic):
            return name
    return None
