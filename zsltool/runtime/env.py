"""How a run runs: seeds, the device, shards (from --shard or the launcher's environment), and malloc's heap."""

from __future__ import annotations

import hashlib
import os
import random
import sys
from pathlib import Path
from typing import Any, Iterable

from zsltool.errors import ZslError


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; ``cuda`` without a GPU is a user error."""
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise ZslError(f"unknown device {device!r}", hint="use auto, cpu or cuda")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ZslError("--device cuda was asked for but no CUDA device is available", hint="use --device cpu")
    return device


def env_shard() -> tuple[int, int] | None:
    """The shard ``(k, n)`` a launcher gives through the environment: torchrun's ``RANK`` / ``WORLD_SIZE``, else a
    SLURM job array's ``SLURM_ARRAY_TASK_ID`` / ``SLURM_ARRAY_TASK_COUNT`` (counted from
    ``SLURM_ARRAY_TASK_MIN``); None when neither is set."""
    for ik, nk, base in (("RANK", "WORLD_SIZE", None),
                         ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN")):
        rank, world = os.environ.get(ik), os.environ.get(nk)
        if rank is None or world is None:
            continue
        try:
            k, n = int(rank) - int(os.environ.get(base, 0) if base else 0), int(world)
        except ValueError:
            raise ZslError(f"{ik}={rank!r} / {nk}={world!r} are not integers") from None
        if not (0 <= k < n):
            raise ZslError(f"{ik}={rank} is outside {nk}={n}" + (f" (from {base})" if base else ""))
        return k, n
    return None


def parse_shard(spec: str | None) -> tuple[int, int]:
    """Parse ``K/N`` (1-based K) into ``(k, n)`` with 0 <= k < n.

    Without a spec, the launcher's shard (:func:`env_shard`: torchrun, SLURM array) when set; else ``(0, 1)``.
    """
    if spec is None or spec == "":
        return env_shard() or (0, 1)
    try:
        a, b = spec.split("/")
        k, n = int(a), int(b)
    except ValueError:
        raise ZslError(f"bad shard {spec!r}", hint="write it as K/N, e.g. --shard 2/8 (K from 1 to N)") from None
    if n < 1 or not (1 <= k <= n):
        raise ZslError(f"bad shard {spec!r}", hint="K must be between 1 and N")
    return k - 1, n


def shard_out(out, spec: str | None):
    """The output path of this process: ``out`` itself, or ``NAME.K-of-N.EXT`` when the shard comes from the
    launcher (no ``--shard``; torchrun or a SLURM array run every task with the same command line), so the
    tasks never share an output; join them with ``zsl merge``."""
    shard = None if spec else env_shard()
    if out is None or shard is None or shard[1] == 1:
        return out
    k, n = shard
    p = Path(out).with_name(f"{Path(out).stem}.{k + 1}-of-{n}{Path(out).suffix}")
    import logging

    logging.getLogger("zsltool").info(f"shard {k + 1}/{n} from the launcher's environment: writing {p}")
    return str(p) if isinstance(out, str) else p


def shard_items(items: Iterable[Any], k: int, n: int, key=None) -> list:
    """The deterministic share ``k`` of ``n`` of ``items``: items whose stable hash of key mod n == k.

    Hashing the key (not the position) keeps shards stable when the input list is reordered.
    """
    out = []
    for it in items:
        s = str(key(it) if key else it).encode("utf-8")
        if int(hashlib.sha1(s).hexdigest()[:8], 16) % n == k:
            out.append(it)
    return out


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
KEEP_HEAP_BYTES = 1 << 30
_MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_heap(limit: int = KEEP_HEAP_BYTES) -> bool:
    """On Linux with glibc: serve allocations of up to ``limit`` bytes from malloc's heap and keep up to ``limit``
    freed bytes at its top, for the rest of the process. Returns whether both settings took effect; a no-op
    (False) on other platforms and C libraries, with ``ZSL_KEEP_HEAP=0`` in the environment, when the user set
    glibc's own ``MALLOC_*_`` variables or its ``glibc.malloc`` tunables (their choice wins), or when anything
    fails: it never fails the caller.

    Why (docs/scaling.md, "Memory the network's calls reuse"): glibc maps every allocation over its mmap threshold
    (dynamic, at most 32 MiB) with a fresh ``mmap`` and returns it on ``free``, and trims freed memory at the top
    of its heap. A network call on a batch of audio examples allocates feature maps of up to ~250 MB, so every
    call page-faults all of them in again (the kernel zeroes each page: about a seventh of extract-audio's CPU
    time). Kept in the heap, the next call reuses the same pages. The price: memory freed between calls stays
    resident until the process ends, and the peak can be higher (fragments of the heap are not reused).
    """
    if not sys.platform.startswith("linux") or os.environ.get("ZSL_KEEP_HEAP", "").strip() == "0":
        return False
    if any(k in os.environ for k in _MALLOC_ENV) or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)  # the C library the process runs on
        if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
            return False  # musl and others: their mallopt is not glibc's
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        value = int(min(limit, 2**31 - 1))
        # the mmap threshold first: where it is refused (mallopt(3) documents a cap of 32 MiB on 64-bit systems;
        # glibc 2.36 accepts more), setting the trim threshold alone would freeze glibc's dynamic mmap threshold
        # where it stands, so nothing is changed
        if libc.mallopt(_M_MMAP_THRESHOLD, value) != 1:
            return False
        return libc.mallopt(_M_TRIM_THRESHOLD, value) == 1
    except Exception:  # noqa: BLE001 - a speed setting must never fail a command
        return False
