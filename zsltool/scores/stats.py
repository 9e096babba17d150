"""Summary statistics: over trials, mean, sample SD and a t-based 95 % confidence interval; and the harmonic
mean of S and U (``harmonic_mean``: GZSL accuracy and retrieval AP, ``zsltool.scores.metrics`` and
``zsltool.scores.retrieval``).

``summarize(values)`` returns ``{"mean", "sd", "ci95", "n"}``:

* ``n``: how many values were used. ``None`` and NaN entries are dropped first (they mark a metric that
  is undefined for that trial, e.g. HM with no unseen test clip); an infinite value is a ``ValueError``.
* ``mean``: the arithmetic mean (``None`` when ``n == 0``).
* ``sd``: the sample standard deviation, ``ddof = 1`` (``None`` when ``n < 2``).
* ``ci95``: the half-width of the two-sided 95 % confidence interval of the mean from Student's t
  distribution, ``t(0.975, n - 1) * sd / sqrt(n)`` (``None`` when ``n < 2``); the interval is
  ``mean ± ci95``.

With a single trial SD and CI are **undefined, not zero**: ``None`` (JSON ``null``, an empty CSV cell, "–"
in a table), so a one-trial result never looks perfectly certain.
"""

from __future__ import annotations

import math
from typing import Iterable

__all__ = ["harmonic_mean", "summarize", "t_quantile"]


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(p, df))


def summarize(values: Iterable[float | None]) -> dict:
    """``{"mean", "sd", "ci95", "n"}`` of ``values`` (see the module docstring for the definitions)."""
    xs: list[float] = []
    for v in values:
        if v is None:
            continue
        f = float(v)
        if math.isnan(f):
            continue
        if math.isinf(f):
            raise ValueError(f"summarize: infinite value {v!r}")
        xs.append(f)
    n = len(xs)
    if n == 0:
        return {"mean": None, "sd": None, "ci95": None, "n": 0}
    mean = math.fsum(xs) / n
    if n < 2:
        return {"mean": mean, "sd": None, "ci95": None, "n": 1}
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    ci95 = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    return {"mean": mean, "sd": sd, "ci95": ci95, "n": n}


def harmonic_mean(s: float, u: float) -> float:
    """HM = 2SU / (S + U); 0 when both are 0; NaN when either is NaN."""
    if math.isnan(s) or math.isnan(u):
        return float("nan")
    if s + u == 0:
        return 0.0
    return float(2.0 * s * u / (s + u))
