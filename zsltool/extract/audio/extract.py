"""``extract_audio``: audio files -> an instance-level embedding file (one row per clip).

Decoding, downmix, resampling and the log-mel front end run in DataLoader workers; the network runs on
batches of examples pooled across clips in the main process; clip level = mean over its 0.96 s examples
(``frames=True`` also stores the per-example embeddings). Shards, resume and invalid rows come from the
shared runner (:func:`zsltool.extract.runner.run_extraction`).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from zsltool.errors import ZslError
from zsltool.extract.runner import Item, run_extraction
from zsltool.utils import input_record

log = logging.getLogger("zsltool.extract.audio")


# -- inputs --------------------------------------------------------------------------------------------------
def items_from_manifest(path: str | os.PathLike, classes=None) -> list[Item]:
    """Items of a clip manifest (``id,path,labels,start,end``); labels mapped to class indices when
    a ClassSet is given (relative paths are resolved against the manifest's folder)."""
    from zsltool.classes.manifest import read_clip_manifest, resolve_manifest_path

    rows = read_clip_manifest(path)
    out = []
    for r in rows:
        p = resolve_manifest_path(path, r["path"])
        labels = []
        if classes is not None:
            labels = sorted({classes.index(lab) for lab in r["labels"]})
        out.append(Item(id=r["id"], source=str(p), labels=labels,
                        extra={"start": r.get("start"), "end": r.get("end")}))
    return out


def items_from_folder(folder: str | os.PathLike) -> list[Item]:
    """Every audio file under ``folder``; the id is the path relative to the folder (POSIX form)."""
    from zsltool.extract.audio.io import find_audio_files

    root = Path(folder)
    files = find_audio_files(root)
    if not files:
        raise ZslError(f"no audio files under {root}", hint="expected .wav, .flac, .ogg, .mp3, ...")
    return [Item(id=p.relative_to(root).as_posix(), source=str(p)) for p in files]


def items_from_paths(paths: Iterable[str]) -> list[Item]:
    """One item per path (blank lines and ``#`` comments skipped); the id is the path as given."""
    out, seen = [], set()
    for line in paths:
        s = line.strip()
        if not s or s.startswith("#") or s in seen:
            continue
        seen.add(s)
        out.append(Item(id=s, source=s))
    if not out:
        raise ZslError("no audio paths were given on stdin")
    return out


def resolve_inputs(source: str, classes=None, stdin=None) -> tuple[list[Item], list[dict]]:
    """Items and provenance inputs for a manifest (CSV), a folder, or ``-`` (paths on stdin)."""
    if source == "-":
        return items_from_paths(stdin if stdin is not None else sys.stdin), [{"path": "<stdin>", "sha256": ""}]
    p = Path(source)
    if p.is_dir():
        return items_from_folder(p), [{"path": str(p), "sha256": ""}]
    if not p.exists():
        raise ZslError(f"input not found: {p}", hint="give a clip manifest (.csv), a folder of audio, or - for stdin")
    from zsltool.extract.audio.io import AUDIO_EXTENSIONS

    if p.suffix.lower() in AUDIO_EXTENSIONS:
        return [Item(id=p.name, source=str(p))], [input_record(p)]
    return items_from_manifest(p, classes), [input_record(p)]


# -- worker / model steps ------------------------------------------------------------------------------------
@dataclass
class AudioLoader:
    """Runs in a DataLoader worker: decode -> mono 16 kHz -> pad short clips -> log-mel examples."""

    max_seconds: float | None
    examples_fn: object
    sample_rate: int = 16000

    def __call__(self, item: Item) -> dict:
        from zsltool.extract.audio.frontend import pad_to_one_example
        from zsltool.extract.audio.io import load_waveform

        # load_waveform refuses unreadable, empty, silent and non-finite audio; padding gives one example
        wave, info = load_waveform(item.source, start=item.extra.get("start"), end=item.extra.get("end"),
                                   max_seconds=self.max_seconds, sample_rate=self.sample_rate)
        wave, padded = pad_to_one_example(wave)
        return {"id": item.id, "examples": self.examples_fn(wave), "padded": padded, "seconds": info["seconds"],
                "truncated_segment": info["truncated_segment"]}


class AudioEmbedder:
    """Main process: pools the examples of a batch of clips, runs the network in chunks, averages per clip."""

    def __init__(self, extractor, max_examples: int = 256, keep_frames: bool = False):
        self.extractor = extractor
        self.max_examples = max(1, int(max_examples))
        self.keep_frames = keep_frames
        self.padded = 0
        self.padded_ids: list[str] = []  # the first 100, for the summary (memory stays bounded)
        self.truncated = 0  # segments whose file ends before the manifest's `end`
        self.truncated_ids: list[str] = []  # the first 100
        self.examples = 0

    def __call__(self, samples: list[dict]) -> list[dict]:
        import torch

        counts = [s["examples"].shape[0] for s in samples]
        allx = torch.from_numpy(np.concatenate([s["examples"] for s in samples]))
        outs = [self.extractor.embed_examples(allx[i:i + self.max_examples])
                for i in range(0, allx.shape[0], self.max_examples)]
        emb = torch.cat(outs).numpy()
        res, pos = [], 0
        for s, n in zip(samples, counts):
            e = emb[pos:pos + n]
            pos += n
            if s["padded"]:
                self.padded += 1
                if len(self.padded_ids) < 100:
                    self.padded_ids.append(s["id"])
            if s.get("truncated_segment"):
                self.truncated += 1
                if len(self.truncated_ids) < 100:
                    self.truncated_ids.append(s["id"])
            self.examples += n
            res.append({"embedding": e.mean(axis=0), "frames": e if self.keep_frames else None})
        return res


# -- the library function ------------------------------------------------------------------------------------
def extract_audio(
    source: str,
    out: str | os.PathLike,
    *,
    classes_path: str | os.PathLike | None = None,
    model: str = "vggish",
    weights: str | None = None,
    embedding: str = "raw",
    pca_params: str | None = None,
    frames: bool = False,
    max_seconds: float | None = 10.0,
    batch_size: int = 16,
    workers: int = 0,
    device: str = "cpu",  # auto, cpu, cuda
    shard: tuple[int, int] = (0, 1),
    overwrite: bool = False,
    resume: bool = True,
    progress: bool = True,
    extractor=None,
    items: Sequence[Item] | None = None,
    stdin=None,
) -> dict:
    """Extract clip-level audio embeddings into ``out``; returns the run summary (a dict).

    ``source``: a clip manifest CSV, a folder, one audio file, or ``-`` (paths on stdin).
    ``extractor``: an already built extractor (tests, benchmarks) instead of ``model``/``weights``.
    With ``shard=(k, n)`` only that share of the inputs is processed (write each shard to its own file
    and join them with ``zsl merge``).
    """
    from zsltool.classes.classset import ClassSet
    from zsltool.extract.registry import get_extractor
    from zsltool.store import EmbeddingWriter, StoreMeta
    from zsltool.extract.audio.io import RESAMPLER
    from zsltool.utils import check_output, command_line

    check_output(out, overwrite)  # before any model is built (weights may be downloaded)
    if max_seconds is not None and max_seconds <= 0:
        raise ZslError(f"--max-seconds must be positive, got {max_seconds}")
    cs = ClassSet.load(classes_path) if classes_path else None
    if items is None:
        items, inputs = resolve_inputs(source, cs, stdin=stdin)
    else:
        items, inputs = list(items), []
    if cs is not None:
        inputs.append(input_record(classes_path))
    if extractor is None:
        from zsltool.utils import resolve_device

        info = get_extractor(model, modality="audio")
        extractor = info.build(weights=weights, embedding=embedding, pca_params=pca_params,
                               device=resolve_device(device))  # after the inputs: a user error needs no torch
    if "weights" in extractor.meta and Path(str(extractor.meta["weights"])).is_file():
        inputs.append({"path": str(extractor.meta["weights"]), "sha256": extractor.meta.get("weights_sha256", "")})
    emeta = {**extractor.meta, "max_seconds": max_seconds, "pooling": "mean over 0.96 s examples",
             "resampler": RESAMPLER,
             "downmix": "mean of channels",
             "short_clips": "zero-padded to 15600 samples (one example); counted in the run summary",
             "frames": bool(frames)}
    if shard[1] > 1:
        emeta["shard_of"] = shard[1]
    meta = StoreMeta(kind="instance", modality="audio", extractor=extractor.name, extractor_meta=emeta,
                     inputs=inputs, class_set_sha256=cs.sha256 if cs else "", command=command_line())
    loader = AudioLoader(max_seconds=max_seconds, examples_fn=extractor.examples,
                         sample_rate=extractor.sample_rate)
    embedder = AudioEmbedder(extractor, max_examples=max(batch_size, 1) * 8, keep_frames=frames)
    with EmbeddingWriter(out, meta=meta, dim=extractor.dim, classes=cs.ids if cs else (), overwrite=overwrite,
                         resume=resume, frame_dim=extractor.dim if frames else None) as w:
        summary = run_extraction(items, load=loader, embed=embedder, writer=w, batch_size=batch_size,
                                 workers=workers, shard=shard, desc="extract-audio", progress=progress, unit="clip")
    summary.notes.update({"out": str(out), "model": extractor.name, "embedding": extractor.embedding,
                          "padded_short_clips": embedder.padded,
                          "padded_ids": embedder.padded_ids, "truncated_segments": embedder.truncated,
                          "truncated_ids": embedder.truncated_ids, "examples": embedder.examples,
                          "shard": f"{shard[0] + 1}/{shard[1]}"})
    return summary.as_dict()
