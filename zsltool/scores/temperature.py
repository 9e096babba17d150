"""Probabilities from compatibility scores: softmax over the candidate labels with a temperature.

``zsl train`` chooses the temperature once and stores it with how it was chosen in the checkpoint
(``ckpt["calibration"]``, the calibration record; ``zsl inspect`` shows it). docs/classify.md explains the
choice; in short:

* **Rows.** Only the trial's validation rows, ranked among the validation classes (for a ZSL trial classes
  the model never trained on: the situation of new labels). Never the training rows: a zero-shot model's
  scores on the classes it was trained on are sharper than its scores on new ones (on real ESC-50 features
  a fit there gave a mean top probability of 0.90-0.99 at a top-1 of 0.27-0.31).
* **Fit.** Temperature scaling (Guo et al., 2017) with a prior, so that it cannot collapse: the maximum a
  posteriori ``T`` under a log-normal prior centred on the score scale ``s0`` (the median over the rows of
  the standard deviation of a row's scores over its candidates: the temperature of the default below) with
  ``PRIOR_SD`` in log space, searched within ``[s0 / BOUND, s0 * BOUND]``. Many rows decide ``T`` by
  their likelihood; a few rows, or rows that are all ranked right (separable: the likelihood alone falls
  forever as ``T -> 0``, which stored T = 0.005 before), leave it near ``s0``. The record keeps the
  unregularised fit too (``mle_temperature``, None when separable) and says which case applied.
* **Fallback.** No validation rows (or fewer than two validation classes), non-finite scores, or fitted
  probabilities no better than uniform ones (likelihood-ratio test, 5 %): no temperature is stored, the
  record says why (``fallback``), and ``zsl classify`` / ``zsl evaluate`` divide each clip's scores by their
  standard deviation over the candidates (``temperature_source: "per-clip-std"``): the default temperature
  from the score scale, independent of the method's scale, not fitted.
* **Earlier checkpoints.** A record without ``prior`` keeps its temperature unless it was fitted on training
  rows or collapsed (below ``s0 / 20`` of the scores being classified): :func:`legacy_problem`.

Only numpy here: ``zsl train`` imports this module, and so do ``zsl classify`` and ``zsl evaluate``.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger("zsltool.calibration")
DEFAULT_SOURCE = "per-clip-std"
PRIOR_SD = float(np.log(2.0))   # the prior's standard deviation of log T: T within a factor 2 of s0 at 1 SD
BOUND = 100.0                   # T is searched within [s0 / BOUND, s0 * BOUND]
METHOD = "temperature scaling, MAP under a log-normal prior centred on the score scale"


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def softmax(scores: np.ndarray, temperature: float | np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature`` (``temperature`` a number or one per row)."""
    t = np.asarray(temperature, dtype=np.float64)
    if t.ndim == 1:
        t = t[:, None]
    return np.exp(log_softmax(np.asarray(scores, np.float64) / t))


def per_clip_temperature(scores: np.ndarray) -> np.ndarray:
    """The default temperature: each row's standard deviation over the candidates (1 where it is 0)."""
    sd = np.asarray(scores, np.float64).std(axis=1)
    return np.where(sd > 0, sd, 1.0)


def score_scale(scores: np.ndarray) -> float:
    """``s0``: the median over the rows of their standard deviation over the candidates (1 when all are 0)."""
    sd = np.asarray(scores, np.float64).std(axis=1)
    sd = sd[np.isfinite(sd) & (sd > 0)]
    return float(np.median(sd)) if sd.size else 1.0


def legacy_problem(calibration: dict, scores: np.ndarray) -> str | None:
    """Why a temperature stored by a zsl from before the prior (a record without ``prior``) is not used, or
    None: fitted on training rows (overconfident on new classes), or collapsed (below ``s0 / 20`` of these
    scores' scale: a small separable validation fold, every probability 0 or 1)."""
    T = calibration.get("temperature")
    if not T or "prior" in calibration or calibration.get("source"):
        return None
    if calibration.get("on") == "training":
        return f"fitted on training rows by an earlier zsl (T = {T:.3g}: overconfident on new classes)"
    s0 = score_scale(scores) if len(scores) else 0.0
    if T < s0 / 20:
        return (f"collapsed (T = {T:.3g}, the scores' scale {s0:.3g}: an earlier zsl fitted it on a small "
                "validation fold it separated perfectly)")
    return None


def temperature_of(calibration: dict | None, scores: np.ndarray) -> tuple[float | np.ndarray, str]:
    """The temperature ``zsl classify`` and ``zsl evaluate`` apply to ``scores`` and where it comes from: the
    checkpoint's stored one, else each row's standard deviation (a source starting with ``DEFAULT_SOURCE``;
    also for a stored one that :func:`legacy_problem` rejects, with a warning)."""
    cal = calibration or {}
    T = cal.get("temperature")
    why = legacy_problem(cal, np.asarray(scores, np.float64))
    if why:
        log.warning(
            f"the checkpoint's temperature is not used: {why}; each clip's scores are divided by their standard "
            "deviation (zsl train again stores a temperature that cannot collapse)")
        return per_clip_temperature(scores), f"{DEFAULT_SOURCE} (stored T ignored: {why})"
    if T:
        return float(T), cal.get("source") or f"checkpoint (fitted on {cal.get('rows')} {cal.get('on')} rows)"
    return per_clip_temperature(scores), DEFAULT_SOURCE


def nll(scores: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    lp = log_softmax(np.asarray(scores, np.float64) / temperature)
    return float(-lp[np.arange(len(labels)), labels].mean())


def _minimise(f, lo: float, hi: float, points: int = 93, iters: int = 40) -> float:
    """The minimiser of ``f`` on ``[lo, hi]``: the best point of a grid, refined by golden-section search
    between its neighbours (``f`` need not be unimodal over the whole interval)."""
    grid = np.linspace(lo, hi, points)
    vals = np.array([f(x) for x in grid])
    i = int(np.argmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, points - 1)]
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    x = (a + b) / 2
    return float(x) if f(x) <= vals[i] else float(grid[i])


def fit_temperature(scores: np.ndarray, labels: np.ndarray, prior_sd: float | None = PRIOR_SD,
                    scale: float | None = None) -> float:
    """The temperature maximising ``log p(labels | softmax(scores / T)) + log prior(T)``: a log-normal prior
    centred on ``scale`` (default :func:`score_scale`) with ``prior_sd`` in log space; ``prior_sd=None``: no
    prior (the plain maximum-likelihood fit). Searched in log T within ``[scale / BOUND, scale * BOUND]``, so
    a separable set of rows gives ``scale / BOUND`` without a prior and a finite ``T`` near ``scale`` with one.
    """
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, np.int64)
    s0 = score_scale(s) if scale is None else float(scale)
    c = np.log(s0)
    n = len(y)

    def objective(log_t: float) -> float:
        v = n * nll(s, y, float(np.exp(log_t)))
        return v if prior_sd is None else v + (log_t - c) ** 2 / (2.0 * prior_sd ** 2)

    return float(np.exp(_minimise(objective, c - np.log(BOUND), c + np.log(BOUND))))


def separable(scores: np.ndarray, labels: np.ndarray) -> bool:
    """Whether every row ranks its true class strictly first (then the likelihood alone has no optimum)."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, np.int64)
    true = s[np.arange(len(y)), y]
    other = s.copy()
    other[np.arange(len(y)), y] = -np.inf
    return bool(len(y)) and bool(np.all(true > other.max(axis=1)))


def fallback_record(reason: str, on: str | None = None, rows: int = 0, classes: int = 0) -> dict:
    """A calibration record without a temperature: ``zsl classify`` then uses each clip's standard deviation."""
    return {"temperature": None, "method": f"default: {DEFAULT_SOURCE} (each clip's scores divided by their "
            "standard deviation over the candidates)", "on": on, "rows": int(rows), "classes": int(classes),
            "fallback": reason, "note": reason}


def calibrate(scores: np.ndarray, labels: np.ndarray, on: str) -> dict:
    """The checkpoint's calibration record: the MAP temperature (see the module's docstring), the rows it was
    fitted on, the score scale and prior, the unregularised fit, and the NLL against uniform probabilities."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, np.int64)
    k, n = int(s.shape[1]), int(len(y))
    if not np.isfinite(s).all():
        return fallback_record(f"the {on} scores are not all finite: no temperature stored", on, n, k)
    s0 = score_scale(s)
    sep = separable(s, y)
    t = fit_temperature(s, y, prior_sd=PRIOR_SD, scale=s0)
    t_mle = None if sep else fit_temperature(s, y, prior_sd=None, scale=s0)
    rec = {"temperature": t, "method": METHOD, "on": on, "rows": n, "classes": k, "scale": s0,
           "prior": {"centre": s0, "sd_log": PRIOR_SD, "bounds": [s0 / BOUND, s0 * BOUND]},
           "mle_temperature": t_mle, "separable": sep, "fallback": None,
           "nll": nll(s, y, t), "nll_uniform": float(np.log(k)),
           "nll_per_clip_std": float(-np.mean(np.log(softmax(s, per_clip_temperature(s))[np.arange(n), y]
                                                      + 1e-300)))}
    if sep:
        rec["note"] = (f"every one of the {n} {on} rows is ranked right (separable): the likelihood alone would "
                       "shrink T towards 0; T is the prior's compromise, near the score scale")
    # Likelihood-ratio test against uniform probabilities (one free parameter: chi-square(1), 5 %: 3.84).
    lr = 2.0 * n * (rec["nll_uniform"] - rec["nll"])
    rec["likelihood_ratio"] = float(lr)
    if lr <= 3.84:
        reason = f"the {on} scores are no better than chance: no temperature stored"
        rec.update(temperature=None, fallback=reason, note=reason)
    return rec
