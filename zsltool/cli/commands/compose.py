"""``zsl prototypes`` and ``zsl combine``: thin shims over zsltool.store.compose."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from zsltool.cli.common import JsonOpt, OverwriteOpt, emit, kv_table, seed_option, seed_or_global


def prototypes_cmd(
    inp: Path = typer.Argument(..., help="Instance-level embedding file."),
    out: Path = typer.Option(..., "--out", "-o", help="Output class-level file."),
    sample: str = typer.Option("mean", "--sample", help="mean (paper) or random (one instance per class)."),
    seed: Optional[int] = seed_option("Seed for --sample random (default: the global --seed)."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Class prototypes: mean (or one random instance) of each class's valid single-label rows."""
    from zsltool.store.compose import SAMPLES, prototypes

    if sample not in SAMPLES:
        raise typer.BadParameter(f"{sample!r} is not one of {', '.join(SAMPLES)}", param_hint="--sample")
    res = prototypes(inp, out, sample=sample, seed=seed_or_global(seed), overwrite=overwrite)
    emit(res, json_out, table=lambda r: kv_table(r, title="prototypes"))

def combine_cmd(
    parts: List[Path] = typer.Argument(..., help="Two or more class-level files (e.g. image text)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output class-level file (concatenation)."),
    l2: bool = typer.Option(False, "--l2", help="L2-normalise each part's rows before concatenating."),
    intersect: bool = typer.Option(False, "--intersect", help="Keep the classes common to all files."),
    overwrite: bool = OverwriteOpt,
    json_out: bool = JsonOpt,
):
    """Concatenate class-level files (image || text = hybrid)."""
    from zsltool.store.compose import combine

    res = combine(parts, out, l2=l2, intersect=intersect, overwrite=overwrite)
    emit(res, json_out, table=lambda r: kv_table(r, title="combine"))


COMMANDS = {"prototypes": prototypes_cmd, "combine": combine_cmd}
