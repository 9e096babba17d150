"""zsltool: zero-shot audio classification toolkit (the ``zsl`` command).

The Python API is loaded lazily (``import zsltool`` stays light; nothing imports torch until it is used)::

    import zsltool
    zsltool.split("classes.json", "random", "random.json")
    run = zsltool.train_model(audio="audio.h5", text="text.h5", split="random.json", out="proj.pt")
    run.model, run.history                      # the trained model and one dict per epoch
    zsltool.evaluate_checkpoint("proj.pt")["metrics"]
    doc = zsltool.experiment(audio="audio.h5", splits=["random.json"], text="text.h5", out="results/")
    zsltool.read_embeddings("audio.h5").to_pandas()
    preds = zsltool.classify_clips("model.pt", "clip.wav", labels=["dog", "siren", "church bells"])
    preds = zsltool.classify_joint("clip.wav", labels=["dog", "siren"], model="clap")   # no checkpoint
    zsltool.prepare_esc50("ESC-50-master", "esc50/")

Also: ``extract_audio``, ``extract_text``; ``help(zsltool.train_model)`` etc. describe the options.
``zsltool.train``, ``zsltool.evaluate`` and ``zsltool.classify`` are the subpackages (not callable).
"""

__version__ = "0.1.0"

_LAZY = {
    "extract_audio": "zsltool.extract.pipeline",
    "extract_text": "zsltool.extract.pipeline",
    "split": "zsltool.api",
    "train_model": "zsltool.api",
    "evaluate_checkpoint": "zsltool.evaluate.evaluate",
    "experiment": "zsltool.api",
    "read_embeddings": "zsltool.store.reader",
    "Embeddings": "zsltool.store.reader",
    "classify_clips": "zsltool.classify.run",
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


# The API's functions were once named train, evaluate and classify, like these subpackages: the attribute is
# always the package, so an old call fails the same way (TypeError: 'module' object is not callable) whatever
# was imported before.
_PACKAGES = ("train", "evaluate", "classify")


def __getattr__(name):
    if name in _PACKAGES:
        import importlib

        return importlib.import_module(f"zsltool.{name}")
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zsltool' has no attribute {name!r}")
