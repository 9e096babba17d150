"""Registry of extractors: name -> :class:`~zsltool.extract.base.ExtractorSpec`.

Registration stays import-light (no torch): a spec names the class that implements it
(``"zsltool.extract.audio.panns:Cnn14Extractor"``), so CLI choices, options and ``zsl models`` come from
the registry while ``zsl --help`` stays instant. The built-in extractors are registered in
``zsltool.extract.catalog``.

    list_extractors("audio")                         # ['clap', 'cnn14', 'vggish']
    ex = build_extractor("vggish", device="cpu", embedding="pca")
    ex = extractor_from_provenance(read_meta("audio.h5"))     # the extractor that made a file
"""

from __future__ import annotations

import logging
import os
from typing import Any

from zsltool.errors import ZslError
from zsltool.extract.base import Extractor, ExtractorSpec

log = logging.getLogger("zsltool.extract")

EXTRACTORS: dict[str, ExtractorSpec] = {}


def register_extractor(spec: ExtractorSpec) -> ExtractorSpec:
    if spec.name in EXTRACTORS and EXTRACTORS[spec.name] != spec:
        raise ValueError(f"extractor {spec.name!r} is registered twice")
    EXTRACTORS[spec.name] = spec
    return spec


_BUILTIN_LOADED = False


def _ensure_catalog() -> None:
    """Register the built-in extractors of ``zsltool.extract.catalog`` (once; the catalog imports no registry)."""
    global _BUILTIN_LOADED
    if not _BUILTIN_LOADED:
        from zsltool.extract.catalog import BUILTIN

        for spec in BUILTIN:
            register_extractor(spec)
        _BUILTIN_LOADED = True


def list_extractors(modality: str | None = None, *, include_test: bool = True) -> list[str]:
    _ensure_catalog()
    return sorted(n for n, s in EXTRACTORS.items()
                  if (modality is None or s.modality == modality) and (include_test or not s.test_only))


def get_extractor(name: str, modality: str | None = None) -> ExtractorSpec:
    _ensure_catalog()
    spec = EXTRACTORS.get(name)
    if spec is None or (modality is not None and spec.modality != modality):
        names = list_extractors(modality)
        if len(names) > 12:
            import difflib

            close = difflib.get_close_matches(name, names, n=5)
            hint = (f"did you mean {', '.join(close)}? " if close else "") + "zsl models lists them"
        else:
            hint = f"choose one of: {', '.join(names) or 'none'} (zsl models lists them)"
        raise ZslError(f"unknown {modality + ' ' if modality else ''}extractor {name!r}", hint=hint)
    return spec


def build_extractor(name: str, *, modality: str | None = None, device: str = "cpu", **options) -> Extractor:
    """Build a registered extractor from keyword options (its config fields)."""
    spec = get_extractor(name, modality)
    return spec.build(spec.make_config(**options), device=device)


def _config_from_meta(spec: ExtractorSpec, emeta: dict) -> dict:
    """Config fields recorded in ``extractor_meta``: its ``config`` entry, or (older files) same-named keys."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(spec.config) if f.metadata.get("provenance", True)}
    recorded = emeta.get("config")
    if isinstance(recorded, dict):
        return {k: v for k, v in recorded.items() if k in names}
    return {k: emeta[k] for k in names if k in emeta and k != "weights"}


def extractor_from_provenance(meta: Any, *, weights: str | os.PathLike | None = None,
                              device: str = "cpu") -> Extractor:
    """Rebuild the extractor that made an embedding file, from its provenance.

    ``meta``: the file's :class:`~zsltool.store.StoreMeta` (or a path to the file). The extractor's name and
    config come from ``extractor`` and ``extractor_meta``; ``weights`` overrides where the weights are read
    from (a local copy of the same file). The weights are checked by sha256 against the recorded digest, so
    a query embedded now lands in the same space as the file's rows; a mismatch is a ZslError.
    """
    if isinstance(meta, (str, os.PathLike)):
        from zsltool.store import read_meta

        meta = read_meta(meta)
    spec = get_extractor(meta.extractor, meta.modality or None)
    emeta = meta.extractor_meta or {}
    fields = _config_from_meta(spec, emeta)
    recorded_weights = (emeta.get("config") or {}).get("weights", emeta.get("weights"))
    if weights is not None:
        fields["weights"] = str(weights)
    elif recorded_weights is not None and "weights" in {f for f in spec.config.__dataclass_fields__}:
        fields["weights"] = recorded_weights
    ex = spec.build(spec.make_config(**fields), device=device)
    want, got = emeta.get("weights_sha256"), ex.meta().get("weights_sha256")
    if want and got and want != got:
        raise ZslError(f"the weights {fields.get('weights')} (sha256 {got[:12]}...) are not the ones that made "
                       f"the file (sha256 {want[:12]}...)",
                       hint="pass --weights with the very weights file the embeddings were extracted with")
    if want and not got:
        log.warning("the rebuilt extractor does not report a weights sha256; the weights could not be checked")
    return ex
