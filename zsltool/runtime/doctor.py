"""``zsl doctor``: what this installation is: versions, device, threads, caches and optional extras.

Everything is read, nothing is downloaded or written; a part that cannot be determined says why instead of
failing, so the report can be pasted into a bug report as it is.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

# The distributions whose versions matter for numbers and speed (distribution name -> import name).
PACKAGES = {"torch": "torch", "torchaudio": "torchaudio", "torchvision": "torchvision", "numpy": "numpy",
            "scipy": "scipy", "scikit-learn": "sklearn", "gensim": "gensim", "h5py": "h5py",
            "matplotlib": "matplotlib", "av": "av", "soundfile": "soundfile",
            "sentence-transformers": "sentence_transformers", "typer": "typer", "rich": "rich",
            "pandas": "pandas"}


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def extras() -> dict[str, dict]:
    """Each optional extra of zsltool: its requirements and whether all of them are installed."""
    from importlib import metadata

    from packaging.requirements import Requirement

    try:
        reqs = metadata.requires("zsltool") or []
    except metadata.PackageNotFoundError:
        return {}
    out: dict[str, dict] = {}
    for text in reqs:
        r = Requirement(text)
        if r.marker is None or "extra" not in str(r.marker):
            continue
        for name in (metadata.metadata("zsltool").get_all("Provides-Extra") or []):
            if r.marker.evaluate({"extra": name}):
                e = out.setdefault(name, {"requires": [], "missing": []})
                e["requires"].append(str(r).split(";")[0].strip())
                if _version(r.name) is None:
                    e["missing"].append(r.name)
    for e in out.values():
        e["installed"] = not e["missing"]
    return out


def caches() -> dict[str, str]:
    """Where downloaded weights and files are kept (folders; they need not exist yet)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(cache, "torch")
    hf = os.environ.get("HF_HOME") or os.path.join(cache, "huggingface")
    from zsltool.files.provenance import cache_dir

    return {"weights (torch hub: VGGish, PANNs, torchvision)": os.path.join(torch_home, "hub", "checkpoints"),
            "sentence models (Hugging Face)": hf,
            "zsl's cache (class files, sha256 of large files: weights, word vectors)": str(cache_dir())}


def device_info() -> dict:
    import torch

    cuda = torch.cuda.is_available()
    info = {"cuda_available": cuda, "auto_device": "cuda" if cuda else "cpu",
            "torch_cuda_build": torch.version.cuda or "none (CPU-only wheel)"}
    if cuda:
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def threads() -> dict:
    import torch

    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            **{k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ}}


def report() -> dict:
    """The whole report as a dict (``zsl doctor --json``)."""
    from zsltool import __version__

    doc = {"zsl": __version__, "python": f"{platform.python_version()} ({sys.executable})",
           "platform": platform.platform(),
           "packages": {name: _version(name) or "not installed" for name in PACKAGES}}
    for key, fn in (("device", device_info), ("threads", threads)):
        try:
            doc[key] = fn()
        except Exception as e:  # noqa: BLE001 - a broken torch is exactly what a doctor must report
            doc[key] = {"error": f"{type(e).__name__}: {e}"}
    doc["caches"] = caches()
    try:
        doc["extras"] = extras()
    except Exception as e:  # noqa: BLE001
        doc["extras"] = {"error": f"{type(e).__name__}: {e}"}
    return doc
