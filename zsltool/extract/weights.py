"""Weights files: download once into torch hub's cache, check the sha256, load a state dict safely.

    path, digest = fetch_file("https://zenodo.org/.../Cnn14.pth", "CNN14 weights", sha256="...")
    sd, record = load_weights_for(spec, "Cnn14.pth")          # a weights id, URL or local path

A URL is downloaded into ``torch.hub.get_dir()/checkpoints`` (where torch hub and torchvision keep theirs) and
reused from there. The sha256 is checked against the registered digest when there is one, else against the
hex prefix a release name carries (``name-<hex>.pth``, as torch hub does). Offline and not cached: one
ZslError naming the URL and the place to put the file.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from zsltool.errors import ZslError
from zsltool.files.provenance import file_digest, sha256_file
from zsltool.files.checks import require_file, torch_load

log = logging.getLogger("zsltool.extract")

RANDOM = ("none", "random")


def is_url(s: str) -> bool:
    return str(s).startswith(("http://", "https://", "file://"))


def is_random(spec) -> bool:
    return spec is not None and str(spec).lower() in RANDOM


def cache_path(url: str) -> Path:
    import torch

    name = os.path.basename(url.split("?")[0]).replace("%3D", "=")
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def _check(digest: str, sha256: str | None, prefix: str | None, where: str, what: str) -> None:
    if sha256 and digest != sha256.lower():
        raise ZslError(f"{what} {where} do not match the published sha256 {sha256[:12]}... (got {digest[:12]}...)",
                       hint="delete the file so it is downloaded again, or pass --weights PATH")
    if not sha256 and prefix and not digest.startswith(prefix):
        raise ZslError(f"{what} {where} do not match the checksum in the file name ({prefix})",
                       hint="delete the cached file so it is downloaded again")


def fetch_file(spec: str, what: str = "weights", sha256: str | None = None, md5: str | None = None
               ) -> tuple[Path, str]:
    """``(local path, sha256)`` for ``spec`` (a local path, or a URL downloaded once). Hashed here, and not
    again while the file is unchanged (:func:`zsltool.files.provenance.sha256_file`: a 275 MB VGGish file is
    read once, not at every ``zsl classify``); ``md5``: the publisher's md5, checked as well (remembered the
    same way) where it is the only published digest."""
    if not is_url(spec):
        path = require_file(Path(spec).expanduser(), f"{what} file")
        digest = sha256_file(path)
        _check(digest, sha256, None, str(path), what)
        return path, digest
    import torch

    target = cache_path(spec)
    m = re.search(r"-([a-f0-9]{6,})\.", target.name)
    prefix = m.group(1) if m else None
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        log.info(f"downloading {spec} -> {target}")
        hint = f"download it on a machine with internet and pass --weights PATH (or put it at {target})"
        try:
            torch.hub.download_url_to_file(spec, str(target), hash_prefix=prefix, progress=False)
        except RuntimeError as e:
            if "invalid hash" in str(e):
                raise ZslError(f"the download of {spec} does not match its checksum {prefix}",
                               hint="retry, or download it yourself and pass --weights PATH") from None
            raise ZslError(f"cannot download {what} from {spec} ({e})", hint=hint) from None
        except OSError as e:
            raise ZslError(f"cannot download {what} from {spec} (offline? {e})", hint=hint) from None
    digest = sha256_file(target)
    _check(digest, sha256, prefix, f"cached at {target}", what)
    if md5 and file_digest(target, "md5") != md5.lower():
        raise ZslError(f"{what} cached at {target} do not match the published md5 {md5}",
                       hint="delete the file so it is downloaded again, or pass --weights PATH")
    return target, digest


def load_state_dict(path: str | os.PathLike, what: str = "weights file", hint: str | None = None) -> dict:
    """A state dict of tensors from a local file (``weights_only``, numeric numpy arrays allowed, as released
    checkpoints hold them); unwraps ``{"state_dict"|"model": ...}``. Tensors of a zip-format file are
    memory-mapped (no copy until a model changes them)."""
    import torch

    import numpy as np

    sd = torch_load(path, what, hint=hint or "the file must be a state dict saved with torch.save(model.state_dict())",
                    numpy_arrays=True, mmap=True)
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    if isinstance(sd, dict):  # numeric numpy arrays (allowed by torch_load) become tensors
        sd = {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v for k, v in sd.items()}
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ZslError(f"{path} does not hold a state dict of tensors")
    return sd


def load_weights_for(spec, wid: str | None, what: str = "weights", hint: str | None = None) -> tuple[dict, dict]:
    """``(state dict, provenance record)`` for ``wid``: a registered weights id of ``spec`` (None / DEFAULT: its
    default), a URL or a local path. The record is ``{"weights", "weights_sha256"}`` (+ ``weights_path``)."""
    w = spec.get_weights(wid)
    if w is not None:
        path, digest = w.fetch(what)
        record = {"weights": w.id, "weights_url": w.url, "weights_sha256": digest}
    elif wid is None:
        raise ZslError(f"{spec.name} has no default weights", hint="pass --weights PATH (or 'random')")
    else:
        path, digest = fetch_file(str(wid), what)
        record = {"weights": str(wid), "weights_sha256": digest}
        if not is_url(str(wid)):
            record["weights_path"] = str(path)
    return load_state_dict(path, f"{what} file", hint), record


def local_record(record: dict) -> list[dict]:
    """The input record of a local weights file (for the output's provenance), else nothing."""
    p = record.get("weights_path")
    return [{"path": p, "sha256": record.get("weights_sha256", "")}] if p else []
