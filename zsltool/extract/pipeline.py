"""``extract``: the one extraction pipeline every modality and model goes through.

    summary = extract("audio", "cnn14", ["clips.csv"], "audio.h5", classes="classes.json")
    summary = extract("image", "resnet101", ["crops.csv"], "image.h5", layer="penultimate")
    summary = extract("text", "word2vec", [], "text.h5", classes="classes.json", vectors="w2v.bin")

Order: refuse an existing output, make the config (a bad option fails here), read the class set and the
inputs (a missing input fails here, before torch is imported), build the extractor (weights may be
downloaded), then run the shared runner (workers, shards, resume, invalid rows) into the atomic store.
Instance-level modalities write one row per input; text writes one row per class
(:func:`zsltool.extract.text.extract_class_rows`).
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

from zsltool.errors import ZslError
from zsltool.files.checks import check_output
from zsltool.files.provenance import input_record

log = logging.getLogger("zsltool.extract")


def extract(
    modality: str,
    model: str,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    config=None,
    classes: str | os.PathLike | None = None,
    batch_size: int = 16,
    workers: int = 0,
    device: str = "auto",
    shard: tuple[int, int] = (0, 1),
    overwrite: bool = False,
    resume: bool = True,
    progress: bool = True,
    extractor=None,
    stdin=None,
    items=None,
    seed: int = 0,
    **options,
) -> dict:
    """Embed ``inputs`` with registered ``model`` of ``modality`` into ``out``; returns the run summary.

    ``config``: the model's config object, or its fields as keyword ``options``. ``extractor``: an already
    built extractor (tests, benchmarks) instead of ``model``; ``items``: ready-made runner items instead of
    ``inputs`` (library only). With ``shard=(k, n)`` only that share of the
    inputs is processed (write each shard to its own file and join them with ``zsl merge``). ``seed``: torch's
    generator while the model is built, so random weights (``weights="random"``) are the same network on every
    run with the same seed (and every shard of a run gets the same network); the caller's generator is left as
    it was.
    """
    from zsltool.extract.registry import get_extractor

    check_output(out, overwrite)  # before any model is built (weights may be downloaded)
    spec = extractor.spec if extractor is not None else get_extractor(model, modality)
    if extractor is not None and options:  # settings of the run (e.g. max_seconds) for a ready extractor
        import dataclasses

        extractor.config = dataclasses.replace(extractor.config, **options)
    if config is None:
        config = extractor.config if extractor is not None else spec.make_config(**options)
    elif options:
        raise ZslError("give the model's settings either as config or as options, not both")
    if modality == "text":
        from zsltool.extract.text import extract_class_rows

        return extract_class_rows(spec, config, inputs, out, classes=classes, batch_size=batch_size,
                                  device=device, overwrite=overwrite, extractor=extractor)
    from zsltool.extract.inputs import collect_inputs

    cs = None
    if classes is not None:
        from zsltool.classes.classset import ClassSet

        cs = ClassSet.load(classes)
    if items is None:
        items, class_ids, records = collect_inputs(modality, inputs, cs, stdin)
    else:
        items, class_ids, records = list(items), list(cs.ids) if cs else [], []
    if cs is not None:
        records.append(input_record(classes))
    if extractor is None:
        import torch

        from zsltool.runtime.env import resolve_device

        device = resolve_device(device)  # after the inputs: a user error needs no torch
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            extractor = spec.build(config, device=device)
        extractor.weights_seed = int(seed)  # recorded with random weights: the network is drawn again from it
    extractor.before_run(items, shard, overwrite)
    return _run(extractor, items, class_ids, records, out, cs, batch_size=batch_size, workers=workers, shard=shard,
                overwrite=overwrite, resume=resume, progress=progress)


# -- each modality's entry point: extract() with that modality's arguments -------------------------------
def extract_audio(source: str | Sequence[str], out: str | os.PathLike, *, classes_path=None, model: str = "vggish",
                  batch_size: int = 16, workers: int = 0, device: str = "cpu", shard: tuple[int, int] = (0, 1),
                  overwrite: bool = False, resume: bool = True, progress: bool = True, extractor=None,
                  items: Sequence | None = None, stdin=None, **options) -> dict:
    """Clip-level audio embeddings of ``source`` (a clip manifest, a folder, an audio file or ``-``) into
    ``out`` with registered audio ``model``; ``options`` are its config fields (``weights``, ``embedding``,
    ``max_seconds``, ``frames`` ...). ``items``: ready-made items instead of ``source`` (library only)."""
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    return extract("audio", model, sources, out, classes=classes_path, batch_size=batch_size, workers=workers,
                   device=device, shard=shard, overwrite=overwrite, resume=resume, progress=progress,
                   extractor=extractor, stdin=stdin, items=items, **options)


def extract_text(out: str | os.PathLike, *, classes=None, names=None, model: str = "word2vec",
                 batch_size: int = 64, device: str = "auto", overwrite: bool = False, **options) -> dict:
    """Write a class-level text embedding file with registered text ``model``; ``options`` are its config
    fields (``vectors``, ``fmt``, ``limit``, ``on_missing``, ``text``, ``descriptions``, ``sentence_model``)."""
    return extract("text", model, [names] if names is not None else [], out, classes=classes,
                   batch_size=batch_size, device=device, overwrite=overwrite, **options)


def extract_image(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, model: str = "resnet101",
                  classes: str | os.PathLike | None = None, batch_size: int = 32, workers: int = 0,
                  device: str = "auto", shard: tuple[int, int] = (0, 1), overwrite: bool = False,
                  resume: bool = True, progress: bool = True, **options) -> dict:
    """Embed images or crops into an instance-level file with registered image ``model``; ``options`` are its
    config fields (``weights``, ``layer``, ``preprocess``, ``image_size``). Returns the run summary."""
    return extract("image", model, inputs, out, classes=classes, batch_size=batch_size, workers=workers,
                   device=device, shard=shard, overwrite=overwrite, resume=resume, progress=progress, **options)


def extract_video(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, model: str = "s3d",
                  classes=None, batch_size: int = 2, workers: int = 0, device: str = "auto",
                  shard: tuple[int, int] = (0, 1), overwrite: bool = False, resume: bool = True,
                  progress: bool = True, **options) -> dict:
    """Embed videos into an instance-level file with registered video ``model`` (mean over clips; per-clip rows
    in /frames); ``options`` are its config fields (``weights``, ``layer``, ``clip_len``, ``clips``,
    ``crop_size``, ``extract_audio``)."""
    return extract("video", model, inputs, out, classes=classes, batch_size=batch_size, workers=workers,
                   device=device, shard=shard, overwrite=overwrite, resume=resume, progress=progress, **options)


def _run(ex, items, class_ids, records, out, cs, *, batch_size, workers, shard, overwrite, resume, progress) -> dict:
    from zsltool.extract.runner import run_extraction, select_items
    from zsltool.extract.record import store_meta
    from zsltool.store import EmbeddingWriter

    meta = store_meta(ex, "instance", records, cs, dim=ex.dim, **({"shard_of": shard[1]} if shard[1] > 1 else {}))
    frames = ex.dim if ex.keeps_frames else None
    with EmbeddingWriter(out, meta=meta, dim=ex.dim, classes=class_ids, overwrite=overwrite, resume=resume,
                         frame_dim=frames) as w:
        summary = run_extraction(items, load=ex.loader(), embed=ex.embed, writer=w, batch_size=batch_size,
                                 workers=workers, shard=shard, desc=f"{ex.name} {ex.unit}s", progress=progress,
                                 unit=ex.unit)
    result = {"out": str(out), "model": ex.name, "dim": ex.dim, **summary.as_dict(), **ex.notes()}
    if isinstance(getattr(ex, "info", None), dict) and ex.info.get("weights"):
        result["weights"] = ex.info["weights"]   # which weights were used, in every summary
    result["shard"] = f"{shard[0] + 1}/{shard[1]}"
    result.update(ex.after_run(select_items(items, shard)))
    return result


class MemorySink:
    """The runner's writer for rows kept in memory (:func:`embed`): each row checked and stored as a file's
    (:func:`zsltool.store.parts.check_row`: a non-finite row is invalid, an invalid row is zeros), in input
    order; nothing to resume."""

    def __init__(self, dim: int):
        self.dim, self.done_ids, self.rows = dim, set(), []

    def add(self, id_, emb, labels=None, valid=True, reason="", frames=None, **_) -> tuple[bool, str]:
        from zsltool.store.parts import check_row

        row = check_row(str(id_), emb, valid=valid, reason=reason, dim=self.dim, n_classes=0, frame_dim=None)
        self.rows.append(row)
        return row[3], row[4]

    def keep_only(self, keys) -> list[str]:
        return []

    def discard(self) -> None:
        pass

    def arrays(self) -> tuple:
        """``(ids, X, valid, reasons)`` of the rows."""
        import numpy as np

        X = np.stack([r[1] for r in self.rows]) if self.rows else np.zeros((0, self.dim), np.float32)
        return [r[0] for r in self.rows], X, np.array([r[3] for r in self.rows], bool), [r[4] for r in self.rows]


def embed(ex, items, *, batch_size: int = 16, workers: int = 0, progress: bool = False, desc: str | None = None,
          unit: str | None = None) -> tuple[MemorySink, dict]:
    """:func:`extract`'s pipeline into memory (``zsl classify``): ``items`` embedded by the built extractor
    ``ex`` (its loader in the workers, its ``embed`` here, the runner of every extraction) into a
    :class:`MemorySink`; returns it and the extractor's after-run additions. Nothing is written but the
    extractor's own side outputs (extract-video's ``extract_audio`` WAVs)."""
    from zsltool.extract.runner import run_extraction

    ex.before_run(items, (0, 1), False)
    sink = MemorySink(ex.dim)
    run_extraction(items, load=ex.loader(), embed=ex.embed, writer=sink, batch_size=batch_size, workers=workers,
                   desc=desc or f"{ex.name} {ex.unit}s", progress=progress, unit=unit or ex.unit)
    return sink, ex.after_run(items)
