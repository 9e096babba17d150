"""`zsl split`: class partitions (and GZSL instance partitions) for the evaluation protocols."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import click
import typer

from zsltool.classes.presets import SPLIT_PRESETS
from zsltool.classes.protocols import make_split, protocol_help
from zsltool.cli.common import JsonOpt, OverwriteOpt, SeedOpt, emit, info, kv_table, noted, rows_table, seed_or_global
from zsltool.cli.types import float_option
from zsltool.names import SPLIT_PROTOCOLS
from zsltool.runtime.progress import count_of

PROTOCOLS = list(SPLIT_PROTOCOLS)


def _numbers(value: Optional[str], opt: str, kind: type = float) -> Optional[list]:
    """``--opt A,B,C`` as a list of ``kind`` (int or float, finite)."""
    if value is None:
        return None
    try:
        out = [kind(x) for x in value.split(",")]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise typer.BadParameter(f"{opt} must be comma-separated {what}, got {value!r}") from None
    if not all(math.isfinite(x) for x in out):
        raise typer.BadParameter(f"{opt} must be finite numbers, got {value!r}")
    return out


def split(
    classes: Path = typer.Argument(..., help="Class-set file from `zsl build-classes`."),
    protocol: str = typer.Option(..., "--protocol", "-p", click_type=click.Choice(PROTOCOLS),
                                 help=protocol_help()),
    out: Path = typer.Option(..., "--out", "-o", help="Output split file (.json)."),
    sizes: Optional[str] = typer.Option(None, "--sizes", help="TRAIN,VAL,TEST class counts (random, within; "
                                        "per category for across). Defaults: thirds; (n-2)/2,(n-2)/2,2; "
                                        "(m-1)/2,(m-1)/2,1."),
    trials: Optional[int] = typer.Option(None, "--trials", min=1, help="Number of seeded trials (default 5; gzsl 1)."),
    preset: Optional[str] = typer.Option(None, "--preset", click_type=click.Choice(list(SPLIT_PRESETS)),
                                         help="random: one trial with fixed classes instead of seeded draws; "
                                         "paper-table1 = Dogan et al.'s Table I (23/23/23)."),
    seed: Optional[int] = SeedOpt,
    category: Optional[str] = typer.Option(None, "--category", help="within: Animal, Musical instrument, Vehicle, "
                                           "... (case-insensitive)."),
    categories: Optional[str] = typer.Option(None, "--categories", help="across: comma-separated categories, "
                                             "e.g. Animal,Vehicle."),
    membership: Optional[str] = typer.Option(None, "--membership", help="Category membership: ontology (default), "
                                             "paper (Table II: Animal without Insect) or a JSON/CSV file."),
    seen: Optional[Path] = typer.Option(None, "--seen", help="gzsl: list of seen classes (names or ids)."),
    unseen: Optional[Path] = typer.Option(None, "--unseen", help="gzsl: list of unseen classes."),
    instances: Optional[Path] = typer.Option(None, "--instances", help="gzsl: clip manifest (.csv) or embedding "
                                             "file (.h5) with the instances' ids and labels."),
    fractions: Optional[str] = typer.Option(None, "--fractions", help="gzsl: TRAIN,VAL,TEST_SEEN fractions of "
                                            "each seen class's instances (default 0.6,0.2,0.2)."),
    unseen_val_fraction: Optional[float] = float_option(
        None, "--unseen-val-fraction", min=0, max=1, max_open=True, help="gzsl: fraction of each unseen class's instances kept apart (never "
        "trained or tested on) to choose calibrated stacking's beta (default 0: none)."),
    folds: Optional[int] = typer.Option(None, "--folds", min=2, help="folds: number of class folds (default 5)."),
    val_folds: Optional[int] = typer.Option(None, "--val-folds", min=0, help="folds: validation folds per trial "
                                            "(default 1; 0 with --folds 2)."),
    strict: bool = typer.Option(False, "--strict", help="Validity warnings (e.g. classes left out of a random "
                                "split) are errors."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Make a split file: seeded class partitions for a zero-shot protocol (and GZSL instance partitions)."""
    categories = [c.strip() for c in categories.split(",") if c.strip()] if categories else None
    result = make_split(classes, protocol, out, seed=seed_or_global(seed), overwrite=overwrite, strict=strict,
                        sizes=_numbers(sizes, "--sizes", int), trials=trials, membership=membership, seen=seen,
                        unseen=unseen, instances=instances, fractions=_numbers(fractions, "--fractions"),
                        val_folds=val_folds, unseen_val_fraction=unseen_val_fraction, preset=preset,
                        category=category, categories=categories, folds=folds)
    info(f"wrote {result['out']} ({count_of(len(result['trials']), 'trial')})")

    def table(r):
        head = {"out": r["out"], "protocol": r["protocol"], "seed": r["seed"],
                **{k: v for k, v in r["params"].items() if k != "warnings"}}
        return [noted(kv_table(head, title="split"), r["params"].get("warnings")),
                rows_table(r["trials"], title="trials")]

    emit(result, json_out, table)


COMMANDS = {"split": split}
