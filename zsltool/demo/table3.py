"""Dogan et al.'s Table III on the demo's world, through ``zsl experiment``'s own function.

:func:`run_table3` calls :func:`zsltool.evaluate.experiment.run_experiment` once (the projection model, one
row per class-embedding source: audio prototypes, image prototypes, word vectors, hybrid; trained on the
training classes, epoch chosen on the validation classes, tested on the unseen test classes), exactly as
``examples/demo.sh`` step 9 runs ``zsl experiment``; the table's numbers are the experiment's records. Then,
per source, the experiment's checkpoint is read by ``zsl retrieve``'s function (class → clips mAP) and ``zsl
plot``'s (confusion matrix and per-class bars from the experiment's trial file, t-SNE of the learned space).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from zsltool.demo.data import World
from zsltool.names import SEMANTIC_SOURCES

log = logging.getLogger("zsltool.demo")

# The projection model with Adam (lr 1e-3) instead of the paper's SGD: steadier on this small data.
TRAINING = {"epochs": 100, "optimizer": "adam", "lr": 1e-3}
LABELS = {"audio": "Audio (upper bound)", "image": "Image", "text": "Text", "hybrid": "Hybrid"}
RETRIEVAL_TOP = 10  # ranked clips kept per class in the retrieval files


@dataclass(frozen=True)
class SourceRun:
    """One row of Table III: its experiment record and the files made from its checkpoint."""

    semantic: str
    record: dict                # the experiment's record (metrics, train, checkpoint)
    retrieval: dict             # zsl retrieve's metrics (mAP, AP per class)
    results: Path               # the experiment's trial file (zsl.results, task zsl)
    retrieval_file: Path
    plots: Path

    @property
    def checkpoint(self) -> Path:
        return Path(self.record["train"]["checkpoint"])

    def row(self) -> dict:
        m = self.record["metrics"]["both"]
        return {"class embeddings": LABELS[self.semantic], "top-1": m["top1"], "chance": m["chance"],
                "mean per-class": m["mean_class_acc"], "mAP": self.retrieval["mAP"],
                "val top-1": self.record["train"]["best_value"], "clips": m["n_test"]}


@dataclass(frozen=True)
class Table3:
    experiment: Path            # the zsl experiment folder (results.json, trials/, checkpoints/, table.*)
    doc: dict                   # its results document
    sources: tuple[SourceRun, ...]

    @property
    def records(self) -> list[dict]:
        return self.doc["trials"]

    @property
    def tables(self) -> list[dict]:
        return self.doc["tables"]

    def rows(self) -> list[dict]:
        return [s.row() for s in self.sources]

    def source(self, semantic: str) -> SourceRun:
        return next(s for s in self.sources if s.semantic == semantic)

    def files(self) -> dict[str, Path]:
        f = {"Table III experiment": self.experiment}
        for s in self.sources:
            f.update({f"model ({s.semantic})": s.checkpoint, f"results ({s.semantic})": s.results,
                      f"retrieval ({s.semantic})": s.retrieval_file, f"plots ({s.semantic})": s.plots})
        return f


def experiment_spec(world: World, out_dir: Path, *, epochs: int, seed: int, threads: int | None):
    """The ``zsl experiment`` of Table III on the world's files (``examples/demo.sh`` step 9)."""
    from zsltool.evaluate.experiment import ExperimentSpec

    return ExperimentSpec(audio=str(world.audio), splits=[str(world.split)], out_dir=str(out_dir),
                          audio_prototypes=str(world.audio_prototypes), image=str(world.image_prototypes),
                          text=str(world.text), hybrid=str(world.hybrid), semantics=list(SEMANTIC_SOURCES),
                          methods=["projection"], epochs=epochs, optimizer=TRAINING["optimizer"],
                          lr=TRAINING["lr"], seed=seed, threads=threads,
                          refit=False)  # the paper's protocol: no refit after selection


def run_table3(world: World, *, epochs: int = TRAINING["epochs"], seed: int = 0,
               threads: int | None = None) -> Table3:
    """Table III under ``world.out/table3`` (the experiment), ``results/`` (retrieval) and ``plots/<source>/``."""
    from zsltool.evaluate.evaluate import retrieve_checkpoint
    from zsltool.evaluate.experiment import run_experiment
    from zsltool.evaluate.unit import trial_path
    from zsltool.evaluate.figures import make_plots
    from zsltool.evaluate.results import write_results

    out = world.out
    spec = experiment_spec(world, out / "table3", epochs=epochs, seed=seed, threads=threads)
    doc = run_experiment(spec)
    sources = []
    for rec in doc["trials"]:
        sem = rec["semantic"]
        ckpt = Path(rec["train"]["checkpoint"])
        results = trial_path(spec.out_dir, rec["name"])
        ret = retrieve_checkpoint(ckpt, top=RETRIEVAL_TOP, seed=seed)
        ret_file = write_results(out / "results" / f"retrieval-{sem}.json", ret, overwrite=True)
        plots = out / "plots" / sem
        make_plots("auto", [results], plots, seed=seed, overwrite=True)  # confusion.png, per-class.png
        make_plots("tsne", [ckpt], plots, seed=seed, overwrite=True)  # tsne.png: learned space, class stars
        run = SourceRun(semantic=sem, record=rec, retrieval=ret["metrics"], results=results,
                        retrieval_file=ret_file, plots=plots)
        m = run.row()
        log.info(f"[demo] {LABELS[sem]}: unseen top-1 {m['top-1']:.3f} (chance {m['chance']:.3f}), "
                 f"mAP {m['mAP']:.3f}")
        sources.append(run)
    return Table3(experiment=Path(spec.out_dir), doc=doc, sources=tuple(sources))
