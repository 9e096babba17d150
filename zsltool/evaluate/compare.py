"""Friedman test and Nemenyi critical difference (Demšar, JMLR 2006) across methods over blocks.

A block is one split/trial (a "data set" in Demšar's terms); a treatment is one method (or semantic).
``scores`` is an (N blocks, k treatments) array, higher = better; rank 1 is the best in each block and tied
values get their average rank.

* Friedman: chi2_F = 12N / (k(k+1)) * (sum_j R_j^2 - k(k+1)^2 / 4), with R_j the average ranks; the
  Iman–Davenport F_F = (N-1) chi2_F / (N(k-1) - chi2_F); p-values from scipy.
* Nemenyi: CD = q_alpha * sqrt(k(k+1) / (6N)), q_alpha from Demšar's Table 5 (studentized range / sqrt 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from zsltool.errors import ZslError
from zsltool.scores.metrics import AUTO_METRICS, METRICS

# Demšar 2006, Table 5(a): critical values of the two-tailed Nemenyi test, k = 2..10.
Q_ALPHA = {
    0.05: [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164],
    0.10: [1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920],
}


def q_alpha(k: int, alpha: float = 0.05) -> float:
    """Nemenyi critical value for k treatments; beyond the table, scipy's studentized range / sqrt(2)."""
    if k < 2:
        raise ZslError("a comparison needs at least two methods")
    if alpha in Q_ALPHA and k <= 10:
        return Q_ALPHA[alpha][k - 2]
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """CD = q_alpha * sqrt(k(k+1) / (6N))."""
    if n < 1:
        raise ZslError("a comparison needs at least one block (trial or split)")
    return q_alpha(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n))


def rank_rows(scores) -> np.ndarray:
    """Per row: rank 1 = highest score, ties share their average rank."""
    from scipy.stats import rankdata

    return rankdata(-np.asarray(scores, dtype=np.float64), method="average", axis=1)


def friedman_statistic(avg_ranks, n: int) -> float:
    r = np.asarray(avg_ranks, dtype=np.float64)
    k = r.size
    return float(12.0 * n / (k * (k + 1)) * (np.sum(r ** 2) - k * (k + 1) ** 2 / 4.0))


def iman_davenport(chi2: float, n: int, k: int) -> float:
    denom = n * (k - 1) - chi2
    return float("inf") if denom <= 0 else float((n - 1) * chi2 / denom)


@dataclass
class Comparison:
    names: list[str]
    avg_ranks: np.ndarray
    n_blocks: int
    chi2: float
    ff: float
    p_chi2: float
    p_ff: float
    cd: float
    alpha: float
    mean_scores: np.ndarray

    def pairwise(self) -> list[dict]:
        rows = []
        for i in range(len(self.names)):
            for j in range(i + 1, len(self.names)):
                d = float(abs(self.avg_ranks[i] - self.avg_ranks[j]))
                rows.append({"a": self.names[i], "b": self.names[j], "rank_a": float(self.avg_ranks[i]),
                             "rank_b": float(self.avg_ranks[j]), "rank_diff": d, "cd": self.cd,
                             "significant": bool(d > self.cd)})
        return rows

    def to_dict(self) -> dict:
        return {"methods": [{"name": n, "avg_rank": float(r), "mean_score": float(m)}
                            for n, r, m in zip(self.names, self.avg_ranks, self.mean_scores)],
                "n_blocks": self.n_blocks, "k": len(self.names), "friedman_chi2": self.chi2,
                "friedman_p": self.p_chi2, "iman_davenport_F": self.ff, "iman_davenport_p": self.p_ff,
                "alpha": self.alpha, "cd": self.cd, "pairwise": self.pairwise()}


def friedman_nemenyi(scores, names: list[str], alpha: float = 0.05, higher_is_better: bool = True) -> Comparison:
    """Average ranks (rank 1 = the best score of a block: the highest, or the lowest when not
    ``higher_is_better``), the Friedman and Iman-Davenport statistics and Nemenyi's critical difference."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(names):
        raise ZslError(f"scores must be blocks x {len(names)} methods, got shape {scores.shape}")
    n, k = scores.shape
    if k < 2:
        raise ZslError("a comparison needs at least two methods")
    if n < 2:
        raise ZslError(f"a Friedman test needs at least two blocks (trials/splits); found {n}",
                       hint="compare results with several trials, or several results files")
    avg = rank_rows(scores if higher_is_better else -scores).mean(axis=0)
    chi2 = friedman_statistic(avg, n)
    ff = iman_davenport(chi2, n, k)
    from scipy import stats

    p_chi2 = float(stats.chi2.sf(chi2, k - 1))
    p_ff = float(stats.f.sf(ff, k - 1, (k - 1) * (n - 1))) if math.isfinite(ff) else 0.0
    return Comparison(names=list(names), avg_ranks=avg, n_blocks=n, chi2=chi2, ff=ff, p_chi2=p_chi2, p_ff=p_ff,
                      cd=critical_difference(k, n, alpha), alpha=alpha, mean_scores=scores.mean(axis=0))


def cliques(avg_ranks, cd: float) -> list[tuple[int, int]]:
    """Maximal runs (in rank order, as sorted positions) whose rank spread is <= CD: the CD diagram bars."""
    r = np.sort(np.asarray(avg_ranks, dtype=np.float64))
    out: list[tuple[int, int]] = []
    for i in range(r.size):
        j = i
        while j + 1 < r.size and r[j + 1] - r[i] <= cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in out):
            out.append((i, j))
    return out


# ---------------------------------------------------------------- from results files

BY = ("method", "semantic", "file")


def _records_of(doc: dict, path) -> list[dict]:
    """(treatment fields, block fields, metrics) records from one results file.

    A block's split is its content hash when the manifest records it (so the same split reached through
    different paths is one block, and different splits under one path are not), else its path text.
    """
    from pathlib import Path

    stem = Path(path).stem
    hashes = {str(Path(i["path"])): i["sha256"] for i in (doc.get("manifest") or {}).get("inputs") or []
              if isinstance(i, dict) and i.get("path") and i.get("sha256")}  # split path (as recorded) -> sha256

    def split_key(split) -> str:
        split = str(split or "")
        return hashes.get(str(Path(split)), split) if split else ""

    if doc.get("task") == "experiment":
        out = []
        for r in doc.get("trials", []):
            for mod, m in r["metrics"].items():
                out.append({"method": r["method"], "semantic": r["semantic"], "file": stem,
                            "split": split_key(r["split"]), "trial": r["trial"], "modality": mod, "metrics": m,
                            "source": str(path)})
        return out
    if doc.get("task") in ("zsl", "gzsl", "retrieval"):
        cfg = (doc.get("manifest") or {}).get("config") or {}
        return [{"method": cfg.get("method", stem), "semantic": cfg.get("semantic") or "", "file": stem,
                 "split": split_key(cfg.get("split", "")), "trial": cfg.get("trial", 0),
                 "modality": cfg.get("modality", ""), "metrics": doc.get("metrics", {}), "source": str(path)}]
    raise ZslError(f"{path}: results of task {doc.get('task')!r} cannot be compared",
                   hint="give results of zsl evaluate, retrieve or experiment")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def compare_results(paths, metric: str = "auto", by: str = "method", alpha: float = 0.05,
                    strict: bool = False) -> dict:
    """Friedman + Nemenyi over the blocks (split, trial, modality and the other factor) shared by every
    treatment (``by``: method, semantic or file). A treatment twice in one block is a ZslError.

    Fewer than 3 treatments or fewer than 5 blocks: a validity warning (``warnings``; ``strict``: ZslError);
    with 2 treatments the Wilcoxon signed-rank test of the paired scores is reported (``wilcoxon``)."""
    from zsltool.runtime.guards import compare_size, report, wilcoxon

    from zsltool.evaluate.results import load_results

    if by not in BY:
        raise ZslError(f"unknown grouping {by!r}", hint="use method, semantic or file")
    recs = []
    for p in paths:
        recs.extend(_records_of(load_results(p), p))
    numeric = sorted({k for r in recs for k, v in r["metrics"].items() if _is_number(v)})
    if metric == "auto":
        metric = next((m for m in AUTO_METRICS if any(m in r["metrics"] for r in recs)), AUTO_METRICS[-1])
    recs = [r for r in recs if r["metrics"].get(metric) is not None]
    if not recs:
        raise ZslError(f"no results carry the metric {metric!r}",
                       hint=f"numeric metrics of these results: {', '.join(numeric) or 'none'}")
    if not all(_is_number(r["metrics"][metric]) for r in recs):
        raise ZslError(f"metric {metric!r} is not a number in these results",
                       hint=f"choose one of the numeric metrics: {', '.join(numeric) or 'none'}")
    other = {"method": ["semantic"], "semantic": ["method"], "file": []}[by]
    table: dict[tuple, dict[str, float]] = {}
    source: dict[tuple, str] = {}
    for r in recs:
        block = (r["split"], r["trial"], r["modality"]) + tuple(r[f] for f in other)
        if r[by] in table.setdefault(block, {}):
            first = source[block + (r[by],)]
            raise ZslError(f"{by} {r[by]!r} appears twice in one block (split, trial {r['trial']}, modality "
                           f"{r['modality'] or '-'}): in {first} and in {r['source']}",
                           hint="give each result once; to compare two runs of one method, give their files distinct "
                                "names and use --by file")
        table[block][r[by]] = float(r["metrics"][metric])
        source[block + (r[by],)] = r["source"]
    names = list(dict.fromkeys(r[by] for r in recs))
    full = [b for b, v in table.items() if len(v) == len(names)]
    dropped = len(table) - len(full)
    scores = np.array([[table[b][n] for n in names] for b in full], dtype=np.float64).reshape(len(full), len(names))
    warnings = report(compare_size(len(names), len(full)), strict,
                      hint="compare 3 or more treatments over 5 or more blocks (trials x splits)")
    extra = {"warnings": warnings} if warnings else {}
    if len(names) == 2 and len(full) >= 1:
        extra["wilcoxon"] = {"a": names[0], "b": names[1], **wilcoxon(scores[:, 0], scores[:, 1])}
    spec = METRICS.get(metric)  # an unregistered numeric key (n_test, ...) ranks higher-first
    comp = friedman_nemenyi(scores, names, alpha=alpha, higher_is_better=spec.higher_is_better if spec else True)
    return {"metric": metric, "by": by, "blocks_used": len(full), "blocks_dropped": dropped, **comp.to_dict(),
            **extra}
