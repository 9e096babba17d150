"""``zsl prepare RECIPE``: dataset folders as downloaded -> class set, clip manifest, split files (thin shims over
``zsltool.prepare``)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional

import typer

from zsltool.cli.common import JsonOpt, OverwriteOpt, emit, info, kv_table, seed_option, seed_or_global
from zsltool.prepare import (RECIPES, prepare_audioset, prepare_avgzsl_benchmark, prepare_esc50,
                             prepare_urbansound8k)

OutOpt = typer.Option(..., "--out", "-o", help="Output folder (classes.json, clips.csv, split files).")

prepare_app = typer.Typer(no_args_is_help=True, help="Dataset recipes: a dataset folder as downloaded -> "
                          "classes.json, clips.csv (absolute paths, labels, the dataset's folds) and split files.")


def _show(res: dict, json_out: bool) -> None:
    info(f"wrote {res['out']}: {res['classes']} classes" + (f", {res['clips']} clips" if "clips" in res else ""))
    flat = {k: v for k, v in res.items() if k not in ("files", "missing_ids", "duplicate_examples")}
    emit(res, json_out, table=lambda r: kv_table(flat, title=f"zsl prepare ({res['dataset']})"))


def folder_recipe(name: str, recipe) -> Callable:
    """The command of a recipe that takes only the dataset folder (``Recipe.root_help``)."""

    def command(root: Path = typer.Argument(..., help=recipe.root_help), out: Path = OutOpt,
                overwrite: bool = OverwriteOpt, json_out: bool = JsonOpt):
        _show(recipe.fn(root, out, overwrite=overwrite), json_out)

    command.__doc__, command.__name__ = recipe.help, f"{name.replace('-', '_')}_cmd"
    return command


ClassFoldsOpt = typer.Option(5, "--class-folds", min=2, help="Zero-shot class folds to write.")
FoldSeedOpt = seed_option("Seed of the class folds (default: the global --seed).")


def esc50_cmd(
    root: Path = typer.Argument(..., help="The ESC-50 folder (ESC-50-master/: meta/esc50.csv, audio/)."),
    out: Path = OutOpt,
    esc10: bool = typer.Option(False, "--esc10", help="Only the 10-class ESC-10 subset."),
    class_folds: int = ClassFoldsOpt,
    seed: Optional[int] = FoldSeedOpt,
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    _show(prepare_esc50(root, out, esc10=esc10, class_folds=class_folds, seed=seed_or_global(seed),
                        overwrite=overwrite), json_out)


def urbansound8k_cmd(
    root: Path = typer.Argument(..., help="The UrbanSound8K folder (metadata/UrbanSound8K.csv, audio/fold1..10/)."),
    out: Path = OutOpt,
    class_folds: int = ClassFoldsOpt,
    seed: Optional[int] = FoldSeedOpt,
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    _show(prepare_urbansound8k(root, out, class_folds=class_folds, seed=seed_or_global(seed), overwrite=overwrite),
          json_out)


def audioset_cmd(
    segments: List[Path] = typer.Argument(..., help="AudioSet segment CSVs (e.g. balanced_train_segments.csv)."),
    audio_dir: Path = typer.Option(..., "--audio-dir", help="Folder holding the downloaded clips."),
    out: Path = OutOpt,
    classes: Optional[Path] = typer.Option(None, "--classes", "-c", help="Map labels onto this class set (merged "
                                           "MIDs count as their parent); default: every MID is a class."),
    class_labels: Optional[Path] = typer.Option(None, "--class-labels", help="AudioSet class_labels_indices.csv "
                                                "to name the MIDs (without --classes)."),
    path_template: str = typer.Option("{id}.wav", "--path-template", help="File name under --audio-dir; fields "
                                      "{id} {ytid} {start} {end} {start_ms} {start_int} {end_int}."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    _show(prepare_audioset(segments, out, audio_dir=audio_dir, classes=classes, class_labels=class_labels,
                           path_template=path_template, overwrite=overwrite), json_out)


def avgzsl_cmd(
    root: Path = typer.Argument(..., help="One dataset folder of avgzsl_benchmark_datasets/ (UCF, VGGSound, "
                                "ActivityNet)."),
    out: Path = OutOpt,
    features: str = typer.Option("cls_features", "--features", help="Feature folder under features/ "
                                 "(cls_features: VGGish/C3D; main_features: SeLaVi)."),
    split: str = typer.Option("cls_split", "--split", help="Class-split folder (cls_split or main_split)."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    res = prepare_avgzsl_benchmark(root, out, features=features, split=split, overwrite=overwrite)
    info(f"wrote {res['out']}: {res['classes']} classes; split.json holds both stages (zsl experiment --two-stage)")
    emit(res, json_out, table=lambda r: kv_table({k: v for k, v in r.items() if k != "files"},
                                                 title=f"zsl prepare avgzsl-benchmark ({r['dataset']})"))


# the commands with options of their own; every other recipe of RECIPES takes only its folder (folder_recipe)
OWN_COMMANDS = {"esc50": esc50_cmd, "urbansound8k": urbansound8k_cmd, "audioset": audioset_cmd,
                "avgzsl-benchmark": avgzsl_cmd}
for _name, _recipe in RECIPES.items():
    prepare_app.command(_name, help=_recipe.help)(OWN_COMMANDS.get(_name) or folder_recipe(_name, _recipe))


COMMANDS = {"prepare": prepare_app}
