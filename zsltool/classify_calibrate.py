"""Probabilities from compatibility scores: softmax over the candidate labels with a temperature.

``zsl train`` fits the temperature once and stores it in the checkpoint (``ckpt["calibration"]``): the one
``T`` that minimises the negative log-likelihood of ``softmax(scores / T)`` on held-out rows, as in
temperature scaling (Guo et al., 2017). The rows are the trial's validation instances ranked among the
validation classes (for a ZSL trial those classes were never trained on: the same situation as classifying
new labels); without validation rows, the training instances ranked among the training classes (which makes
the probabilities overconfident; the checkpoint says which was used).

When the fitted probabilities are no better than uniform ones (likelihood-ratio test, 5 %), e.g. a model
that ranks the validation classes at chance, no temperature is stored and the record says why.

A checkpoint without a stored temperature (made before this existed, or see above) gets a per-clip one: each clip's scores
are divided by their standard deviation over the candidates (``temperature_source: "per-clip-std"``), which
makes the probabilities independent of the method's score scale but not calibrated.

Only numpy here: ``zsl train`` imports this module, and so does ``zsl classify``.
"""

from __future__ import annotations

import numpy as np

DEFAULT_SOURCE = "per-clip-std"


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
    """The fallback temperature: each row's standard deviation over the candidates (1 where it is 0)."""
    sd = np.asarray(scores, np.float64).std(axis=1)
    return np.where(sd > 0, sd, 1.0)


def nll(scores: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    lp = log_softmax(np.asarray(scores, np.float64) / temperature)
    return float(-lp[np.arange(len(labels)), labels].mean())


def fit_temperature(scores: np.ndarray, labels: np.ndarray, iters: int = 80) -> float:
    """The temperature minimising the NLL of ``labels`` under ``softmax(scores / T)``.

    The NLL is convex in ``1 / T``; golden-section search over ``1 / T`` in ``[0, 100 / sd]`` (``sd`` = the
    standard deviation of the scores) finds it; the upper end bounds the sharpness when every row is
    already ranked right (the NLL then falls forever as T -> 0).
    """
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, np.int64)
    sd = float(s.std()) or 1.0
    lo, hi = 0.0, 100.0 / sd
    g = (np.sqrt(5) - 1) / 2

    def f(inv_t: float) -> float:
        if inv_t <= 0:
            return float(np.log(s.shape[1]))
        return nll(s, y, 1.0 / inv_t)

    a, b = lo + (1 - g) * (hi - lo), lo + g * (hi - lo)
    fa, fb = f(a), f(b)
    for _ in range(iters):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = lo + (1 - g) * (hi - lo)
            fa = f(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = f(b)
    inv = (lo + hi) / 2
    return float(1.0 / inv) if inv > 0 else float("inf")


def calibrate(scores: np.ndarray, labels: np.ndarray, on: str) -> dict:
    """The checkpoint's ``calibration`` record: temperature, the rows it was fitted on and the NLL gain."""
    t = fit_temperature(scores, labels)
    k = int(np.asarray(scores).shape[1])
    rec = {"temperature": t, "on": on, "rows": int(len(labels)), "classes": k,
           "nll": nll(scores, labels, t) if np.isfinite(t) else float(np.log(k)),
           "nll_uniform": float(np.log(k)), "nll_per_clip_std": float(-np.mean(np.log(
               softmax(scores, per_clip_temperature(scores))[np.arange(len(labels)), labels] + 1e-300))),
           "method": "temperature scaling: argmin NLL of softmax(scores / T)"}
    # Likelihood-ratio test against uniform probabilities (one free parameter: chi-square(1), 5 %: 3.84).
    lr = 2.0 * len(labels) * (rec["nll_uniform"] - rec["nll"])
    rec["likelihood_ratio"] = float(lr)
    if not np.isfinite(t) or lr <= 3.84:
        # The scores rank these rows no better than chance: the fitted probabilities would be (near) uniform.
        # Keep the record (it says so) but no temperature: classify then standardises each clip's scores.
        rec.update(temperature=None, note=f"the {on} scores are no better than chance: no temperature stored")
    return rec


def calibrate_model(model, prep, device: str = "cpu") -> dict | None:
    """``calibrate`` on a trained model's validation rows (else its training rows); None when impossible.
    A training-free method (``cosine``) keeps temperature 1: its scores carry the encoder's own logit scale."""
    from zsltool.train.data import compute_scores

    if getattr(model, "training_free", False):
        return {"temperature": 1.0, "on": "none", "rows": 0, "source": "the method's own scale (the encoder's "
                "logit scale; not fitted)", "method": "none: softmax of the training-free method's scores"}

    if prep.val_set is not None and len(prep.val_set) and len(prep.val_classes) >= 2:
        inst, emb, on = prep.val_set, prep.val_class_emb, "validation"
    else:
        inst, emb, on = prep.train_set, prep.train_class_emb, "training"
    if inst is None or not len(inst):
        return None
    s = compute_scores(model, emb, inst, device=device)
    if not np.isfinite(s).all():
        return None
    return calibrate(s, inst.labels, on)


def _meta_record(e) -> dict:
    """What ``zsl classify`` needs to embed new inputs as a file's rows were: its extractor and settings
    (the per-class token lists of a text file are left out)."""
    em = {k: v for k, v in (e.meta.extractor_meta or {}).items() if k != "tokens"}
    return {"path": str(e.path), "modality": e.meta.modality, "kind": e.meta.kind, "extractor": e.meta.extractor,
            "extractor_meta": em}


def provenance_of(inputs) -> dict:
    """The checkpoint's ``provenance``: how the training audio, video and side-information files were made."""
    return {"audio": _meta_record(inputs.audio),
            "video": _meta_record(inputs.video) if inputs.video is not None else None,
            "semantic": [_meta_record(e) for e in inputs.semantic.files],
            "semantic_name": inputs.semantic.name}
