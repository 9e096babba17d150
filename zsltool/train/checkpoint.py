"""Self-describing checkpoints (docs/DESIGN.md, section Checkpoint).

``save_checkpoint(path, ckpt)`` writes atomically; ``load_checkpoint(path)`` loads with
``torch.load(weights_only=True)`` and validates; ``build_model(ckpt)`` rebuilds the method from the registry
and the state dict alone, in eval mode; ``provenance_of(inputs)`` is its ``provenance`` entry (how the training
files were made, ``meta_record`` of each).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from zsltool.errors import ZslError
from zsltool.files.checks import atomic_write_bytes, missing_entries, torch_load
from zsltool.files.provenance import stamp

FORMAT = "zsl.checkpoint"
FORMAT_VERSION = 1
REQUIRED = ("format", "format_version", "method", "method_args", "state_dict", "config", "classes", "semantic")


def new_checkpoint(**fields) -> dict:
    """A checkpoint dict with the format and provenance keys filled in."""
    ckpt = {"format": FORMAT, "format_version": FORMAT_VERSION, **stamp(), "optimizer": None, "inputs": [],
            "class_set_sha256": "", "best": None, "history": []}
    ckpt.update(fields)
    return ckpt


def save_checkpoint(path: str | os.PathLike, ckpt: dict) -> Path:
    """Write ``ckpt`` atomically (temporary file in the same folder, then rename)."""
    problems = checkpoint_problems(ckpt)
    if problems:
        raise ValueError(f"refusing to save an invalid checkpoint: {problems[0]}")
    import torch

    buf = io.BytesIO()
    torch.save(ckpt, buf)
    p = Path(path)
    atomic_write_bytes(p, buf.getvalue())
    return p


def checkpoint_problems(ckpt) -> list[str]:
    import torch

    if not isinstance(ckpt, dict):
        return ["not a dict"]
    if ckpt.get("format") != FORMAT:
        return [f"format is {ckpt.get('format')!r}, expected {FORMAT!r}"]
    out = []
    ver = ckpt.get("format_version")
    if not isinstance(ver, int) or not (1 <= ver <= FORMAT_VERSION):
        out.append(f"format version {ver!r} is not supported (this zsl reads 1 to {FORMAT_VERSION})")
    if lacking := missing_entries(REQUIRED, ckpt, "keys"):
        return out + [lacking]
    sem = ckpt["semantic"]
    if not isinstance(sem, dict) or "ids" not in sem or not isinstance(sem.get("embeddings"), torch.Tensor):
        out.append("semantic must hold ids and an embeddings tensor")
    elif sem["embeddings"].ndim != 2 or sem["embeddings"].shape[0] != len(sem["ids"]):
        out.append("semantic embeddings do not match the semantic ids")
    if not isinstance(ckpt["state_dict"], dict):
        out.append("state_dict is not a dict")
    if not isinstance(ckpt["method_args"], dict):
        out.append("method_args is not a dict")
    return out


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load and validate a checkpoint (never unpickles arbitrary objects: ``weights_only=True``)."""
    p = Path(path)
    if not p.exists():
        raise ZslError(f"checkpoint not found: {p}", hint="check the path; checkpoints are made by zsl train")
    if p.is_dir():
        raise ZslError(f"{p} is a directory, not a checkpoint", hint="give the .pt file (zsl train -o, or checkpoints/ "
                       "in a zsl experiment folder)")
    ckpt = torch_load(p, "checkpoint", hint="checkpoints are made by zsl train")
    problems = checkpoint_problems(ckpt)
    if problems:
        raise ZslError(f"{p} is not a valid zsl checkpoint: {problems[0]}")
    ckpt["path"] = str(p)
    return ckpt


def build_model(ckpt: dict):
    """Rebuild the trained method from a checkpoint dict: registry class + method_args + state dict, eval mode."""
    from zsltool.methods.base import SCALING_OFF, get_method

    cls = get_method(ckpt["method"])
    # feature scaling a checkpoint does not record was off (checkpoints from before it existed included)
    model = cls(**{**SCALING_OFF, **ckpt["method_args"]})
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise ZslError(f"checkpoint state does not fit method {ckpt['method']!r}: {str(e).splitlines()[0]}") from None
    model.eval()
    return model


def semantic_matrix(ckpt: dict, class_ids) -> "torch.Tensor":  # noqa: F821 - torch imported lazily
    """The checkpoint's class-level semantic embeddings for ``class_ids`` (in that order)."""
    ids = list(ckpt["semantic"]["ids"])
    index = {c: i for i, c in enumerate(ids)}
    missing = [c for c in class_ids if c not in index]
    if missing:
        raise ZslError(f"{len(missing)} classes have no semantic embedding in the checkpoint: "
                       f"{', '.join(map(str, missing[:5]))}")
    return ckpt["semantic"]["embeddings"][[index[c] for c in class_ids]].float()


def meta_record(path, meta) -> dict:
    """What ``zsl classify`` needs to embed new inputs as the rows of the file at ``path`` (with metadata ``meta``)
    were: its extractor and settings (the per-class token lists of a text file are left out)."""
    em = {k: v for k, v in (meta.extractor_meta or {}).items() if k != "tokens"}
    return {"path": str(path), "modality": meta.modality, "kind": meta.kind, "extractor": meta.extractor,
            "extractor_meta": em}


def provenance_of(inputs) -> dict:
    """The checkpoint's ``provenance``: how the training audio, video and side-information files were made."""
    return {"audio": meta_record(inputs.audio.path, inputs.audio.meta),
            "video": meta_record(inputs.video.path, inputs.video.meta) if inputs.video is not None else None,
            "semantic": [meta_record(e.path, e.meta) for e in inputs.semantic.files],
            "semantic_name": inputs.semantic.name}
