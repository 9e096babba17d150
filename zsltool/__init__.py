"""zsltool: zero-shot audio classification toolkit (the ``zsl`` command).

The Python API is loaded lazily (``import zsltool`` stays light)::

    import zsltool
    preds = zsltool.classify("model.pt", "clip.wav", labels=["dog", "siren", "church bells"])
    zsltool.prepare_esc50("ESC-50-master", "esc50/")
"""

__version__ = "0.1.0"

_LAZY = {
    "classify": "zsltool.classify_clips",
    "prepare_esc50": "zsltool.prepare",
    "prepare_urbansound8k": "zsltool.prepare",
    "prepare_fsd50k": "zsltool.prepare",
    "prepare_audioset": "zsltool.prepare",
    "prepare_folder": "zsltool.prepare",
    "prepare_avgzsl_benchmark": "zsltool.prepare",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zsltool' has no attribute {name!r}")
