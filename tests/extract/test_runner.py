"""The shared extraction loop: invalid rows, the summary and the "nothing embedded" guard."""

from __future__ import annotations

import numpy as np
import pytest

from zsltool.errors import ZslError
from zsltool.extract.runner import Item, run_extraction
from zsltool.store import EmbeddingWriter, StoreMeta, partial_dir_for


def _run(path, vectors: dict):
    items = [Item(id=k, source=k) for k in vectors]
    w = EmbeddingWriter(path, meta=StoreMeta(extractor="fake"), dim=2).open()
    return run_extraction(items, load=lambda it: it.source, writer=w, progress=False, batch_size=2,
                          embed=lambda keys: [{"embedding": vectors[k]} for k in keys])


def test_non_finite_embeddings_count_as_invalid(tmp_path):
    # was: summary.valid 2 and invalid 0 although the writer stored "b" as invalid
    s = _run(tmp_path / "e.h5", {"a": [1.0, 2.0], "b": [np.nan, 1.0], "c": [3.0, np.inf]})
    w = s.as_dict()
    assert (w["written"], w["valid"], w["invalid"]) == (3, 1, 2)
    assert w["invalid_rows"] == [{"id": "b", "reason": "embedding is not finite (NaN or Inf)"},
                                 {"id": "c", "reason": "embedding is not finite (NaN or Inf)"}]


def test_all_non_finite_is_refused(tmp_path):
    # was: exit 0 and a file whose every row is invalid
    with pytest.raises(ZslError, match="none of the 2 inputs could be embedded .*not finite"):
        _run(tmp_path / "e.h5", {"a": [np.nan, 0.0], "b": [np.inf, 0.0]})
    assert not (tmp_path / "e.h5").exists() and not partial_dir_for(tmp_path / "e.h5").exists()
