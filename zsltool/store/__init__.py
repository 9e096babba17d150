"""The HDF5 embedding store: one schema for every embedding file (see docs/DESIGN.md)."""

from zsltool.store.reader import (
    Embeddings,
    check_same_class_set,
    is_hdf5,
    read_embeddings,
    read_meta,
    validate_embeddings,
)
from zsltool.store.schema import FORMAT, FORMAT_VERSION, StoreMeta
from zsltool.store.writer import EmbeddingWriter, partial_dir_for, write_embeddings

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Embeddings",
    "EmbeddingWriter",
    "StoreMeta",
    "check_same_class_set",
    "is_hdf5",
    "partial_dir_for",
    "read_embeddings",
    "read_meta",
    "validate_embeddings",
    "write_embeddings",
]
