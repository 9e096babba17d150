"""A pretraining run's resume point, ``OUT.last-epoch.pt`` (used by ``zsltool.extract.pretrain.train_classifier``).

After every epoch rank 0 writes the network, Adam's state, the history, the unreadable inputs and every random
generator's state there atomically, keyed by the run's settings. Reading it back checks every part against what
it restores before anything trains: a damaged file is one ``ZslError`` with the ``--no-resume`` hint, never a
traceback, and the file is left as it is. Loaded with ``torch.load(weights_only=True)``: nothing is unpickled.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

from zsltool.errors import ZslError
from zsltool.files.checks import atomic_write_bytes, torch_load

log = logging.getLogger("zsltool.extract.pretrain")


def epoch_checkpoint(out: str | os.PathLike) -> Path:
    """Where a pretraining run writing ``out`` keeps its last epoch's state (beside it; removed on success)."""
    return Path(str(out) + ".last-epoch.pt")


def rng_state(gen, dev) -> dict:
    """Every random generator the loop and its network draw from: the shuffling generator, torch's global
    (CPU and, on a GPU, CUDA) generators, numpy's and Python's (as tensors and numbers: loadable with
    ``weights_only=True``)."""
    import random

    import numpy as np
    import torch

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state = {"shuffle": gen.get_state(), "torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": int(version), "state": torch.tensor(py_state, dtype=torch.int64),
                        "gauss": py_gauss}}
    if dev.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(dev)
    return state


def _set_rng_state(state: dict, gen, dev) -> None:
    import random

    import numpy as np
    import torch

    gen.set_state(state["shuffle"])
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss"]))
    if dev.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], dev)


def write_epoch_checkpoint(path, state: dict) -> None:
    """Atomically (temp file, fsync, rename): a kill during the write leaves the previous epoch's checkpoint."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def _resume_hint(path) -> str:
    return f"delete {path} or pass --no-resume to start over"


def _damaged(path, what: str) -> ZslError:
    return ZslError(f"{path} is a damaged pretraining epoch checkpoint: {what}", hint=_resume_hint(path))


def read_epoch_checkpoint(path, key: str, epochs: int, name: str) -> dict | None:
    """The checkpoint's state when it belongs to this run (same ``key``, not past ``epochs``), else None (with a
    warning when a checkpoint of another run is there: it is replaced after the first epoch). A file that is not
    a checkpoint of ours, or one that is damaged (truncated, Python objects, keys missing or of the wrong type),
    is a ZslError and stays as it is."""
    path = Path(path)
    if not path.is_file():
        return None
    state = torch_load(path, "epoch checkpoint", hint=_resume_hint(path))
    if not isinstance(state, dict) or state.get("format") != "zsl.pretrain_epoch":
        raise ZslError(f"{path} is not a pretraining epoch checkpoint", hint=_resume_hint(path))
    for k, kind in _STATE_KEYS.items():
        if k not in state:
            raise _damaged(path, f"{k!r} is missing")
        if not isinstance(state[k], kind) or isinstance(state[k], bool):
            raise _damaged(path, f"{k!r} is of type {type(state[k]).__name__}, expected {kind.__name__}")
    if state["epoch"] < 1:
        raise _damaged(path, f"'epoch' is {state['epoch']}")
    if state["run_key"] != key:
        log.warning(f"{name}: {path} is from a run with other settings or inputs: starting from epoch 1 (it is "
                    "replaced after the first epoch)")
        return None
    if state["epoch"] > epochs:
        log.warning(f"{name}: {path} is past --epochs {epochs} (epoch {state['epoch']}): starting from epoch 1")
        return None
    return state


# what a checkpoint of ours holds (besides "format"): key -> type
_STATE_KEYS = {"run_key": str, "epoch": int, "network": dict, "optimizer": dict, "rng": dict, "history": list,
               "bad": dict}


def restore(state: dict, path, network, opt, gen, dev) -> None:
    """Load a checkpoint of this run into the network, the optimizer and the random generators, after checking
    every part against what they hold now (names, types, shapes, sizes): a damaged part is a ZslError before
    anything is trained, never a traceback at the first step. What the checks cannot foresee (a value torch or
    numpy refuse) is a ZslError too."""
    import torch

    _check_network(state["network"], network.state_dict(), path)
    _check_optimizer(state["optimizer"], opt, path)
    _check_rng(state["rng"], gen, path)
    h, b = state["history"], state["bad"]
    if len(h) != state["epoch"] or not all(isinstance(r, dict) for r in h):
        raise _damaged(path, f"'history' is not {state['epoch']} epoch records")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in b.items()):
        raise _damaged(path, "'bad' is not a table of input ids and reasons")
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    try:
        network.load_state_dict(state["network"])
        opt.load_state_dict(state["optimizer"])
        _set_rng_state(state["rng"], gen, dev)
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError, OverflowError) as e:
        raise _damaged(path, f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}") from None
    for g, loaded in zip(groups, opt.param_groups):  # the settings Adam steps with: those of this run
        for k, v in g.items():
            if k not in loaded:
                raise _damaged(path, f"the optimizer's {k!r} is missing")
            same = type(loaded[k]) is type(v)
            if same and not isinstance(v, torch.Tensor):
                same = loaded[k] == v
            if not same:
                raise _damaged(path, f"the optimizer's {k!r} is {loaded[k]!r}, this run's is {v!r}")


def _check_network(sd, want: dict, path) -> None:
    import torch

    missing = [k for k in want if k not in sd]
    if missing:
        raise _damaged(path, f"the network's {missing[0]!r} is missing ({len(missing)} of {len(want)} entries)")
    extra = [k for k in sd if k not in want]
    if extra:
        raise _damaged(path, f"the network has an entry {extra[0]!r} this network does not have")
    for k, ref in want.items():
        t = sd[k]
        if not (isinstance(t, torch.Tensor) and t.shape == ref.shape and t.dtype == ref.dtype):
            got = f"{tuple(sd[k].shape)} {sd[k].dtype}" if hasattr(sd[k], "shape") else type(sd[k]).__name__
            raise _damaged(path, f"the network's {k!r} is {got}, expected {tuple(ref.shape)} {ref.dtype}")


def _check_optimizer(o: dict, opt, path) -> None:
    import torch

    cur = opt.state_dict()
    groups, st = o.get("param_groups"), o.get("state")
    if not isinstance(groups, list) or not isinstance(st, dict):
        raise _damaged(path, "the optimizer state lacks 'param_groups' or 'state'")
    if len(groups) != len(cur["param_groups"]) or any(
            not isinstance(g, dict) or g.get("params") != c["params"] for g, c in zip(groups, cur["param_groups"])):
        raise _damaged(path, "the optimizer's parameter groups are not this network's")
    params = {i: p for c, g in zip(cur["param_groups"], opt.param_groups) for i, p in zip(c["params"], g["params"])}
    for i, s in st.items():
        if i not in params or not isinstance(s, dict):
            raise _damaged(path, f"the optimizer holds a state for parameter {i!r}, which this network lacks")
        for k in ("exp_avg", "exp_avg_sq"):
            if not isinstance(s.get(k), torch.Tensor) or s[k].shape != params[i].shape:
                raise _damaged(path, f"the optimizer's {k!r} of parameter {i} is missing or not of the "
                                     f"parameter's shape {tuple(params[i].shape)}")
        step = s.get("step")
        if not (isinstance(step, (int, float)) or isinstance(step, torch.Tensor) and step.numel() == 1):
            raise _damaged(path, f"the optimizer's 'step' of parameter {i} is missing or not a number")


def _check_rng(r: dict, gen, path) -> None:
    import torch

    def tensor(t, n: int, dtype, what: str) -> None:
        if not (isinstance(t, torch.Tensor) and t.dtype == dtype and t.numel() == n):
            raise _damaged(path, f"the random state {what!r} is not a {dtype} tensor of {n} values")

    def number(v, kinds, what: str) -> None:
        if not isinstance(v, kinds) or isinstance(v, bool):
            raise _damaged(path, f"the random state {what!r} is missing or not a number")

    for k in ("shuffle", "torch", "numpy", "python"):
        if k not in r:
            raise _damaged(path, f"the random state {k!r} is missing")
    tensor(r["shuffle"], gen.get_state().numel(), torch.uint8, "shuffle")
    tensor(r["torch"], torch.get_rng_state().numel(), torch.uint8, "torch")
    n, p = r["numpy"], r["python"]
    if not isinstance(n, dict) or not isinstance(p, dict):
        raise _damaged(path, "the random states 'numpy' and 'python' must be tables")
    tensor(n.get("keys"), 624, torch.int64, "numpy.keys")
    number(n.get("pos"), int, "numpy.pos")
    if not 0 <= n["pos"] <= 624:
        raise _damaged(path, f"the random state 'numpy.pos' is {n['pos']}, not in 0..624")
    number(n.get("has_gauss"), int, "numpy.has_gauss")
    number(n.get("gauss"), (int, float), "numpy.gauss")
    number(p.get("version"), int, "python.version")
    tensor(p.get("state"), 625, torch.int64, "python.state")
    if p.get("gauss") is not None:
        number(p.get("gauss"), (int, float), "python.gauss")
    if "cuda" in r and not (isinstance(r["cuda"], torch.Tensor) and r["cuda"].dtype == torch.uint8):
        raise _damaged(path, "the random state 'cuda' is not a torch.uint8 tensor")
