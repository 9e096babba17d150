"""Small shared helpers: hashing, atomic writes, seeds, devices, shards, provenance."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import random
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable

from zsltool.errors import ZslError


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (once per run inside ``zsltool.runcache.run_cache()``)."""
    from zsltool.runcache import cached

    return cached("sha256", path, lambda: _sha256_file(path, chunk))


def _sha256_file(path: str | os.PathLike, chunk: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    """Hex sha256 of the canonical JSON form of ``obj`` (sorted keys, no whitespace)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def input_record(path: str | os.PathLike) -> dict:
    """Provenance record of one input file: its path and sha256."""
    p = Path(path)
    return {"path": str(p), "sha256": sha256_file(p) if p.is_file() else ""}


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def command_line() -> str:
    """The command line of this process, quoted so it can be pasted back into a shell."""
    argv = list(sys.argv)
    if argv:
        argv[0] = "zsl" if Path(argv[0]).name in ("__main__.py", "zsl") else Path(argv[0]).name
    return " ".join(shlex.quote(a) for a in argv)


def require_file(path: str | os.PathLike, what: str = "file") -> Path:
    """Return ``path`` as a Path, or raise a ZslError when it is missing or a directory."""
    p = Path(path)
    if not p.exists():
        raise ZslError(f"{what} not found: {p}", hint="check the path")
    if p.is_dir():
        raise ZslError(f"{what} is a directory, not a file: {p}")
    return p


def read_text(path: str | os.PathLike, what: str = "text file", hint: str | None = None) -> str:
    """The text of a user's file (UTF-8, BOM dropped); a ZslError when it is missing, a folder or binary."""
    p = require_file(path, what)
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        from zsltool.formats import _binary_kind

        with open(p, "rb") as fh:
            kind = _binary_kind(fh.read(8)) or "a binary file"
        article = "an" if what[:1].lower() in "aeiou" else "a"
        raise ZslError(f"{p} is {kind}, not {article} {what}", hint=hint) from None


def torch_load(path: str | os.PathLike, what: str = "torch file", hint: str | None = None,
               numpy_arrays: bool = False):
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one short ZslError for every way a user's
    file can be wrong: missing, a folder, not a torch file at all (JSON, HDF5, text), truncated, or holding
    Python objects that are not tensors and plain data (never unpickled).

    ``numpy_arrays=True`` (weight and parameter files) also allows numeric numpy arrays, through exactly numpy's
    array reconstruction (zsltool.safety.numpy_array_globals); any other object is still refused."""
    p = require_file(path, what)
    with open(p, "rb") as fh:
        head = fh.read(8)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        from zsltool.formats import _binary_kind

        kind = _binary_kind(head) or ("an empty file" if not head else "not a file saved with torch.save")
        raise ZslError(f"{p} is not a {what}: it is {kind}", hint=hint)
    import warnings

    import torch

    import contextlib

    from zsltool.safety import non_numeric_arrays, numpy_array_globals

    allow = torch.serialization.safe_globals(numpy_array_globals()) if numpy_arrays else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(), allow:
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable or unsafe file is the user's file problem
        text = str(e)
        if "Weights only load failed" in text:
            reason = "it holds Python objects other than tensors and plain data, which zsl never unpickles"
        else:
            reason = f"{type(e).__name__}: {(text.splitlines() or [''])[0][:200]} (corrupt or truncated?)"
        raise ZslError(f"cannot load {what} {p}: {reason}", hint=hint) from None
    bad = non_numeric_arrays(obj) if numpy_arrays else []
    if bad:
        raise ZslError(f"cannot load {what} {p}: it holds numpy arrays that are not numeric ({', '.join(bad[:3])}), "
                       "which zsl never unpickles", hint=hint)
    return obj


def check_output(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse to replace an existing output unless ``overwrite``; make its folder and check it is writable."""
    from zsltool.safety import check_not_input

    p = Path(path)
    check_not_input(p)  # never one of the running command's inputs, even with --overwrite
    if p.exists() and p.is_dir():
        raise ZslError(f"output is a directory: {p}", hint="give a file name inside it")
    if p.exists() and not overwrite:
        raise ZslError(f"output already exists: {p}", hint="pass --overwrite to replace it")
    ensure_writable_folder(p.parent)
    return p


def ensure_writable_folder(folder: Path) -> None:
    """Create ``folder`` (and parents) and make sure a file can be created in it; ZslError otherwise."""
    for q in [folder, *folder.parents]:
        if q.exists():
            if not q.is_dir():
                raise ZslError(f"cannot write into {folder}: {q} is a file, not a folder",
                               hint="choose another output path")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".zsl-write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ZslError(f"cannot write into output folder {folder}: {e.strerror or e}",
                       hint="choose a writable output path") from None


def _default_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give (0o666 minus the umask); mkstemp gives 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder, fsync, then rename over ``path``.

    On any failure the old file is untouched and the temporary file removed; a full disk is
    ``ZslError("no space left writing PATH")``."""
    from zsltool.safety import check_not_input, hold_lock, no_space, remove_stale_temps

    p = Path(path)
    check_not_input(p)
    with no_space(p):
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        lock = os.dup(fd)  # held until the rename: a live writer's temporary file is never taken for a stale one
        hold_lock(lock)
        try:
            os.chmod(tmp, _default_file_mode())
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        finally:
            os.close(lock)
    remove_stale_temps(p)  # of runs killed while writing this file


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def temp_path_for(path: str | os.PathLike) -> Path:
    """A unique temporary path in the same folder as ``path`` (for writers that need a file name)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    os.chmod(tmp, _default_file_mode())
    return Path(tmp)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if imported or importable) torch."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


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


def jsonable(obj: Any) -> Any:
    """numpy scalars/arrays -> Python; NaN/Inf -> None (JSON has no NaN)."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if np is not None and isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if np is not None and isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "__fspath__"):
        return str(obj)
    return obj
