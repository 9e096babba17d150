"""The extractor record: how an embedding file's rows were made, as one typed value.

Every extractor's rows carry it: the pipeline (``zsl extract-*``) writes it into the file's ``extractor_meta``
(:meth:`ExtractorRecord.of_extractor` then :meth:`ExtractorRecord.extractor_meta`), ``zsl train`` copies it into
the checkpoint's ``provenance``, and :func:`zsltool.extract.registry.extractor_from_provenance` reads it back,
the one way ``extract``, ``classify`` and the demo rebuild an extractor. Older files (no ``config`` entry, no
``weights_seed``) still read: their config is taken from the same-named keys of ``extractor_meta``.

    rec = ExtractorRecord.of("audio.h5")          # or a StoreMeta, or a checkpoint's provenance entry
    rec.extractor, rec.config, rec.weights, rec.weights_sha256, rec.seed
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from zsltool.extract.weights import is_random

SEED_KEY = "weights_seed"


@dataclass(frozen=True)
class ExtractorRecord:
    """``modality`` and ``extractor`` (the registered name); ``config``: the config fields that shape the rows
    (``ExtractorConfig.provenance()``; None in files from before it was recorded); ``weights``: what they were
    (a registered id, URL, local path or ``random``) and ``weights_path`` / ``weights_sha256`` the file read and
    its digest; ``seed``: torch's seed when the weights were drawn at random; ``meta``: all the extractor said
    (its ``meta()``, the file's ``extractor_meta``); ``path``: the file it was read from, if any."""

    modality: str
    extractor: str
    config: dict | None = None
    weights: str | None = None
    weights_path: str | None = None
    weights_sha256: str | None = None
    seed: int | None = None
    meta: dict = field(default_factory=dict)
    path: str | None = None

    @classmethod
    def from_meta(cls, modality: str, extractor: str, meta: dict | None, path=None) -> "ExtractorRecord":
        m = dict(meta or {})
        config = m.get("config") if isinstance(m.get("config"), dict) else None
        weights = (config or {}).get("weights", m.get("weights"))
        seed = m.get(SEED_KEY)
        return cls(modality=modality or "", extractor=extractor or "", config=config,
                   weights=None if weights is None else str(weights), weights_path=m.get("weights_path"),
                   weights_sha256=m.get("weights_sha256") or None, seed=None if seed is None else int(seed),
                   meta=m, path=None if path is None else str(path))

    @classmethod
    def of(cls, source: Any) -> "ExtractorRecord":
        """The record of an embedding file (its path or :class:`~zsltool.store.StoreMeta`), of a checkpoint's
        provenance entry (``{"modality", "extractor", "extractor_meta", "path"}``), or ``source`` itself."""
        if isinstance(source, cls):
            return source
        if isinstance(source, dict):
            return cls.from_meta(source.get("modality"), source.get("extractor"), source.get("extractor_meta"),
                                 path=source.get("path"))
        path = None
        if isinstance(source, (str, os.PathLike)):
            from zsltool.store import read_meta

            source, path = read_meta(source), source
        return cls.from_meta(source.modality, source.extractor, source.extractor_meta, path=path)

    @classmethod
    def of_extractor(cls, ex) -> "ExtractorRecord":
        """The record of a built extractor: its ``meta()``, config and, for random weights, the seed they were
        drawn with (``ex.weights_seed``, set where it was built)."""
        meta = {**ex.meta(), "config": ex.config.provenance()}
        seed = getattr(ex, "weights_seed", None)
        if seed is not None and is_random(getattr(ex.config, "weights", None)):
            meta[SEED_KEY] = int(seed)
        return cls.from_meta(ex.modality, ex.name, meta)

    def extractor_meta(self) -> dict:
        """What the file stores as ``extractor_meta``."""
        return dict(self.meta)


def store_meta(ex, kind: str, records: list[dict], cs, **extra) -> Any:
    """The :class:`~zsltool.store.StoreMeta` of a file of ``ex``'s rows: its record (plus ``extra``) as
    ``extractor_meta``, the inputs read (``records`` and the extractor's own), the class set and the command."""
    from zsltool.files.provenance import command_line
    from zsltool.store import StoreMeta

    return StoreMeta(kind=kind, modality=ex.modality, extractor=ex.name,
                     extractor_meta={**ExtractorRecord.of_extractor(ex).extractor_meta(), **extra},
                     inputs=records + ex.input_records(), class_set_sha256=cs.sha256 if cs is not None else "",
                     command=command_line())
