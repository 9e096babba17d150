"""Safety rules every command shares: no code from data files, no output over an input, one writer per
output, and a full disk as a user error.

* :func:`numpy_array_globals` is the one exception to "tensors and plain data only" when loading weight and
  parameter files: numpy's array reconstruction, so that files saved as a dict of numpy arrays (torchvggish's
  PCA release) load; every other object is still refused, and arrays must be numeric.
* :func:`check_not_input` refuses an output that is the same file as one of the command's inputs (resolved
  paths and ``os.path.samefile``), even with ``--overwrite``. The CLI registers each command's input files
  (:func:`protect_inputs`), so every writer that calls ``check_output`` is covered, sidecars included.
* :class:`OutputLock` is an exclusive ``fcntl`` lock held for a run's life; the kernel drops it when the
  process dies, so a killed run never blocks a resume.
* :func:`no_space` maps ENOSPC / EDQUOT / EROFS to ``ZslError("no space left writing PATH")``.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from zsltool.errors import ZslError

# -- numpy arrays in torch files ---------------------------------------------------------------------------
NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex


def numpy_array_globals() -> list:
    """The globals a pickled numpy array needs, for ``torch.serialization.safe_globals``: the array
    reconstruction function (also under its NumPy 1.x name ``numpy.core.multiarray._reconstruct``, which files
    written before NumPy 2 use), ``numpy.ndarray``, ``numpy.dtype`` and the numeric dtype classes (whose state
    a pickled dtype sets). Nothing else: no object or string dtypes."""
    import numpy as np

    try:
        reconstruct = np._core.multiarray._reconstruct  # NumPy >= 2
    except AttributeError:  # pragma: no cover - NumPy 1.x
        reconstruct = np.core.multiarray._reconstruct
    names = {f"{reconstruct.__module__}.{reconstruct.__name__}", "numpy.core.multiarray._reconstruct",
             "numpy._core.multiarray._reconstruct"}
    dtype_classes = sorted({type(np.dtype(c)) for c in "?bBhHiIlLqQefdgFDG"}, key=lambda t: t.__name__)
    return [(reconstruct, n) for n in sorted(names)] + [np.ndarray, np.dtype, *dtype_classes]


def non_numeric_arrays(obj: Any, where: str = "") -> list[str]:
    """Places (``key/key``) in a loaded structure that hold numpy arrays of non-numeric dtype."""
    import numpy as np

    bad = []
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in NUMERIC_KINDS:
            bad.append(where or "<root>")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            bad += non_numeric_arrays(v, f"{where}/{k}" if where else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            bad += non_numeric_arrays(v, f"{where}[{i}]")
    return bad


# -- outputs versus inputs ---------------------------------------------------------------------------------
_PROTECTED: contextvars.ContextVar[tuple] = contextvars.ContextVar("zsl_protected_inputs", default=())


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file: equal resolved paths, or ``os.path.samefile`` (hard links,
    bind mounts) when both exist."""
    try:
        if Path(a).expanduser().resolve() == Path(b).expanduser().resolve():
            return True
    except (OSError, RuntimeError):
        pass
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_not_input(out: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """ZslError when ``out`` is the same file as one of ``inputs`` (or of the inputs the running command
    registered with :func:`protect_inputs`); an output never replaces an input, even with --overwrite."""
    for inp in [*inputs, *_PROTECTED.get()]:
        if inp is None or str(inp) in ("", "-"):
            continue
        if same_file(out, inp):
            raise ZslError(f"output is the same file as input {inp}",
                           hint="write the output to another path; zsl never replaces one of a command's inputs, "
                                "even with --overwrite")


@contextlib.contextmanager
def protect_inputs(paths: Iterable[str | os.PathLike]) -> Iterator[None]:
    """While active, every ``check_output`` (and :func:`check_not_input`) refuses these files as outputs."""
    token = _PROTECTED.set(tuple(_PROTECTED.get()) + tuple(str(p) for p in paths))
    try:
        yield
    finally:
        _PROTECTED.reset(token)


def existing_files(values: Iterable[Any]) -> list[str]:
    """The values (strings, paths, lists of them) that name existing files."""
    out: list[str] = []
    for v in values:
        if isinstance(v, (list, tuple)):
            out += existing_files(v)
        elif isinstance(v, (str, os.PathLike)) and str(v) not in ("", "-"):
            try:
                if os.path.isfile(v):
                    out.append(str(v))
            except (OSError, ValueError):
                pass
    return out


# -- one writer per output ---------------------------------------------------------------------------------
class OutputLock:
    """An exclusive, non-blocking ``fcntl.flock`` on ``folder/lock``, naming the output it guards.

    The lock file records the holder's pid for the message a second writer gets. The kernel releases the lock
    when the holding process ends, however it ends (kill -9 included), so a stale lock file never blocks.
    """

    def __init__(self, folder: str | os.PathLike, out: str | os.PathLike):
        self.folder, self.out = Path(folder), Path(out)
        self.path = self.folder / "lock"
        self._fd: int | None = None

    def acquire(self) -> "OutputLock":
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            try:
                pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            except OSError:
                pid = "?"
            os.close(fd)
            raise ZslError(f"another zsl run is writing {self.out} (pid {pid})",
                           hint="wait for it to finish, or stop it; two runs must not write one output") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# -- a full disk -------------------------------------------------------------------------------------------
NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


def is_no_space(e: BaseException) -> bool:
    """An OSError (possibly wrapped, as h5py and numpy re-raise) caused by a full disk, an exhausted quota or a
    read-only file system."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in NO_SPACE_ERRNOS:
            return True
        text = str(e)
        if any(s in text for s in ("No space left on device", "Disk quota exceeded", "Read-only file system",
                                   "errno = 28", "errno = 122", "errno = 30")):
            return True
        e = e.__cause__ or e.__context__
    return False


def no_space_error(path: str | os.PathLike, e: BaseException) -> ZslError:
    why = {errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system"}.get(getattr(e, "errno", None))
    msg = f"no space left writing {path}" + (f" ({why})" if why else "")
    return ZslError(msg, hint="free some space (or write to another disk) and run the command again; "
                              "an interrupted extraction resumes")


@contextlib.contextmanager
def no_space(path: str | os.PathLike) -> Iterator[None]:
    """Turn a full disk (ENOSPC, EDQUOT, EROFS) inside the block into ``ZslError("no space left writing
    PATH")``; other errors pass through unchanged."""
    try:
        yield
    except ZslError:
        raise
    except (OSError, RuntimeError, ValueError) as e:
        if is_no_space(e):
            raise no_space_error(path, e) from None
        raise
