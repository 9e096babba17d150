"""``zsl classify``'s last part, score: the model's scores of the clips' rows against the label embeddings
(``zsltool.train.data.compute_scores``, the path ``zsl evaluate`` uses), probabilities (softmax with the
checkpoint's temperature, :mod:`zsltool.scores.temperature`, or the transductive refiner's), and the ranked
labels of each clip (:class:`Predictions`)."""

from __future__ import annotations

import logging

import numpy as np

from zsltool.classify.clips import ClipRows
from zsltool.errors import ZslError

log = logging.getLogger("zsltool.classify")


# -- results --------------------------------------------------------------------------------------------------
class Predictions(list):
    """One dict per clip (``clip``, ``path``, ``valid``, ``reason``, ``top``: ranked labels with ``score`` and
    ``probability``); ``rows()`` gives a tidy table (clip, rank, label, score, probability), ``to_pandas()`` a
    DataFrame of it, ``info`` how the prediction was made, ``scores`` / ``probabilities`` the full matrices
    (clips x labels; NaN rows for invalid clips)."""

    labels: list[str]
    info: dict
    scores: np.ndarray
    probabilities: np.ndarray

    def rows(self) -> list[dict]:
        out = []
        for r in self:
            if not r["valid"]:
                out.append({"clip": r["clip"], "rank": None, "label": None, "score": None, "probability": None,
                            "reason": r["reason"]})
            for t in r["top"]:
                out.append({"clip": r["clip"], "rank": t["rank"], "label": t["label"], "score": t["score"],
                            "probability": t["probability"], "reason": ""})
        return out

    def to_pandas(self):
        import pandas as pd  # optional: only for notebooks that have it

        return pd.DataFrame(self.rows())

    def to_dict(self) -> dict:
        return {"labels": self.labels, **self.info, "clips": list(self)}


def predictions(ids, sources, ok, reasons, cand: list[str], rows, s: np.ndarray, P: np.ndarray,
                top: int) -> Predictions:
    """The ranked top-``top`` labels of every clip from the scores ``s`` and probabilities ``P`` of its valid
    ``rows`` (invalid clips keep their reason); ``info`` is left to the caller."""
    k = min(top, len(cand))
    S_all = np.full((len(ids), len(cand)), np.nan)
    P_all = np.full((len(ids), len(cand)), np.nan)
    S_all[rows], P_all[rows] = s, P
    preds = Predictions()
    for i, cid in enumerate(ids):
        r = {"clip": cid, "path": sources[i], "valid": bool(ok[i]), "reason": None if ok[i] else
             (reasons[i] or "invalid embedding"), "top": []}
        if ok[i]:
            order = np.argsort(-S_all[i], kind="stable")[:k]
            r["top"] = [{"rank": n + 1, "label": cand[j], "score": float(S_all[i, j]),
                         "probability": float(P_all[i, j])} for n, j in enumerate(order)]
        preds.append(r)
    preds.labels, preds.scores, preds.probabilities = cand, S_all, P_all
    return preds


def score(ckpt: dict, net, C: np.ndarray, rows: ClipRows, cand: list[str], *, modality: str = "both",
          transductive: str | None = None, top: int = 5, batch_size: int = 16, device: str = "cpu") -> Predictions:
    """The clips' ``rows`` scored against the label embeddings ``C`` by the checkpoint's model ``net`` with the
    ``modality`` asked for; ``info`` holds the model, modality, temperature and clip counts."""
    from zsltool.scores.temperature import DEFAULT_SOURCE, softmax, temperature_of
    from zsltool.train.data import InstanceSet, compute_scores

    if rows.X.shape[1] != net.audio_dim:
        raise ZslError(f"the clips' audio embeddings are {rows.X.shape[1]}-d, but the model expects "
                       f"{net.audio_dim}-d", hint="embed them with the extractor the model was trained on")
    use_v = rows.video_X is not None and net.uses_video and modality in ("both", "video")
    use_a = "audio" in net.modalities and modality in ("both", "audio")
    if not use_a and not use_v:
        raise ZslError(f"method {ckpt['method']!r} cannot score with modality {modality!r} from the inputs given",
                       hint=f"it uses {', '.join(net.modalities)}")
    none = np.zeros(len(rows.ids), bool)
    ok = (rows.valid if use_a else none) | (rows.video_valid if use_v else none)
    at = np.nonzero(ok)[0]
    mod = "both" if use_a and use_v else ("audio" if use_a else "video")
    inst = InstanceSet(ids=[rows.ids[r] for r in at], audio=rows.X[at], audio_valid=rows.valid[at] if use_a else
                       np.zeros(len(at), bool), video=rows.video_X[at] if use_v else None,
                       video_valid=rows.video_valid[at] if use_v else None, labels=np.zeros(len(at), np.int64),
                       classes=cand)
    s = compute_scores(net, C, inst, modality=mod, batch_size=max(64, batch_size), device=device)
    cal = ckpt.get("calibration") or {}
    T, tsrc = temperature_of(cal, s)
    if transductive:
        s = _refined(transductive, s, inst, ("audio",) * use_a + ("video",) * use_v)
        T, tsrc = 1.0, "the transductive refiner (its responsibilities)"
    P = softmax(s, T) if len(s) else s
    T = None if tsrc.startswith(DEFAULT_SOURCE) else float(T)
    if T is None and cal.get("note"):
        log.warning(f"the checkpoint stores no temperature ({cal['note']}): each clip's scores are divided by "
                    "their standard deviation")
    preds = predictions(rows.ids, rows.sources, ok, rows.reasons, cand, at, s, P, top)
    preds.info = {"method": ckpt["method"], "modality": mod, "temperature": T, "temperature_source": tsrc,
                  "n_clips": len(rows.ids), "n_valid": int(ok.sum())}
    return preds


def _refined(name: str, s: np.ndarray, inst, mods) -> np.ndarray:
    """The clips' scores refined together by the transductive refiner ``name`` (never a label: there is none)."""
    from zsltool.evaluate.transductive import instance_features, refine, refiner

    refiner(name)
    if len(s) < 2:
        raise ZslError("the transductive setting refines several clips together, and one is given",
                       hint="classify all the clips at once, or drop --transductive")
    if len(s) < s.shape[1]:
        log.warning(f"the transductive setting with {len(s)} clips for {s.shape[1]} labels: some labels can "
                    "have no clip, and the refined ranking leans on very few")
    return refine(name, s, instance_features(inst, mods))
