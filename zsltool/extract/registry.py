"""Registry of extractors: name -> :class:`~zsltool.extract.base.ExtractorSpec`.

Registration stays import-light (no torch): a spec names the class that implements it
(``"zsltool.extract.audio.panns:Cnn14Extractor"``), so CLI choices, options and ``zsl models`` come from
the registry while ``zsl --help`` stays instant. The built-in extractors are registered in
``zsltool.extract.catalog``.

    list_extractors("audio")                         # ['clap', 'cnn14', 'vggish']
    ex = build_extractor("vggish", device="cpu", embedding="pca")
    ex = extractor_from_provenance("audio.h5")     # the extractor that made a file (its ExtractorRecord)
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


def extractor_from_provenance(source: Any, *, weights: str | os.PathLike | None = None, device: str = "cpu",
                              anchor: str | os.PathLike | None = None) -> Extractor:
    """Rebuild the extractor that made an embedding file, from its provenance: the one way ``extract``,
    ``classify`` and the demo do it.

    ``source``: an :class:`~zsltool.extract.record.ExtractorRecord`, or what it is read from (the file's path or
    :class:`~zsltool.store.StoreMeta`, a checkpoint's provenance entry). Name and config come from the record;
    ``weights`` overrides where the weights are read from (a local copy of the same file); recorded local
    weights that are gone are looked for next to ``anchor`` (:func:`zsltool.files.checks.relocated`). Random weights
    are drawn again from the recorded seed (the caller's generator is left as it was). The weights are checked
    by sha256 against the recorded digest, so a query embedded now lands in the same space as the file's rows; a
    mismatch is a ZslError.
    """
    import torch

    from zsltool.extract.record import ExtractorRecord

    rec = ExtractorRecord.of(source)
    spec = get_extractor(rec.extractor, rec.modality or None)
    fields = {k: v for k, v in (rec.config or _legacy_config(spec, rec.meta)).items()
              if k in spec.config.provenance_fields()}
    load = _weights_to_load(spec, rec, weights, anchor)
    if load is not None and "weights" in spec.config.__dataclass_fields__:
        fields["weights"] = str(load)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(rec.seed or 0)
        ex = spec.build(spec.make_config(**fields), device=device)
    ex.weights_seed = rec.seed
    want, got = rec.weights_sha256, ex.meta().get("weights_sha256")
    if want and got and want != got:
        raise ZslError(f"the weights {fields.get('weights')} (sha256 {got[:12]}...) are not the ones that made "
                       f"the file (sha256 {want[:12]}...)",
                       hint="pass --weights with the very weights file the embeddings were extracted with")
    if want and not got:
        log.warning("the rebuilt extractor does not report a weights sha256; the weights could not be checked")
    return ex


def _legacy_config(spec: ExtractorSpec, emeta: dict) -> dict:
    """Config fields of a file from before ``extractor_meta["config"]``: its same-named keys."""
    return {k: emeta[k] for k in spec.config.provenance_fields() if k in emeta and k != "weights"}


def _weights_to_load(spec: ExtractorSpec, rec, weights, anchor):
    """What to load: ``weights`` when given, else the recorded weights (a registered id, URL, the seed's random
    network, or a local file, looked for next to ``anchor`` when it is gone)."""
    from pathlib import Path

    from zsltool.extract.weights import is_random, is_url

    if weights is not None:
        if not (is_url(str(weights)) or spec.get_weights(str(weights)) is not None or Path(weights).is_file()):
            raise ZslError(f"{rec.modality} network weights not found: {weights}",
                           hint="pass --weights PATH to the same weights (checked by sha256)")
        return weights
    if is_random(rec.weights):
        if rec.seed is None:
            raise ZslError(f"the file was made by {rec.extractor} with random weights and records no seed, so its "
                           "network cannot be drawn again", hint="pass --weights, or embed the inputs yourself "
                           "(--embeddings FILE); zsl extract now records the seed")
        return rec.weights
    local = rec.weights_path or rec.weights
    if local is None or is_url(str(local)) or spec.get_weights(str(local)) is not None or Path(local).is_file():
        return rec.weights
    from zsltool.files.checks import relocated

    moved = relocated(local, anchor)
    if moved is None:
        raise ZslError(f"{rec.modality} network weights not found: {local} (recorded in "
                       f"{rec.path or 'the embedding file'})",
                       hint="pass --weights PATH to the same weights (checked by sha256)")
    log.info(f"{rec.modality} network weights {local} not found; using {moved} (found next to the checkpoint)")
    return moved
