"""Summaries and checks of any zsl file: embedding file, class set, split, checkpoint, results."""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from pathlib import Path

from zsltool.errors import ZslError
from zsltool.files.checks import torch_load
from zsltool.files.formats import INSPECTORS, load_json
from zsltool.store.schema import HDF5_SIGNATURE, StoreMeta


def _load_inspectors() -> None:
    """Import the modules that register inspectors for their JSON formats (each registers on import; all
    import-light)."""
    import zsltool.classes.classset  # noqa: F401
    import zsltool.classes.splits  # noqa: F401
    import zsltool.evaluate.results  # noqa: F401


def inspect_file(path: str | os.PathLike, check: bool = False) -> dict:
    """Return ``{"path", "type", "summary": {...}, "violations": [...]}`` for a zsl file.

    Files that cannot be recognised raise ZslError. With ``check`` the caller treats any violation as failure.
    """
    p = Path(path)
    if not p.exists():
        raise ZslError(f"file not found: {p}", hint="check the path")
    if p.is_dir():
        raise ZslError(f"{p} is a directory", hint="give a file made by zsl")
    with open(p, "rb") as fh:
        head = fh.read(8)
    if head == HDF5_SIGNATURE:
        summary, violations = _inspect_h5(p, check)
    elif head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":  # torch.save (zip; legacy pickle), maybe truncated
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                if not any(n.endswith("data.pkl") for n in z.namelist()):
                    raise ZslError(f"{p} is a zip archive but not a torch file (.npz?), not a zsl file",
                                   hint="zsl files are embedding files (.h5), class sets, splits, checkpoints "
                                   "and results")
        summary, violations = _inspect_checkpoint(p)
    else:
        data = load_json(p, "zsl file")
        fmt = data.get("format") if isinstance(data, dict) else None
        _load_inspectors()
        if fmt not in INSPECTORS:
            raise ZslError(f"{p} is not a zsl file (JSON with format {fmt!r})",
                           hint="zsl files are embedding files (.h5), class sets, splits, checkpoints and results")
        summary, violations = INSPECTORS[fmt](data, p)
        if isinstance(data, dict) and data.get("format_version", 1) != 1:
            violations = [f"format version {data.get('format_version')!r} is not supported"] + violations
    return {"path": str(p), "type": summary.get("type", "unknown"), "summary": summary, "violations": violations}


def _inspect_h5(p: Path, check: bool) -> tuple[dict, list[str]]:
    """Summary and schema violations; every value is scanned (NaN/Inf in valid rows) only with ``check``."""
    import numpy as np

    from zsltool.store.reader import _open_h5, collect_violations

    with _open_h5(p) as f:
        violations = collect_violations(f, check_values=check)
        if violations and violations[0].startswith("not a zsl embedding file"):
            return {"type": "hdf5 (not zsl)"}, violations
        meta = StoreMeta.from_attrs(f.attrs)
        summary = {"type": f"{meta.kind} embeddings", "kind": meta.kind, "modality": meta.modality,
                   "extractor": meta.extractor, "extractor_meta": meta.extractor_meta,
                   "format_version": meta.format_version, "zsl_version": meta.zsl_version,
                   "created_utc": meta.created_utc, "command": meta.command,
                   "class_set_sha256": meta.class_set_sha256, "inputs": len(meta.inputs)}
        if "embeddings" in f:
            summary["rows"], summary["dim"] = (int(x) for x in f["embeddings"].shape)
        if "valid" in f:
            valid = f["valid"][:]
            summary["valid"] = int(valid.sum())
            summary["invalid"] = int((~valid).sum())
            if "invalid_reason" in f and summary["invalid"]:
                reasons = [r.decode() if isinstance(r, bytes) else r for r in f["invalid_reason"][:][~valid]]
                summary["invalid_reasons"] = dict(Counter(reasons))
        if "classes" in f:
            summary["classes"] = int(f["classes"].shape[0])
        if "labels" in f and f["labels"].ndim == 2 and f["labels"].shape[1]:
            per = np.asarray(f["labels"][:]).sum(axis=0)
            summary["rows_per_class_min_max"] = [int(per.min()), int(per.max())]
        summary["frames"] = int(f["frames/embeddings"].shape[0]) if "frames" in f and "embeddings" in f["frames"] else 0
    return summary, violations


def _inspect_checkpoint(p: Path) -> tuple[dict, list[str]]:
    ck = torch_load(p, "checkpoint", hint="zsl only loads its own checkpoints (tensors and plain data), "
                    "made by zsl train")
    if not isinstance(ck, dict) or ck.get("format") != "zsl.checkpoint":
        return {"type": "torch file (not a zsl checkpoint)"}, ["not a zsl checkpoint (no format 'zsl.checkpoint')"]
    state = ck.get("state_dict") or {}
    n_params = sum(int(v.numel()) for v in state.values() if hasattr(v, "numel"))
    summary = {"type": "checkpoint", "method": ck.get("method"), "method_args": ck.get("method_args"),
               "format_version": ck.get("format_version"), "zsl_version": ck.get("zsl_version"),
               "created_utc": ck.get("created_utc"), "command": ck.get("command"),
               "parameters": n_params, "best": ck.get("best"),
               "classes": {k: len(v) for k, v in (ck.get("classes") or {}).items()},
               "class_set_sha256": ck.get("class_set_sha256"), "inputs": len(ck.get("inputs") or []),
               "temperature": temperature_line(ck.get("calibration")), "calibration": ck.get("calibration")}
    violations = []
    if ck.get("format_version") != 1:
        violations.append(f"checkpoint format version {ck.get('format_version')!r} is not supported")
    if not ck.get("method"):
        violations.append("checkpoint names no method")
    return summary, violations


def temperature_line(record: dict | None) -> str:
    """One line saying which temperature ``zsl classify`` applies with this calibration record and why."""
    if not record:
        return "none stored (a checkpoint from before calibration records): per-clip-std"
    T = record.get("temperature")
    if T and "prior" not in record and not record.get("source"):
        legacy = f"{T:.4g} (an earlier zsl's fit on {record.get('rows')} {record.get('on')} rows, no prior"
        if record.get("on") == "training":
            return legacy + "; not used: fitted on training rows, zsl classify uses per-clip-std)"
        return legacy + "; not used where it is below 1/20 of the scores' scale)"
    if T and record.get("source"):
        return f"{T:.4g} ({record['source']})"
    if T:
        how = f"{record.get('method', 'temperature scaling')} on {record.get('rows')} {record.get('on')} rows"
        return f"{T:.4g} ({how}{'; separable: near the prior' if record.get('separable') else ''})"
    why = record.get("fallback") or record.get("note") or "none stored"
    return f"none: per-clip-std ({why})"
