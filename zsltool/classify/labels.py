"""``zsl classify``'s candidate labels: parsing them, and embedding them as the checkpoint's training class
embeddings were made (its recorded text backend, vectors checked by sha256, sentence or registered text model),
or reading them from a class-level file."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.names import SEMANTIC_INPUTS

log = logging.getLogger("zsltool.classify")



def label_hint(known: Sequence[str] = ()) -> str:
    """The hint of a label that cannot be embedded, with an example label whose words are all known (one of the
    labels given, else a training class), never one that is not."""
    eg = f" (e.g. {known[0]!r}, whose words are all known)" if known else ""
    return f"rephrase it with words of the vocabulary{eg}, or pass --class-embeddings FILE"


# -- labels ---------------------------------------------------------------------------------------------------
def parse_labels(labels: str | Sequence[str] | None = None, labels_file: str | os.PathLike | None = None
                 ) -> list[str]:
    """Candidate labels from a comma-separated string or a list, and/or a file (one per line, ``#`` comments)."""
    out: list[str] = []
    if labels is not None:
        items = [str(x).strip() for x in (labels.split(",") if isinstance(labels, str) else list(labels))]
        if any(items) and not all(items):
            raise ZslError(f"label {items.index('') + 1} of {len(items)} is blank: {labels!r}",
                           hint='give every label a name (no doubled or trailing comma): --labels "dog,siren"')
        out += items
    if labels_file is not None:
        from zsltool.files.checks import read_text

        text = read_text(labels_file, "labels file", hint="one label per line")
        out += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    out = [x for x in out if x]
    if not out:
        raise ZslError("no candidate labels given", hint='pass --labels "dog,siren" or --labels-file FILE')
    dup = sorted({x for x in out if out.count(x) > 1})
    if dup:
        raise ZslError(f"labels given more than once: {', '.join(dup[:5])}", hint="list each candidate label once")
    if len(out) < 2:
        log.warning(f"only one candidate label ({out[0]!r}): every clip gets probability 1")
    return out


# -- provenance -----------------------------------------------------------------------------------------------
def _file_record(path) -> dict | None:
    """A provenance record (as in ``ckpt["provenance"]``) read from an embedding file, or None when it is gone."""
    if not path or not Path(path).is_file():
        return None
    from zsltool.store import read_meta
    from zsltool.train.checkpoint import meta_record

    m = read_meta(path)
    return {**meta_record(path, m), "inputs": m.inputs}


def training_provenance(ckpt: dict, what: str) -> dict | list | None:
    """How the checkpoint's training ``audio`` / ``video`` file or ``semantic`` files were made: stored in the
    checkpoint by ``zsl train``; for older checkpoints read from the recorded files when they still exist."""
    prov = ckpt.get("provenance") or {}
    if what in prov and prov[what] is not None:
        return prov[what]
    cfg = ckpt.get("config") or {}
    if what == "semantic":
        source = cfg.get("semantic", "text")
        fields = ("semantic_file",) if cfg.get("semantic_file") else SEMANTIC_INPUTS.get(source, ())
        recs = [_file_record(cfg.get(f)) for f in fields]
        return recs if recs and all(r is not None for r in recs) else None
    return _file_record(cfg.get(what))


# -- class embeddings -----------------------------------------------------------------------------------------
def _rebuilt_rows(rec: dict, labels: list[str], *, device: str = "cpu", **_):
    """Label embeddings by the text extractor that made the training text file, rebuilt from its provenance
    record (weights checked by sha256): each label is embedded as its name and as its description."""
    from zsltool.extract.registry import extractor_from_provenance
    from zsltool.extract.text import TextEntry

    ex = extractor_from_provenance({**rec, "modality": "text"}, device=device)
    rows = ex.rows([TextEntry(id=lab, name=lab, description=lab) for lab in labels])
    missing = [lab for lab, (v, _) in zip(labels, rows) if v is None]
    if missing:
        raise ZslError(f"{len(missing)} of {len(labels)} labels could not be embedded: {'; '.join(missing[:10])}",
                       hint=label_hint([lab for lab, (v, _) in zip(labels, rows) if v is not None]))
    return np.stack([v for v, _ in rows]).astype(np.float32), {"text_model": rec["extractor"]}


def _text_rows(rec: dict, labels: list[str], **options):
    """New labels embedded as the training text file's rows were: by its extractor's own label embedder (the
    registry's ``labels``, e.g. word vectors streamed), else by the extractor rebuilt from the record."""
    from zsltool.extract.registry import EXTRACTORS, list_extractors

    name = rec.get("extractor")
    if name not in list_extractors("text"):
        raise ZslError(f"the training text file was made by {name!r}, which zsl classify cannot rerun",
                       hint="pass --class-embeddings FILE")
    if (rec.get("extractor_meta") or {}).get("text") == "description":
        log.warning("the model was trained on class descriptions: give descriptions as labels for best results")
    embed = EXTRACTORS[name].label_embedder() or _rebuilt_rows
    return embed(rec, labels, **options)


def label_embeddings(ckpt: dict, labels: list[str], *, class_embeddings=None, vectors=None,
                     allow_other_vectors: bool = False, device: str = "cpu") -> tuple[np.ndarray, dict]:
    """(C, Ds) class embeddings of ``labels`` and a record of how they were made."""
    if class_embeddings is not None:
        from zsltool.store import read_embeddings

        e = read_embeddings(class_embeddings, kind="class")
        idx = e.id_index()
        missing = [lab for lab in labels if lab not in idx]
        if missing:
            raise ZslError(f"{len(missing)} labels are not classes of {class_embeddings}: {'; '.join(missing[:10])}",
                           hint=f"its classes are: {', '.join(e.ids[:8])}{' ...' if len(e.ids) > 8 else ''}")
        bad = [lab for lab in labels if not e.valid[idx[lab]]]
        if bad:
            raise ZslError(f"{len(bad)} labels have an invalid embedding in {class_embeddings}: {'; '.join(bad[:10])}")
        sem = training_provenance(ckpt, "semantic") or []
        mods = {r.get("modality") for r in sem if r}
        if mods and e.meta.modality not in mods and ckpt.get("config", {}).get("semantic") != "hybrid":
            log.warning(f"{class_embeddings} holds {e.meta.modality} embeddings, but the model was trained on "
                        f"{', '.join(sorted(m for m in mods if m))} side information")
        return e.X[[idx[lab] for lab in labels]].astype(np.float32), {"source": str(class_embeddings)}
    stored = list(ckpt["semantic"]["ids"])
    if all(lab in set(stored) for lab in labels):
        from zsltool.train.checkpoint import semantic_matrix

        return semantic_matrix(ckpt, labels).numpy(), {"source": "checkpoint (every label is a class it holds)"}
    sem = training_provenance(ckpt, "semantic")
    if not sem:
        raise ZslError("the checkpoint does not record how its class embeddings were made, and the training "
                       "text file is gone", hint="pass --class-embeddings FILE (e.g. made by zsl extract-text)")
    if len(sem) != 1 or sem[0].get("modality") != "text":
        kinds = " + ".join(str(r.get("modality")) for r in sem)
        raise ZslError(f"the model was trained on {kinds} side information, which cannot be made on the fly for "
                       "new labels", hint="pass --class-embeddings FILE made the same way for your labels")
    rec = sem[0]
    X, info = _text_rows(rec, labels, vectors=vectors, allow_other_vectors=allow_other_vectors,
                         anchor=ckpt.get("path"), examples=stored, device=device)
    return X, {"source": f"{rec.get('extractor')} (as {rec.get('path')})", **info}


def partial_label_warnings(partial: dict, tokens: dict, strict: bool) -> list[str]:
    """One warning per label embedded from part of its words (naming the words left out); with ``strict`` the
    first is an error."""
    out = []
    for lab, lost in partial.items():
        out.append(f"label {lab!r} is embedded from {', '.join(tokens.get(lab) or [])} only: "
                   f"{', '.join(repr(w) for w in lost)} {'is' if len(lost) == 1 else 'are'} not in the vocabulary")
    if out and strict:
        raise ZslError(out[0] + (f" (and {len(out) - 1} more)" if len(out) > 1 else "") + " [--strict]",
                       hint=label_hint([lab for lab in tokens if lab not in partial]))
    for w in out:
        log.warning(w)
    return out
