"""The extraction loop shared by every extractor.

Inputs are decoded and preprocessed in DataLoader workers (``load``), the model runs on batches in the main
process (``embed``), rows are written in input order through an :class:`EmbeddingWriter` (atomic, resumable),
and a row that fails to load is written as invalid with its reason instead of stopping the run.

    summary = run_extraction(items, load=load_fn, embed=embed_fn, writer=w, batch_size=16, workers=2)

``load(item) -> dict`` runs in a worker and returns whatever ``embed`` needs (numpy arrays or tensors); it
raises (preferably :class:`ZslError` or ``InvalidInput``) for a bad input. ``embed(samples) -> list[dict]``
receives the loaded samples of one batch and returns, per sample, ``{"embedding": 1-D array,
"frames": optional 2-D array}``.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from zsltool.errors import ZslError
from zsltool.store.writer import EmbeddingWriter
from zsltool.runtime.env import shard_items

log = logging.getLogger("zsltool.extract")


class InvalidInput(Exception):
    """Raised by a loader for an input that cannot be embedded (empty, silent, corrupt, ...)."""


@dataclass
class Item:
    id: str
    source: Any  # a path, a (path, box) pair, a class name, ...
    labels: list[int] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


@dataclass
class ExtractionSummary:
    total: int = 0  # items in this shard
    skipped: int = 0  # already written by an earlier (killed) run
    written: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    notes: dict = field(default_factory=dict)

    @property
    def valid(self) -> int:
        return self.written - len(self.invalid)

    @property
    def items_per_s(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {"total": self.total, "skipped_already_done": self.skipped, "written": self.written,
                "valid": self.valid, "invalid": len(self.invalid),
                "invalid_rows": [{"id": i, "reason": r} for i, r in self.invalid],
                "seconds": round(self.seconds, 3), "items_per_s": round(self.items_per_s, 2), **self.notes}


class _Dataset:
    def __init__(self, items: Sequence[Item], load: Callable[[Item], Any]):
        self.items, self.load = items, load

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        it = self.items[i]
        try:
            return {"item": it, "sample": self.load(it), "error": None}
        except (InvalidInput, ZslError) as e:
            return {"item": it, "sample": None, "error": str(e)}
        except Exception as e:  # noqa: BLE001 - a bad input must not stop a long run
            return {"item": it, "sample": None, "error": f"{type(e).__name__}: {e}"}


def _close_in_worker(fd: int, _worker_id: int) -> None:
    """DataLoader worker start: close the worker's inherited copy of the output lock's descriptor."""
    import os

    try:
        os.close(fd)
    except OSError:
        pass


def _as_is(sample):
    return sample  # no conversion of numpy arrays to tensors: ``embed`` gets what ``load`` returned


def _batches(samples, size: int):
    """Consecutive lists of ``size`` loaded samples (the last may be shorter)."""
    it = iter(samples)
    return iter(lambda: list(itertools.islice(it, size)), [])


def select_items(items: Sequence[Item], shard: tuple[int, int] = (0, 1)) -> list[Item]:
    """The deterministic share of ``items`` for shard (k, n) (by id hash)."""
    k, n = shard
    if n <= 1:
        return list(items)
    return shard_items(items, k, n, key=lambda it: it.id)


def item_key(it: Item) -> str:
    """A short hash of what an item's row is made from (source, labels, extra such as start/end or a box): a
    resumed run keeps an earlier row only when its id and key are unchanged."""
    text = json.dumps([str(it.source) if not isinstance(it.source, (list, tuple)) else [str(x) for x in it.source],
                       list(it.labels), it.extra], sort_keys=True, default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def run_extraction(items: Sequence[Item], *, load: Callable[[Item], Any], embed: Callable[[list[Any]], list[dict]],
                   writer: EmbeddingWriter, batch_size: int = 16, workers: int = 0, shard: tuple[int, int] = (0, 1),
                   desc: str = "extract", progress: bool = True, unit: str = "item") -> ExtractionSummary:
    """Embed ``items`` into ``writer``; see the module docstring. Raises ZslError if nothing was valid."""
    import torch

    from zsltool.runtime.progress import Progress

    if not items:
        raise ZslError("the inputs list nothing to extract", hint="check the manifest, folder or list of files")
    mine = select_items(items, shard)
    keys = {it.id: item_key(it) for it in mine}
    todo, summary = _resume(mine, keys, writer)
    bs = max(1, batch_size)
    loader = _loader(todo, load, writer, bs, workers)
    t0 = time.perf_counter()
    # a bar on a terminal; on a pipe or log file a line every ZSL_PROGRESS_INTERVAL seconds (zsltool.runtime.progress)
    bar = Progress(total=len(todo), desc=desc, unit=unit, enabled=progress)
    try:
        with torch.inference_mode():
            for batch in _batches(loader, bs):
                _write_batch(batch, embed, writer, keys, summary)
                bar.update(len(batch))
    finally:
        bar.close()
        summary.seconds = time.perf_counter() - t0
    if summary.total and summary.skipped == 0 and summary.valid == 0:
        writer.discard()
        first = summary.invalid[0][1] if summary.invalid else "no inputs"
        raise ZslError(f"none of the {summary.total} inputs could be embedded (first problem: {first})",
                       hint="check the input files")
    for i, r in summary.invalid[:10]:
        log.warning(f"invalid: {i}: {r}")
    if len(summary.invalid) > 10:
        log.warning(f"... and {len(summary.invalid) - 10} more invalid rows (see the file's invalid_reason)")
    return summary


def _resume(mine: list[Item], keys: dict[str, str], writer: EmbeddingWriter) -> tuple[list[Item], ExtractionSummary]:
    """The items still to embed: the writer keeps the rows of an interrupted run whose id and key are unchanged
    (the others are dropped, with a warning)."""
    stale = writer.keep_only(keys) if writer.done_ids else []
    if stale:
        log.warning(f"resume: dropped {len(stale)} rows of the interrupted run whose inputs are not among the current "
                    f"ones or have changed: {', '.join(stale[:5])}{' ...' if len(stale) > 5 else ''}")
    todo = [it for it in mine if it.id not in writer.done_ids]
    summary = ExtractionSummary(total=len(mine), skipped=len(mine) - len(todo))
    if stale:
        summary.notes["dropped_on_resume"] = len(stale)
        summary.notes["dropped_on_resume_ids"] = stale[:100]
    if summary.skipped:
        log.info(f"{summary.skipped} of {len(mine)} inputs were already written; resuming with {len(todo)}")
    return todo, summary


def _loader(todo: list[Item], load, writer: EmbeddingWriter, bs: int, workers: int):
    """Workers load single items (a batch is spread over every worker, so the first network call waits for
    batch_size / workers loads, not batch_size); the main process groups them into batches for ``embed``."""
    from torch.utils.data import DataLoader

    # A worker must not keep the output's lock alive after this process dies (a resume would be refused).
    lock_fd = getattr(getattr(writer, "_lock", None), "_fd", None)
    return DataLoader(_Dataset(todo, load), batch_size=None, shuffle=False, collate_fn=_as_is,
                      num_workers=max(0, workers), persistent_workers=False,
                      prefetch_factor=4 * bs if workers > 0 else None,
                      worker_init_fn=functools.partial(_close_in_worker, lock_fd) if lock_fd is not None else None)


def _write_batch(batch: list[dict], embed, writer: EmbeddingWriter, keys: dict[str, str],
                 summary: ExtractionSummary) -> None:
    """Embed the loaded samples of ``batch`` and write every row in order: an input that failed to load or to
    embed is written as invalid with its reason (the writer also stores a non-finite embedding as invalid)."""
    ok = [b for b in batch if b["error"] is None]
    outs = embed([b["sample"] for b in ok]) if ok else []
    if len(outs) != len(ok):
        raise RuntimeError(f"extractor returned {len(outs)} results for {len(ok)} inputs")
    res = {id(b): o for b, o in zip(ok, outs)}
    for b in batch:
        it = b["item"]
        error = b["error"] if b["error"] is not None else (res[id(b)].get("error") or None)
        if error is not None:
            writer.add(it.id, [0.0] * writer.dim, labels=it.labels, valid=False, reason=error, key=keys[it.id])
            summary.invalid.append((it.id, error))
        else:
            valid, reason = writer.add(it.id, res[id(b)]["embedding"], labels=it.labels,
                                       frames=res[id(b)].get("frames"), key=keys[it.id])
            if not valid:
                summary.invalid.append((it.id, reason))
        summary.written += 1
