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
import io
import os
import re
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

    def __init__(self, folder: str | os.PathLike, out: str | os.PathLike, name: str = "lock"):
        self.folder, self.out = Path(folder), Path(out)
        self.path = self.folder / name
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

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *_exc) -> None:
        self.release()


def remove_if_empty(folder: str | os.PathLike, ignore: Iterable[str] = ()) -> bool:
    """Remove ``folder`` when it holds nothing but empty sub-folders and the files named in ``ignore``."""
    p = Path(folder)
    names = set(ignore)
    try:
        entries = list(p.rglob("*"))
    except OSError:
        return False
    if any(q.is_file() and not (q.parent == p and q.name in names) for q in entries):
        return False
    try:
        for q in sorted(entries, key=lambda q: len(q.parts), reverse=True):
            q.rmdir() if q.is_dir() else q.unlink()
        p.rmdir()
    except OSError:
        return False
    return True


# -- a full disk -------------------------------------------------------------------------------------------
NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


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
                                   "File too large", "errno = 28", "errno = 122", "errno = 30", "errno = 27")):
            return True
        e = e.__cause__ or e.__context__
    return False


def no_space_error(path: str | os.PathLike, e: BaseException) -> ZslError:
    why = {errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system",
           errno.EFBIG: "file too large for the file system or the file size limit"}.get(getattr(e, "errno", None))
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


class GuardedFile(io.RawIOBase):
    """A file for h5py's ``fileobj`` driver that never lets a failed write reach HDF5.

    HDF5 cannot recover from a write error inside its C library (a later close or the interpreter's exit
    crashes with a segmentation fault). Through this object the first OSError of a write (ENOSPC, EDQUOT, ...)
    is recorded in ``error`` and that write and every later one report success without writing, so HDF5
    finishes and closes normally; the caller then checks ``error``, deletes the file and reports. Reads of
    regions never written return zeros.
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = str(path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
        hold_lock(self._fd)  # a live writer's temporary file is never taken for a stale one
        self._pos = 0
        self.error: OSError | None = None

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            self._pos = os.fstat(self._fd).st_size + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, b) -> int:
        mv = memoryview(b).cast("B")
        n = os.preadv(self._fd, [mv], self._pos)
        if n < len(mv):
            mv[n:] = bytes(len(mv) - n)
        self._pos += len(mv)
        return len(mv)

    def write(self, b) -> int:
        mv = memoryview(b).cast("B")
        if self.error is None:
            try:
                done = 0
                while done < len(mv):
                    done += os.pwrite(self._fd, mv[done:], self._pos + done)
            except OSError as e:
                self.error = e
        self._pos += len(mv)
        return len(mv)

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else size
        if self.error is None:
            try:
                os.ftruncate(self._fd, size)
            except OSError as e:
                self.error = e
        return size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self._fd is not None and self._fd >= 0:
            if self.error is None:
                try:
                    os.fsync(self._fd)
                except OSError as e:
                    self.error = e
            os.close(self._fd)
            self._fd = -1
        super().close()


def hold_lock(fd: int) -> bool:
    """Take an exclusive flock on an open file (a writer's own temporary file) without waiting; the lock lasts
    while any duplicate of the descriptor is open, and ends when the process dies."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files (``.NAME.XXXXXXXX.tmp``) that killed runs left next to ``path``.

    A live writer holds an flock on its temporary file (:func:`hold_lock`); a file whose lock can be taken has
    no live writer, so it is stale and removed (while locked)."""
    p = Path(path)
    pat = re.compile(r"^\." + re.escape(p.name) + r"\.[A-Za-z0-9_]{8}\.tmp$")
    removed = []
    try:
        entries = list(p.parent.iterdir())
    except OSError:
        return removed
    for q in entries:
        if not pat.match(q.name):
            continue
        try:
            fd = os.open(q, os.O_RDONLY)
        except OSError:
            continue
        try:
            if hold_lock(fd):
                q.unlink()
                removed.append(q)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


# -- the CLI hook: every command ---------------------------------------------------------------------------------
OUTPUT_PARAMS = ("out", "plot")  # the parameters that name what a command writes


def guard_command(fn):
    """Wrap a CLI command's callback: its outputs (``out``, ``plot``) must not be any file it reads (every other
    parameter naming an existing file), those inputs stay protected for every write the command makes
    (sidecars included), and a full disk anywhere becomes ``Error: no space left writing PATH``."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        outputs = [kwargs[k] for k in OUTPUT_PARAMS if kwargs.get(k) not in (None, "")]
        inputs = existing_files(v for k, v in kwargs.items() if k not in OUTPUT_PARAMS)
        for o in outputs:
            check_not_input(o, inputs)
        with protect_inputs(inputs):
            try:
                return fn(*args, **kwargs)
            except ZslError:
                raise
            except (OSError, RuntimeError) as e:
                if is_no_space(e):
                    where = getattr(e, "filename", None) or (outputs[0] if outputs else "the output")
                    raise no_space_error(where, e) from None
                raise

    wrapper.__zsl_guarded__ = True
    return wrapper
