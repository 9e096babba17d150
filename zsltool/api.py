"""The Python API behind ``import zsltool``: the CLI's main steps as plain functions for notebooks.

Each function does what its ``zsl`` command does, with the same defaults, and returns the result instead of
printing it. Nothing heavy is imported until a function is called. Here are the steps that need more than
their library function (split's name, train_model's return value, experiment's spec); ``zsltool`` exposes the
others from their own modules: ``extract_audio`` and ``extract_text`` (``zsltool.extract.pipeline``),
``evaluate_checkpoint`` (``zsltool.evaluate.evaluate``), ``classify_clips`` (``zsltool.classify.run``),
``classify_joint``, ``read_embeddings`` (``zsltool.store.reader``) and the ``prepare_*`` functions. The names
never collide with a subpackage: ``zsltool.train``, ``zsltool.evaluate`` and ``zsltool.classify`` are packages,
not functions.

    import zsltool
    zsltool.split("classes.json", "random", "random.json", seed=0)
    run = zsltool.train_model(audio="audio.h5", text="text.h5", split="random.json", out="proj.pt", epochs=20)
    run.model, run.history[-1]
    zsltool.evaluate_checkpoint("proj.pt")["metrics"]["top1"]
    zsltool.read_embeddings("audio.h5").to_pandas()
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

__all__ = ["split", "train_model", "experiment", "Trained"]


def split(classes: str | os.PathLike, protocol: str, out: str | os.PathLike, *, seed: int = 0,
          overwrite: bool = False, **options) -> dict:
    """Make a split file for an evaluation protocol (``zsl split``).

    ``protocol``: random, within, across, gzsl or folds (``zsltool.classes.protocols.PROTOCOLS``);
    ``options`` are the protocol's (``sizes``, ``trials``, ``category``, ``categories``, ``instances``,
    ``folds``, ...). Returns a summary with ``out`` and the per-trial sizes."""
    from zsltool.classes.protocols import make_split

    return make_split(classes, protocol, out, seed=seed, overwrite=overwrite, **options)


@dataclass
class Trained:
    """What ``zsltool.train_model`` returns: the trained model (eval mode), its per-epoch history, the checkpoint and
    ``result``, the ``TrainResult``; ``.summary()`` is the dict ``zsl train --json`` prints, as
    ``TrainResult.summary()`` (a method on both)."""

    model: Any
    history: list[dict]
    checkpoint: Path
    result: Any = field(default=None, repr=False)

    def summary(self) -> dict:
        return self.result.summary() if self.result is not None else {}

    def __repr__(self) -> str:
        s = self.summary()
        return (f"Trained({s.get('method')}, {s.get('epochs_run')} epochs, best {s.get('best_metric')} = "
                f"{s.get('best_value')} at epoch {s.get('best_epoch')}, checkpoint={str(self.checkpoint)!r})")


def train_model(*, audio: str | os.PathLike, split: str | os.PathLike, out: str | os.PathLike, **options) -> Trained:
    """Train a zero-shot method on one split trial (``zsl train``) and return the model and its history.

    ``options`` are ``zsltool.train.config.TrainConfig``'s fields: ``text``/``image``/``audio_prototypes``/
    ``video``, ``semantic``, ``trial``, ``method``, ``method_args``, ``epochs``, ``batch_size``, ``lr``,
    ``optimizer``, ``patience``, ``grid``, ``seed``, ``device``, ``overwrite``, ... The best epoch's checkpoint
    is written to ``out``; ``.model`` is that epoch's model rebuilt from it, ``.history`` one dict per epoch
    (losses, validation metrics)."""
    from zsltool.train.checkpoint import build_model, load_checkpoint
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train as run

    def _s(v):
        return str(v) if isinstance(v, os.PathLike) else v

    cfg = TrainConfig(audio=str(audio), split=str(split), out=str(out), **{k: _s(v) for k, v in options.items()})
    res = run(cfg)
    model = build_model(load_checkpoint(res.checkpoint))
    return Trained(model=model, history=list(res.history), checkpoint=Path(res.checkpoint), result=res)


def experiment(*, audio: str | os.PathLike, splits: Sequence[str | os.PathLike] | str | os.PathLike,
               out: str | os.PathLike, **options) -> dict:
    """Run a paper protocol end to end (``zsl experiment``): every split × trial × method × class embedding.

    ``audio`` (and ``video``) may name one file per trial: ``"features/audio.fold{fold}.h5"``
    (``zsltool.evaluate.trialfiles``). ``options`` are ``zsltool.evaluate.experiment.ExperimentSpec``'s fields
    (``text``, ``image``, ``audio_prototypes``, ``video``, ``methods``, ``epochs``, ``jobs``, ``seed``, ...).
    Writes the folder ``out`` (results.json, table.csv/.md/.tex, trials/) and returns the results document with its
    ``tables``; ``zsltool.evaluate.tables.export_tables(doc["tables"], "latex")`` renders them."""
    from zsltool.evaluate.experiment import ExperimentSpec, run_experiment

    if isinstance(splits, (str, os.PathLike)):
        splits = [splits]
    opts = {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in options.items()}
    return run_experiment(ExperimentSpec(audio=str(audio), splits=[str(s) for s in splits], out_dir=str(out),
                                         **opts))


