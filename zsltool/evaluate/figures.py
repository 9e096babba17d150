"""Figures from files: confusion matrix and per-class bars from a results file, t-SNE from a checkpoint,
CD diagram from a comparison (``zsl compare --json`` output or results files)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from zsltool.errors import ZslError
from zsltool.evaluate import plot as P
from zsltool.names import PLOT_KINDS

log = logging.getLogger("zsltool.evaluate.figures")
KINDS = PLOT_KINDS


def confusion_figure(doc: dict, out, *, source="", overwrite=False, fmt=None) -> Path:
    """The confusion matrix of a results document (normalised per true class)."""
    conf = doc.get("confusion")
    if not conf:
        raise ZslError(f"{source} holds no confusion matrix", hint="use a results file of zsl evaluate --out")
    return P.plot_confusion(out, conf["matrix"], conf["classes"], overwrite=overwrite, fmt=fmt)


def per_class_figure(doc: dict, out, *, source="", overwrite=False, fmt=None) -> Path:
    """Per-class accuracy (or AP of retrieval results) as bars, with the chance level where known."""
    rows = doc.get("per_class") or []
    if not rows:
        raise ZslError(f"{source} holds no per-class rows", hint="use a results file of zsl evaluate or retrieve")
    key = "accuracy" if "accuracy" in rows[0] else "ap"
    chance = (doc.get("metrics") or {}).get("chance")
    return P.plot_per_class(out, [r["class"] for r in rows], [r.get(key) for r in rows],
                            ylabel="accuracy" if key == "accuracy" else "average precision", chance=chance,
                            overwrite=overwrite, fmt=fmt)


# The figures drawn from a results document (a results file, or a checkpoint evaluated first): kind -> function
# ``(doc, out, *, source, overwrite, fmt) -> Path``. Their names and tsne's and cd's are zsltool.names.PLOT_KINDS.
RESULTS_FIGURES = {"confusion": confusion_figure, "per-class": per_class_figure}


def cd_from_inputs(paths, out, overwrite=False, metric="auto", by="method", alpha=0.05, fmt=None) -> Path:
    """A CD diagram from one ``zsl compare --json`` file, or by comparing results files."""
    from zsltool.evaluate.compare import compare_results
    from zsltool.files.formats import load_json

    comp = None
    if len(paths) == 1:
        data = load_json(paths[0], "comparison or results file")
        if isinstance(data, dict) and "cd" in data and "methods" in data:
            comp = data
    if comp is None:
        comp = compare_results(paths, metric=metric, by=by, alpha=alpha)
    names = [m["name"] for m in comp["methods"]]
    ranks = [m["avg_rank"] for m in comp["methods"]]
    return P.plot_cd_diagram(out, names, ranks, comp["cd"],
                             title=f"critical difference ({comp.get('metric', '')}, N = {comp.get('n_blocks')})",
                             overwrite=overwrite, fmt=fmt)


def tsne_from_checkpoint(checkpoint, out, *, audio=None, video=None, split=None, trial=None, modality="audio",
                         method="tsne", max_per_class: int = 50, seed: int = 0, overwrite=False,
                         fmt: str | None = None, classes: int | str | list[str] | None = None,
                         allow_other_extractor: bool = False) -> Path:
    """AVGZSLNet Fig. 6: test instances in the learned space (the model's ``embed``), class text as stars.

    Test instances: a ZSL trial's test classes; a GZSL trial's test-seen clips and unseen-class clips (never
    training, validation or val_unseen clips). ``classes``: None = every test class; an integer N = N classes
    drawn at random (``seed``) from the seen classes of a GZSL trial (as in AVGZSLNet's Fig. 6: 5 seen
    classes) or the test classes of a ZSL trial; a list (or comma-separated names) = those classes.
    ``method`` is the 2-D layout, tsne or pca; the title names the layout actually computed."""
    import torch

    from zsltool.evaluate.evaluate import load_for_evaluation
    from zsltool.evaluate.transductive import unit_rows
    from zsltool.train.checkpoint import semantic_matrix
    from zsltool.train.data import select_instances

    if modality not in ("audio", "video"):
        raise ZslError("t-SNE plots one modality", hint="use --modality audio or video")
    ld = load_for_evaluation(checkpoint, audio=audio, video=video, split=split, trial=trial, modality=modality,
                             allow_other_extractor=allow_other_extractor)
    t = ld.trial
    every = (list(t.seen) + list(t.unseen)) if t.is_gzsl else list(t.test)
    rng = np.random.default_rng(seed)
    if classes is None:
        chosen = every
    elif isinstance(classes, int) or (isinstance(classes, str) and classes.strip().isdigit()):
        n = int(classes)
        pool = list(t.seen) if t.is_gzsl else list(t.test)
        if not 1 <= n <= len(pool):
            raise ZslError(f"--classes {n}: the trial has {len(pool)} {'seen' if t.is_gzsl else 'test'} classes")
        pick = set(rng.choice(len(pool), size=n, replace=False).tolist())
        chosen = [c for i, c in enumerate(pool) if i in pick]
    else:
        names = [c.strip() for c in classes.split(",")] if isinstance(classes, str) else list(classes)
        bad = [c for c in names if c not in every]
        if bad:
            raise ZslError(f"class {bad[0]!r} is not a test class of this trial",
                           hint=f"choose from {', '.join(every[:10])}{' ...' if len(every) > 10 else ''}")
        chosen = [c for c in every if c in names]
    ids = None
    if t.is_gzsl:  # test-seen rows, then the listed test-unseen rows or every unseen-class row not held out
        a, listed = ld.inputs.audio, t.instances.get("test_unseen")
        held, unseen = set(t.instances.get("val_unseen") or []), set(t.unseen)
        ids = list(t.instances.get("test_seen") or []) + (list(listed) if listed is not None else [
            i for i, k in zip(a.ids, a.label_index()) if k >= 0 and a.classes[k] in unseen and i not in held])
    classes = chosen
    inst = select_instances(ld.inputs, classes, ids=ids, modalities=(modality,))
    if len(inst) == 0:
        raise ZslError("no instances of the trial's test classes to plot")
    keep = np.concatenate([rng.permutation(np.nonzero(inst.labels == c)[0])[:max_per_class]
                           for c in range(len(classes))]).astype(np.int64)
    keep.sort()
    X = inst.audio[keep] if modality == "audio" else inst.video[keep]
    C = semantic_matrix(ld.ckpt, classes)
    with torch.no_grad():
        try:
            prep = ld.model.prep_audio if modality == "audio" else ld.model.prep_video
            e = ld.model.embed(class_emb=ld.model.prep_classes(torch.as_tensor(C)),
                               **{modality: prep(torch.as_tensor(X))})
            pts, stars = e[modality].numpy(), e["class"].numpy()
            title = f"{{layout}} of {ld.ckpt['method']} {modality} embeddings (stars: class embeddings)"
        except (NotImplementedError, KeyError):
            log.warning(f"method {ld.ckpt['method']!r} has no shared embedding space: plotting the input features "
                        "without class stars")
            pts, stars, title = X, None, f"{{layout}} of the {modality} input features"
    if stars is not None and stars.shape[1] != pts.shape[1]:
        stars = None
    if stars is not None and hasattr(ld.model, "compat"):
        # dot-product compatibility (projection, bilinear, ...): instance and class rows differ in scale by
        # orders of magnitude and the class rows share an offset (which does not change any ranking), so the
        # class rows are centred and both are L2-normalised (cosine geometry) before the layout
        pts, stars = unit_rows(pts), unit_rows(stars - stars.mean(axis=0, keepdims=True))
        title += " (cosine)"
    return P.plot_embedding(out, pts, inst.labels[keep], classes, stars, method=method, seed=seed, title=title,
                            overwrite=overwrite, fmt=fmt)


def is_figure_file(out) -> bool:
    """Whether ``out`` names one figure file (.png, .pdf or .svg) rather than a folder."""
    return Path(out).suffix.lower().lstrip(".") in P.FORMATS


def _target(out, name: str, fmt: str | None = None, modality: str | None = None) -> Path:
    """``out`` itself when it names a figure file (.png/.pdf/.svg), else ``out/<name>.<fmt or png>`` (a folder).
    ``modality`` (one figure per modality): ``x.svg`` -> ``x.audio.svg``; in a folder the name carries it."""
    p = Path(out)
    if is_figure_file(p):
        return p.with_name(f"{p.stem}.{modality}{p.suffix}") if modality else p
    if p.suffix and not p.is_dir():
        raise ZslError(f"{out}: not a figure file name (.png, .pdf, .svg) nor a folder",
                       hint="name the file .png, .pdf or .svg, or give a folder")
    p.mkdir(parents=True, exist_ok=True)
    return p / f"{name}.{P.figure_format('x', fmt) if fmt else 'png'}"


def make_plots(kind: str, inputs, out, *, audio=None, video=None, split=None, trial=None, modality=None,
               layout="tsne", max_per_class=50, metric="auto", seed=0, overwrite=False,
               fmt: str | None = None, classes=None, allow_other_extractor: bool = False) -> list[Path]:
    """The ``zsl plot`` entry point. ``kind`` "auto": a checkpoint gives t-SNE + confusion, a results file gives
    confusion + per-class bars. ``out`` is a figure file (.png, .pdf or .svg: one figure, in that format) or a
    folder (``<kind>.<fmt>`` inside, png by default). ``fmt`` (png, pdf, svg) overrides the extension."""
    from zsltool.files.formats import load_json

    inputs = [str(i) for i in inputs]
    if kind not in KINDS + ("auto",):
        raise ZslError(f"unknown plot kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    if kind == "cd":
        return [cd_from_inputs(inputs, _target(out, "cd", fmt), overwrite=overwrite, metric=metric, fmt=fmt)]
    if len(inputs) != 1:
        raise ZslError(f"plot {kind} takes one input file, got {len(inputs)}",
                       hint="one figure source per call; only cd compares several results files")
    src = inputs[0]
    is_json = False
    try:
        with open(src, "rb") as fh:
            is_json = fh.read(1) in (b"{", b"[")
    except OSError:
        raise ZslError(f"input not found: {src}", hint="check the path") from None
    if kind == "auto":
        kinds = ["confusion", "per-class"] if is_json else ["tsne", "confusion"]
        if is_figure_file(out):
            kinds = kinds[:1]
    else:
        kinds = [kind]
    written = []
    for k in kinds:
        if k == "tsne":
            if is_json:
                raise ZslError("a t-SNE plot needs a checkpoint, not a results file",
                               hint="give the checkpoint the results came from (zsl train -o, or checkpoints/ in "
                                    "a zsl experiment folder); a results file gives confusion and per-class")
            from zsltool.train.checkpoint import build_model, load_checkpoint

            mods = [modality] if modality else ["audio"]
            if not modality and (video or (load_checkpoint(src).get("config") or {}).get("video")):
                if build_model(load_checkpoint(src)).uses_video:
                    mods.append("video")
            targets = [_target(out, layout, fmt) if len(mods) == 1 else _target(out, f"{layout}-{m}", fmt, m)
                       for m in mods]
            clash = [t for t in targets if t.exists() and not overwrite]
            if clash:  # refused before the first figure is drawn
                raise ZslError(f"output already exists: {clash[0]}", hint="pass --overwrite to replace it")
            try:
                for m, target in zip(mods, targets):
                    written.append(tsne_from_checkpoint(src, target, audio=audio, video=video, split=split,
                                                        trial=trial, modality=m, method=layout,
                                                        max_per_class=max_per_class, seed=seed,
                                                        overwrite=overwrite, fmt=fmt, classes=classes,
                                                        allow_other_extractor=allow_other_extractor))
            except BaseException:
                if not overwrite:  # no half set of figures: the ones this call drew are removed
                    for p in written:
                        Path(p).unlink(missing_ok=True)
                raise
        else:  # from a results file, or from a checkpoint evaluated first
            if is_json:
                from zsltool.evaluate.results import load_results

                load_json(src)
                doc = load_results(src)
            else:
                from zsltool.evaluate.evaluate import evaluate_checkpoint

                doc = evaluate_checkpoint(src, audio=audio, video=video, split=split, trial=trial,
                                          modality=modality or "both", seed=seed,
                                          allow_other_extractor=allow_other_extractor)
            written.append(RESULTS_FIGURES[k](doc, _target(out, k, fmt), source=src, overwrite=overwrite, fmt=fmt))
    return written
