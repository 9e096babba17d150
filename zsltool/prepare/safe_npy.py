"""Reading a pickled ``{name: vector}`` dict from a ``.npy`` file without a general unpickle.

The AVCA-GZSL benchmark ships its class word embeddings as ``np.save(path, {class name: 300-d vector})``: a
0-d object array whose data is a pickle stream. ``np.load(allow_pickle=True)`` would run whatever that stream
asks for. Here the stream is read by an unpickler that resolves only the three numpy names such a file needs
(``_reconstruct``, ``ndarray``, ``dtype``, plus ``scalar`` for numpy scalars); every other global (``os.system``,
``builtins.eval``, ...) is refused before anything runs, and the result must be a dict of strings to numeric
1-D arrays of one length.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from zsltool.errors import ZslError

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}


class _Restricted(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def load_vector_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``{str: float32 vector}`` from a ``.npy`` holding a pickled dict; a ZslError for anything else."""
    p = Path(path)
    if not p.is_file():
        raise ZslError(f"word-embedding file not found: {p}", hint="check the path")
    hint = "expected np.save(path, {class name: vector}) as the AVCA-GZSL release ships it"
    with open(p, "rb") as f:
        try:
            fmt = np.lib.format
            read_header = fmt.read_array_header_1_0 if fmt.read_magic(f) == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read_header(f)
        except (ValueError, OSError) as e:
            raise ZslError(f"{p} is not a .npy file ({e})", hint=hint) from None
        if dtype != np.dtype(object) or shape != ():
            raise ZslError(f"{p} holds a {dtype} array of shape {shape}, not a pickled dict", hint=hint)
        try:
            obj = _Restricted(f).load()
        except pickle.UnpicklingError as e:
            raise ZslError(f"{p}: refused to unpickle it ({e}); only a dict of names to numeric vectors is read",
                           hint=hint) from None
        except Exception as e:  # noqa: BLE001 - truncated or corrupt stream
            raise ZslError(f"{p}: cannot read its pickled content ({type(e).__name__}: {e})", hint=hint) from None
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict) or not obj:
        raise ZslError(f"{p} does not hold a non-empty dict (found {type(obj).__name__})", hint=hint)
    out, dim = {}, None
    for k, v in obj.items():
        if not isinstance(k, str):
            raise ZslError(f"{p}: key {k!r} is not a string", hint=hint)
        if not isinstance(v, np.ndarray) or v.dtype.kind not in "fiu" or v.ndim != 1:
            raise ZslError(f"{p}: the value of {k!r} is not a numeric vector", hint=hint)
        if dim is not None and len(v) != dim:
            raise ZslError(f"{p}: vectors of different lengths ({dim} and {len(v)} for {k!r})")
        dim = len(v)
        out[k] = v.astype(np.float32)
    return out
