"""``zsl experiment``, ``zsl compare`` and ``zsl plot``: thin shims over ``zsltool.evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import click
import typer

from zsltool.cli.common import (STATE, JsonOpt, OverwriteOpt, emit, info, kv_table, noted, rows_table, seed_option,
                               seed_or_global)
from zsltool.cli.types import float_option
from zsltool.evaluate.compare import BY
from zsltool.evaluate.plot import FORMATS as FIGURE_FORMATS
from zsltool.evaluate.tables import TABLE_FORMATS
from zsltool.evaluate.transductive import REFINERS
from zsltool.methods.names import PRESETS
from zsltool.names import PLOT_KINDS, SCORE_MODALITIES, SEMANTIC_SOURCES
from zsltool.runtime.progress import count_of
from zsltool.scores.metrics import metric_help
from zsltool.train.config import OPTIMIZERS


_KINDS = PLOT_KINDS


def _csv_list(value: Optional[str]) -> Optional[list[str]]:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _experiment_tables(doc: dict):
    from rich.markup import escape

    from zsltool.evaluate.tables import WARNING_NOTE, table_caption, table_rows, table_title

    out = []
    for t in doc["tables"]:
        rt = rows_table(table_rows(t), title=table_title(t))
        rt.caption = "\n".join([table_caption(t), *(escape(f"{WARNING_NOTE} {w}") for w in t.get("warnings") or [])])
        out.append(rt)
    return out


def experiment_cmd(
    audio: str = typer.Option(..., "--audio", help="Instance-level audio embedding file, or one per trial: "
                              "a template such as 'audio.fold{fold}.h5' ({trial}/{fold}: the trial number, "
                              "{split}: the split file's stem); --video, --image, --audio-prototypes and "
                              "--hybrid take templates too."),
    split: List[str] = typer.Option(..., "--split", help="Split file; repeat for more table columns "
                                    "(e.g. one within-category split per category)."),
    out: str = typer.Option(..., "--out", "-o", help="Output folder (trials/, checkpoints/, results.json, "
                            "trials.csv, table.csv/.md/.tex); re-running resumes it."),
    video: Optional[str] = typer.Option(None, "--video", help="Instance-level video embedding file (or a "
                                        "per-trial template, as --audio)."),
    text: List[str] = typer.Option([], "--text", help="Class-level text embedding file; NAME=FILE (repeatable) "
                                   "puts several text backends side by side (rows text:NAME)."),
    image: Optional[str] = typer.Option(None, "--image", help="Class-level image embedding file."),
    audio_prototypes: Optional[str] = typer.Option(None, "--audio-prototypes",
                                                   help="Class-level audio prototype file."),
    hybrid: Optional[str] = typer.Option(None, "--hybrid", help="Class-level hybrid file (zsl combine); "
                                         "default hybrid = --image ‖ --text."),
    semantics: Optional[str] = typer.Option(None, "--semantics", help="Comma list of class embeddings: "
                                            "audio,image,text,hybrid (default: every one whose files are given)."),
    method: List[str] = typer.Option(["projection"], "--method", help="Method (repeatable; a repeated one "
                                     "runs once)."),
    arg: List[str] = typer.Option([], "--arg", help="METHOD:KEY=VALUE or KEY=VALUE (all methods), repeatable."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs (default: the method's)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Batch size."),
    lr: Optional[float] = float_option(None, "--lr", min=0, min_open=True, help="Learning rate."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", click_type=click.Choice(list(OPTIMIZERS)),
                                            help="Optimiser."),
    patience: Optional[int] = typer.Option(None, "--patience", min=1, help="Early stopping patience."),
    grid: List[str] = typer.Option([], "--grid", help="Settings chosen per trial on validation data: "
                                   "KEY=V1,V2 (lr, optimizer, batch_size, epochs, weight_decay, momentum, "
                                   "METHOD:ARG, ARG or METHOD:preset), repeatable, or a JSON file {key: [values]}."),
    preset: Optional[str] = typer.Option(None, "--preset", click_type=click.Choice(list(PRESETS)),
                                         help="paper: the founding papers' literal method settings; "
                                              "avca-gzsl: AVGZSLNet as AVCA-GZSL's run scripts train it."),
    strict: bool = typer.Option(False, "--strict", help="Validity warnings (e.g. a feature network trained "
                                "on test classes) are errors."),
    modalities: str = typer.Option("both", "--modalities", help="GZSL test modalities, comma list of "
                                   "audio,video,both."),
    trials: Optional[str] = typer.Option(None, "--trials", help="Comma list of trial numbers (default: all)."),
    repeats: int = typer.Option(1, "--repeats", min=1, help="Train every trial N times, with seeds SEED ... "
                                "SEED+N-1; the tables give mean ± SD over trials × repeats."),
    calibrate: bool = typer.Option(False, "--calibrate", help="GZSL: calibrated stacking, beta chosen on "
                                   "validation data; implied by --two-stage, and by refit where stage 1 "
                                   "has unseen validation rows (beta from stage 1's validation rows)."),
    no_retrieval: bool = typer.Option(False, "--no-retrieval", help="GZSL: skip retrieval mAP."),
    two_stage: bool = typer.Option(False, "--two-stage", help="The two-stage GZSL protocol of the audio-visual "
                                   "benchmarks (a split with both stages, e.g. from prepare avgzsl-benchmark): "
                                   "stage 1 chooses the epoch and beta on validation classes, stage 2 retrains "
                                   "on train + validation classes with them and tests."),
    transductive: List[str] = typer.Option(
        [], "--transductive", click_type=click.Choice(list(REFINERS)),
        help="Also the transductive setting (repeatable): every trained model evaluated again with its "
             "assignment refined by the unlabelled test rows, rows of their own marked (transductive: …)."),
    refit: Optional[bool] = typer.Option(None, "--refit/--no-refit", help="Refit after selection (the "
                                         "default): each trial with validation classes (or GZSL validation rows) "
                                         "chooses the setting (--grid) and the epoch on them, then retrains on "
                                         "train + validation for that many epochs and tests (both stages "
                                         "recorded). --no-refit trains on the training classes only."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Trials run in parallel processes."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch threads per job "
                                          "(default: cores / jobs)."),
    seed: Optional[int] = seed_option("Seed of every trial (default: global --seed)."),
    table_format: str = typer.Option("table", "--table-format",
                                     click_type=click.Choice(["table", *TABLE_FORMATS]),
                                     help="How the tables print on stdout: a terminal table, Markdown, LaTeX "
                                          "or tidy CSV (all three are also written to the --out folder)."),
    json_out: bool = JsonOpt,
):
    """Run a paper protocol end to end (train + evaluate every trial) and print its table."""
    from zsltool.evaluate.experiment import run_experiment

    doc = run_experiment(_experiment_spec(
        audio=audio, split=split, out=out, video=video, text=text, image=image, audio_prototypes=audio_prototypes,
        hybrid=hybrid, semantics=semantics, method=method, arg=arg, epochs=epochs, batch_size=batch_size, lr=lr,
        optimizer=optimizer, patience=patience, grid=grid, preset=preset, strict=strict, modalities=modalities,
        trials=trials, repeats=repeats, calibrate=calibrate, no_retrieval=no_retrieval, two_stage=two_stage,
        transductive=transductive, refit=refit, jobs=jobs, threads=threads, seed=seed, device=STATE.device))
    _print_experiment(doc, out, table_format, json_out)


def _experiment_spec(*, split, out, text, semantics, method, arg, modalities, trials, seed, grid, no_retrieval,
                     transductive, **same):
    """zsl experiment's options -> the library's ``ExperimentSpec`` (a malformed option is a usage error, exit 2);
    ``same``: the options that are the spec's fields as they are."""
    from zsltool.cli.types import check_choice
    from zsltool.evaluate.experiment import ExperimentSpec
    from zsltool.methods.names import METHOD_NAMES
    from zsltool.train.grid import parse_grid

    for m in method:  # an unknown choice is a usage error (exit 2), as in zsl train
        check_choice(m, METHOD_NAMES, "--method")
    for s in _csv_list(semantics) or []:
        check_choice(s, SEMANTIC_SOURCES, "--semantics")
    method = list(dict.fromkeys(method))  # --method X --method X trains X once
    margs = _method_args(method, arg)
    mods = _csv_list(modalities) or ["both"]
    bad = [m for m in mods if m not in ("audio", "video", "both")]
    if bad:
        raise typer.BadParameter(f"unknown modality {bad[0]!r}", param_hint="--modalities")
    try:
        tr = [int(x) for x in _csv_list(trials)] if trials else None
    except ValueError:
        raise typer.BadParameter(f"{trials!r} is not a comma list of integers", param_hint="--trials") from None
    return ExperimentSpec(splits=list(split), out_dir=out, **_texts(text), semantics=_csv_list(semantics),
                          methods=method, method_args=margs, modalities=mods, trials=tr, seed=seed_or_global(seed),
                          retrieval=not no_retrieval, grid=parse_grid(grid),
                          transductive=list(transductive) or None, **same)


def _method_args(methods: list[str], arg: list[str]) -> dict:
    """``--arg METHOD:KEY=VALUE`` for that method, ``--arg KEY=VALUE`` for every method -> {method: {key: value}}."""
    from zsltool.cli.commands.train import parse_method_args

    margs: dict = {}
    for a in arg:
        m, rest = a.split(":", 1) if ":" in a.split("=", 1)[0] else (None, a)
        if m is not None and m not in methods:
            raise typer.BadParameter(f"{a!r} names method {m!r}, which is not among --method "
                                     f"({', '.join(methods)})", param_hint="--arg")
        for name in methods if m is None else [m]:
            margs.setdefault(name, {}).update(parse_method_args([rest]))
    return margs


def _texts(text: list[str]) -> dict:
    """``--text FILE`` or ``--text NAME=FILE`` (repeatable; a plain one next to named ones is ``text``) -> the
    spec's ``text`` and ``texts``."""
    plain = [t for t in text if "=" not in t]
    named = dict(t.split("=", 1) for t in text if "=" in t)
    if len(plain) > 1:
        raise typer.BadParameter("give one plain --text FILE, or name each: --text NAME=FILE", param_hint="--text")
    if any(not n or not f for n, f in named.items()):
        raise typer.BadParameter("--text NAME=FILE needs a name and a file", param_hint="--text")
    if named and plain:
        named = {"text": plain[0], **named}
    return {"text": plain[0] if plain and not named else None, "texts": named or None}


def _print_experiment(doc: dict, out: str, table_format: str, json_out: bool) -> None:
    info(f"{count_of(doc['ran'], 'trial')} run, {doc['reused']} reused; wrote {out}/results.json, trials.csv, "
         "table.csv, table.md, table.tex")
    if table_format == "table" or json_out:
        return emit(doc, json_out, table=_experiment_tables)
    from zsltool.evaluate.tables import export_tables

    print(export_tables(doc["tables"], table_format), end="")


def compare_cmd(
    results: List[str] = typer.Argument(..., help="Results files (zsl evaluate --out, experiment results.json)."),
    metric: str = typer.Option("auto", "--metric", help="Metric to rank by: " + metric_help() + "."),
    by: str = typer.Option("method", "--by", click_type=click.Choice(list(BY)),
                           help="What is compared: methods, class-embedding sources, or files."),
    alpha: float = float_option(0.05, "--alpha", min=0, max=1, min_open=True, max_open=True, help="Significance level (0.05 or 0.10 from Demšar's table)."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write the critical-difference diagram (.png, "
                                       ".pdf or .svg)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Write the comparison as JSON (a .png/.pdf/"
                                      ".svg path writes the CD diagram instead)."),
    strict: bool = typer.Option(False, "--strict", help="Fewer than 3 treatments or 5 blocks is an error "
                                "(default: a warning, and the Wilcoxon signed-rank test for 2)."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Friedman test and Nemenyi critical difference (Demšar 2006) over trials/splits; CD diagram."""
    from zsltool.evaluate.compare import compare_results

    if not 0 < alpha < 1:
        raise typer.BadParameter("alpha must be between 0 and 1", param_hint="--alpha")
    comp = compare_results(results, metric=metric, by=by, alpha=alpha, strict=strict)
    from zsltool.evaluate.figures import is_figure_file

    if out and is_figure_file(out):
        plot, out = plot or out, None
    if out:
        from zsltool.files.checks import atomic_write_json, check_output

        atomic_write_json(check_output(out, overwrite), comp)
        info(f"wrote {out}")
    if plot:
        from zsltool.evaluate.plot import plot_cd_diagram

        plot_cd_diagram(plot, [m["name"] for m in comp["methods"]], [m["avg_rank"] for m in comp["methods"]],
                        comp["cd"], title=f"critical difference ({comp['metric']}, N = {comp['n_blocks']})",
                        overwrite=overwrite)
        info(f"wrote {plot}")
    head = {k: v for k, v in comp.items() if k not in ("methods", "pairwise", "warnings", "wilcoxon")}
    if comp.get("wilcoxon"):
        head.update({f"wilcoxon {k}": v for k, v in comp["wilcoxon"].items() if k != "test"})
    emit(comp, json_out, table=lambda c: [noted(kv_table(head, title="zsl compare"), c.get("warnings")),
                                          rows_table(c["methods"], title="average ranks"),
                                          rows_table(c["pairwise"], title="pairwise (Nemenyi)")])


def plot_cmd(
    inputs: List[str] = typer.Argument(..., help="[KIND] INPUT...: KIND is confusion, per-class, tsne or cd "
                                       "(or give --kind); INPUT a results file, a checkpoint, or for cd a "
                                       "compare --out JSON / results files."),
    out: str = typer.Option(..., "--out", "-o", help="Figure file (.png, .pdf or .svg: the format follows "
                            "the extension), or a folder (one <kind>.png per figure, or --format)."),
    fmt: Optional[str] = typer.Option(None, "--format", click_type=click.Choice(list(FIGURE_FORMATS)),
                                      help="Figure format (default: from the --out extension; png in a "
                                           "folder)."),
    kind: Optional[str] = typer.Option(None, "--kind", click_type=click.Choice(list(_KINDS)),
                                       help="Figure kind (default: auto: a checkpoint gives t-SNE + confusion, "
                                            "a results file confusion + per-class)."),
    audio: Optional[str] = typer.Option(None, "--audio", help="Checkpoint input: instance-level audio file."),
    video: Optional[str] = typer.Option(None, "--video", help="Checkpoint input: instance-level video file."),
    split: Optional[str] = typer.Option(None, "--split", help="Checkpoint input: split file."),
    trial: Optional[int] = typer.Option(None, "--trial", min=0, help="Checkpoint input: trial."),
    modality: Optional[str] = typer.Option(None, "--modality", click_type=click.Choice([m for m in SCORE_MODALITIES if m != "both"]),
                                           help="tsne: which instance embeddings (default: every one the "
                                                "model uses)."),
    layout: str = typer.Option("tsne", "--layout", click_type=click.Choice(["tsne", "pca"]),
                               help="tsne: 2-D layout, t-SNE (scikit-learn) or PCA; the title names the one "
                                    "computed."),
    per_class_max: int = typer.Option(50, "--max-per-class", min=1, help="tsne: instances per class."),
    classes: Optional[str] = typer.Option(None, "--classes", help="tsne: N (N classes drawn at random with "
                                          "the seed: seen classes of a GZSL split, as AVGZSLNet Fig. 6 with "
                                          "5) or comma-separated class names (default: every test class)."),
    metric: str = typer.Option("auto", "--metric", help="cd: metric when comparing results files: " + metric_help()
                               + "."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
    allow_other_extractor: bool = typer.Option(False, "--allow-other-extractor", help="Checkpoint input: accept "
                                               "--audio/--video rows embedded by another extractor or other "
                                               "weights than the training rows (a warning on stderr)."),
):
    """Figures (PNG, PDF or SVG, one-column size): confusion matrix, per-class bars, t-SNE (AVGZSLNet Fig. 6),
    CD diagram."""
    from zsltool.evaluate.figures import make_plots

    args = list(inputs)
    k = kind or "auto"
    if args and args[0] not in _KINDS and not Path(args[0]).exists():
        import difflib

        close = difflib.get_close_matches(args[0], _KINDS, n=1, cutoff=0.6)
        if close or len(args) > 1:
            raise typer.BadParameter(f"{args[0]!r} is neither a plot kind nor a file" + (
                f"; did you mean {close[0]}?" if close else f" (kinds: {', '.join(_KINDS)})"), param_hint="KIND")
    if args and args[0] in _KINDS:
        if kind and kind != args[0]:
            raise typer.BadParameter(f"kind given twice ({args[0]} and --kind {kind})", param_hint="--kind")
        k = args.pop(0)
    if not args:
        raise typer.BadParameter("no input file", param_hint="INPUTS")
    paths = make_plots(k, args, out, audio=audio, video=video, split=split, trial=trial, modality=modality,
                       layout=layout, max_per_class=per_class_max, metric=metric, seed=STATE.seed,
                       overwrite=overwrite, fmt=fmt, classes=classes, allow_other_extractor=allow_other_extractor)
    for p in paths:
        info(f"wrote {p}")
    emit({"out": [str(p) for p in paths]}, json_out)


COMMANDS = {"experiment": experiment_cmd, "compare": compare_cmd, "plot": plot_cmd}
