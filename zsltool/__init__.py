"""zsltool: zero-shot audio classification toolkit (the ``zsl`` command).

The Python API is loaded lazily (``import zsltool`` stays light; nothing imports torch until it is used)::

    import zsltool
    zsltool.split("classes.json", "random", "random.json")
    run = zsltool.train(audio="audio.h5", text="text.h5", split="random.json", out="proj.pt")
    run.model, run.history                      # the trained model and one dict per epoch
    zsltool.evaluate("proj.pt")["metrics"]
    doc = zsltool.experiment(audio="audio.h5", splits=["random.json"], text="text.h5", out="results/")
    zsltool.read_embeddings("audio.h5").to_pandas()
    preds = zsltool.classify("model.pt", "clip.wav", labels=["dog", "siren", "church bells"])
    preds = zsltool.classify_joint("clip.wav", labels=["dog", "siren"], model="clap")   # no checkpoint
    zsltool.prepare_esc50("ESC-50-master", "esc50/")

Also: ``extract_audio``, ``extract_text``; ``help(zsltool.train)`` etc. describe the options.
"""

__version__ = "0.1.0"

_LAZY = {
    "extract_audio": "zsltool.api",
    "extract_text": "zsltool.api",
    "split": "zsltool.api",
    "train": "zsltool.api",
    "evaluate": "zsltool.api",
    "experiment": "zsltool.api",
    "read_embeddings": "zsltool.api",
    "Embeddings": "zsltool.store.reader",
    "classify": "zsltool.classify",
    "classify_joint": "zsltool.classify.joint",
    "prepare_esc50": "zsltool.prepare",
    "prepare_urbansound8k": "zsltool.prepare",
    "prepare_fsd50k": "zsltool.prepare",
    "prepare_audioset": "zsltool.prepare",
    "prepare_folder": "zsltool.prepare",
    "prepare_avgzsl_benchmark": "zsltool.prepare",
}


__all__ = ["__version__", *_LAZY]


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


# zsltool.train, .evaluate and .classify are also subpackages: the attribute is always the (callable) package
_PACKAGES = {"train": "zsltool.train", "evaluate": "zsltool.evaluate", "classify": "zsltool.classify"}


def __getattr__(name):
    if name in _PACKAGES:
        import importlib

        return importlib.import_module(_PACKAGES[name])
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zsltool' has no attribute {name!r}")
