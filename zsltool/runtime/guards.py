"""Validity guards: conditions under which a result is not what it claims to be.

Each guard returns a list of issues ``{"code", "message"}``; :func:`report` logs each as a warning on stderr
(``validity: ...``) and returns them so that the caller records them in its output (split file params,
checkpoint, results, compare JSON), or, with ``strict`` (``--strict``), raises a ZslError instead.

Guards (docs/evaluate.md, "Validity guards"):

* ``random-remainder``: a random split whose sizes leave classes of the class set in no partition;
* ``network-leakage``: an audio / image / video network whose training classes (its ``.pth.json`` sidecar,
  found from the embedding file's ``extractor_meta.weights``) include the validation or test classes of the
  trial (ZSL), or its unseen classes (GZSL);
* ``other-extractor``: rows given to a trained model (``zsl evaluate``, ``retrieve``, ``classify --embeddings``)
  embedded by another extractor, other weights (sha256), embedding variant or layer than its training rows
  (the checkpoint's ``provenance``): refused unless ``--allow-other-extractor``, then a warning in the output;
* ``compare-too-small``: ``zsl compare`` with fewer than 3 treatments or fewer than 5 blocks (Friedman /
  Nemenyi are not meaningful there; the Wilcoxon signed-rank test is reported for 2 treatments).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from zsltool.errors import ZslError

log = logging.getLogger("zsltool.runtime.guards")


def issue(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def report(issues: list[dict], strict: bool = False, hint: str | None = None) -> list[dict]:
    """Warn about (or, with ``strict``, refuse) each issue; returns them for the caller's output."""
    if issues and strict:
        first = issues[0]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        raise ZslError(f"{first['message']}{more} [--strict]", hint=hint or "fix the inputs, or run without --strict "
                                                                             "to get the result with this warning")
    for i in issues:
        log.warning(f"validity: {i['message']}")
    return issues


# -- random split remainder -----------------------------------------------------------------------------------
def split_remainder(all_ids: list[str], trials) -> list[dict]:
    """Classes of the class set that a trial puts in no partition."""
    out = []
    for k, t in enumerate(trials):
        used = set(t.train) | set(t.val) | set(t.test)
        left = [c for c in all_ids if c not in used]
        if left:
            names = ", ".join(left[:8]) + (" ..." if len(left) > 8 else "")
            out.append(issue("random-remainder", f"trial {k} leaves {len(left)} of {len(all_ids)} classes in no "
                                                 f"partition: {names}"))
    return out


# -- leakage through a pretrained network ---------------------------------------------------------------------
def _weights_paths(meta, found: list[str]) -> list[str]:
    if isinstance(meta, dict):
        for k, v in meta.items():
            if k == "weights" and isinstance(v, str) and v not in ("random", "") and not v.isupper():
                found.append(v)
            else:
                _weights_paths(v, found)
    elif isinstance(meta, list):
        for v in meta:
            _weights_paths(v, found)
    return found


def network_classes(emb) -> list[tuple[str, list[str]]]:
    """``[(weights path, training classes)]`` of the networks that made an embedding file, from their sidecars."""
    out = []
    for w in dict.fromkeys(_weights_paths(getattr(emb.meta, "extractor_meta", None) or {}, [])):
        side = Path(str(w) + ".json")
        if not side.is_file():
            continue
        try:
            doc = json.loads(side.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        classes = doc.get("train_classes") if isinstance(doc, dict) else None
        if isinstance(classes, list):
            out.append((str(w), [str(c) for c in classes]))
    return out


def network_leakage(files: dict, trial, trial_index: int = 0) -> list[dict]:
    """Issues for networks (of the embedding files ``{name: Embeddings}``) trained on held-out classes."""
    if trial.is_gzsl:
        held, what = list(trial.unseen), "unseen"
    else:
        held, what = list(dict.fromkeys(list(trial.val) + list(trial.test))), "validation/test"
    out = []
    for name, emb in files.items():
        if emb is None:
            continue
        for w, classes in network_classes(emb):
            bad = [c for c in held if c in set(classes)]
            if bad:
                names = ", ".join(bad[:8]) + (" ..." if len(bad) > 8 else "")
                out.append(issue("network-leakage",
                                 f"the {name} network {w} was trained on {len(bad)} {what} class(es) of trial "
                                 f"{trial_index}: {names} (their results are not zero-shot)"))
    return out


# -- rows from another extractor than the training rows -------------------------------------------------------
def _identity(rec: dict) -> dict:
    """What makes an embedding space: extractor, weights (sha256, else their id), embedding variant, layer."""
    em = rec.get("extractor_meta") or {}
    out = {"extractor": rec.get("extractor") or None, "weights sha256": em.get("weights_sha256") or None,
           "weights": None if em.get("weights_sha256") else (str(em["weights"]) if em.get("weights") else None)}
    out.update({k: str(em[k]) for k in ("embedding", "layer") if em.get(k) is not None})
    return out


def _describe(ident: dict) -> str:
    bits = [f"{k} {v[:12] if k == 'weights sha256' else v}" for k, v in ident.items() if k != "extractor" and v]
    return f"{ident['extractor'] or 'an unnamed extractor'}" + (f" ({', '.join(bits)})" if bits else "")


def other_extractor(ckpt: dict, what: str, emb, allow: bool = False) -> list[dict]:
    """An issue when the ``what`` (audio / video) rows of ``emb`` (Embeddings) were not embedded as the model's
    training rows were (its ``provenance``; nothing to compare for a checkpoint without it). Only what both
    record is compared. Raises a ZslError unless ``allow``; then warns and returns the issue."""
    trained = (ckpt.get("provenance") or {}).get(what)
    if not trained or emb is None:
        return []
    a = _identity(trained)
    b = _identity({"extractor": emb.meta.extractor, "extractor_meta": emb.meta.extractor_meta})
    keys = ["extractor"] if a["extractor"] and b["extractor"] and a["extractor"] != b["extractor"] else \
        [k for k in a if k != "extractor" and a[k] and b.get(k) and a[k] != b[k]]
    if not keys:
        return []
    msg = (f"the {what} rows of {emb.path} were embedded by {_describe(b)}, the model's training rows by "
           f"{_describe(a)}")
    if not allow:
        raise ZslError(msg + ": the model's scores on them would mean nothing",
                       hint=f"embed them as {trained.get('path') or 'the training file'} was (zsl inspect shows how), "
                            "or pass --allow-other-extractor")
    return report([issue("other-extractor", msg + " (allowed by --allow-other-extractor)")])


# -- compare --------------------------------------------------------------------------------------------------
def compare_size(k: int, n: int) -> list[dict]:
    out = []
    if k < 3:
        out.append(issue("compare-too-small", f"{k} treatments: the Friedman test and Nemenyi's critical difference "
                                              "are meant for 3 or more; see the Wilcoxon signed-rank test instead"))
    if n < 5:
        out.append(issue("compare-too-small", f"{n} blocks: the Friedman test's chi-square approximation and "
                                              "Nemenyi's critical difference are not meaningful below 5 blocks"))
    return out


def wilcoxon(a, b) -> dict:
    """Exact two-sided Wilcoxon signed-rank test of paired scores (scipy; zero differences dropped)."""
    import numpy as np
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = a - b
    nz = int(np.count_nonzero(d))
    if nz == 0:
        return {"test": "wilcoxon signed-rank", "n": int(d.size), "n_nonzero": 0, "statistic": None, "p": 1.0,
                "note": "every pair is tied"}
    r = stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided",
                       method="exact" if nz <= 50 else "auto")
    return {"test": "wilcoxon signed-rank", "n": int(d.size), "n_nonzero": nz, "statistic": float(r.statistic),
            "p": float(r.pvalue), "median_difference": float(np.median(d))}
