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
from zsltool.evaluate.evaluate import retrieve_checkpoint
from zsltool.evaluate.experiment import ExperimentSpec, run_experiment
from zsltool.evaluate.figures import make_plots
from zsltool.evaluate.results import write_results
from zsltool.evaluate.unit import trial_path
from zsltool.names import SEMANTIC_SOURCES
from zsltool.scores.stats import summarize as stat

log = logging.getLogger("zsltool.demo")

# The projection model with Adam (lr 1e-3) instead of the paper's SGD: steadier on this small data. Each row is
# the mean ± SD of 5 training runs (seeds seed … seed+4): Dogan et al. average 5 trials, and one run of a toy
# split moves by several points with the seed or the CPU's float kernels (docs/demo.md).
TRAINING = {"epochs": 100, "optimizer": "adam", "lr": 1e-3, "repeats": 5}
LABELS = {"audio": "Audio (upper bound)", "image": "Image", "text": "Text", "hybrid": "Hybrid"}
RETRIEVAL_TOP = 10  # ranked clips kept per class in the retrieval files


@dataclass(frozen=True)
class SourceRun:
    """One row of Table III: the experiment's records of its repeats (training runs) and the files made from
    the first run's checkpoint."""

    semantic: str
    records: tuple[dict, ...]   # the experiment's records (metrics, train, checkpoint), one per repeat
    retrievals: tuple[dict, ...]  # zsl retrieve's metrics (mAP, AP per class) of each repeat's checkpoint
    results: Path               # the first repeat's trial file (zsl.results, task zsl)
    retrieval_file: Path        # the first repeat's retrieval results
    plots: Path

    @property
    def checkpoint(self) -> Path:
        """The first run's checkpoint (zsl classify's and the plots' model)."""
        return Path(self.records[0]["train"]["checkpoint"])

    def row(self) -> dict:
        """Mean (and SD) over the repeats: top-1, mean per-class accuracy, mAP, the validation top-1."""
        ms = [r["metrics"]["both"] for r in self.records]
        top1, mca = stat([m["top1"] for m in ms]), stat([m["mean_class_acc"] for m in ms])
        mAP = stat([x["mAP"] for x in self.retrievals])
        val = stat([r["train"]["best_value"] for r in self.records])
        return {"class embeddings": LABELS[self.semantic], "top-1": top1["mean"], "top-1 SD": top1["sd"],
                "chance": ms[0]["chance"], "mean per-class": mca["mean"], "mAP": mAP["mean"], "mAP SD": mAP["sd"],
                "val top-1": val["mean"], "clips": ms[0]["n_test"], "runs": len(ms)}


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


def run_table3(world: World, *, epochs: int = TRAINING["epochs"], seed: int = 0, threads: int | None = None,
               repeats: int = TRAINING["repeats"]) -> Table3:
    """Table III under ``world.out/table3`` (the experiment), ``results/`` (retrieval) and ``plots/<source>/``."""
    out = world.out
    # the zsl experiment of examples/demo.sh step 9 on the world's files; the paper's protocol: no refit
    spec = ExperimentSpec(audio=str(world.audio), splits=[str(world.split)], out_dir=str(out / "table3"),
                          audio_prototypes=str(world.audio_prototypes), image=str(world.image_prototypes),
                          text=str(world.text), hybrid=str(world.hybrid), semantics=list(SEMANTIC_SOURCES),
                          methods=["projection"], epochs=epochs, optimizer=TRAINING["optimizer"],
                          lr=TRAINING["lr"], seed=seed, threads=threads, repeats=repeats, refit=False)
    doc = run_experiment(spec)
    sources = []
    for sem in dict.fromkeys(rec["semantic"] for rec in doc["trials"]):
        recs = tuple(rec for rec in doc["trials"] if rec["semantic"] == sem)  # its repeats, in order
        rets = [retrieve_checkpoint(Path(rec["train"]["checkpoint"]), top=RETRIEVAL_TOP, seed=seed) for rec in recs]
        ckpt = Path(recs[0]["train"]["checkpoint"])
        results = trial_path(spec.out_dir, recs[0]["name"])
        ret_file = write_results(out / "results" / f"retrieval-{sem}.json", rets[0], overwrite=True)
        plots = out / "plots" / sem
        make_plots("auto", [results], plots, seed=seed, overwrite=True)  # confusion.png, per-class.png
        make_plots("tsne", [ckpt], plots, seed=seed, overwrite=True)  # tsne.png: learned space, class stars
        run = SourceRun(semantic=sem, records=recs, retrievals=tuple(r["metrics"] for r in rets), results=results,
                        retrieval_file=ret_file, plots=plots)
        m = run.row()
        log.info(f"[demo] {LABELS[sem]}: unseen top-1 {m['top-1']:.3f} ± {m['top-1 SD'] or 0:.3f} over "
                 f"{m['runs']} runs (chance {m['chance']:.3f}), mAP {m['mAP']:.3f}")
        sources.append(run)
    return Table3(experiment=Path(spec.out_dir), doc=doc, sources=tuple(sources))
