"""``pretrain_audio``: train the audio network from scratch on the seen (training) classes only.

Dogan et al. (Sec. III-B) train the audio network from scratch so that classes used for testing never shape
it; any registered audio model that can be trained (VGGish, CNN14) can be. The clips are the manifest rows whose classes are all training classes of the split's trial (a clip that
also carries a val/test class is left out, so no unseen-class audio is used); each 0.96 s example is
classified into the training classes by a linear head on the ReLU of the embedding layer (softmax
cross-entropy when every clip has one class, else per-class sigmoid / BCE). Decoding and the log-mel front
end run in DataLoader workers every epoch, so memory does not grow with the data.

Output: ``OUT`` holds the network's state dict in the model's published layout (``extract-audio --model M
--weights OUT`` loads it; the classifier head is not included) and ``OUT.json`` says how it was trained.
"""

from __future__ import annotations

import os
from typing import Iterable

from zsltool.errors import ZslError
from zsltool.extract.pretrain import check_training_args, train_and_save, training_classes
from zsltool.files.checks import check_output
from zsltool.files.provenance import input_record
from zsltool.runtime.env import seed_everything


class _ClipDataset:
    def __init__(self, items, loader, n_classes: int):
        self.items, self.loader, self.n_classes = items, loader, n_classes

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        it = self.items[i]
        try:
            ex = self.loader(it)["examples"]
        except Exception as e:  # noqa: BLE001 - a bad clip is skipped, not fatal
            return {"id": it.id, "examples": None, "error": str(e), "labels": it.labels}
        return {"id": it.id, "examples": ex, "error": None, "labels": it.labels}


class _Collate:
    """Clips -> (all their examples, each with its clip's multi-hot labels, {"bad": unreadable clips}).
    Examples of unequal length (whole-clip models) are zero-padded to the longest of the batch."""

    def __init__(self, n_classes: int, multilabel: bool):
        self.n_classes, self.multilabel = n_classes, multilabel

    def __call__(self, batch):
        import torch

        bad = {b["id"]: b["error"] for b in batch if b["error"] is not None}
        ok = [b for b in batch if b["error"] is None]
        if not ok:
            return None, None, {"bad": bad}
        longest = max(b["examples"].shape[-1] for b in ok)
        xs, ys = [], []
        for b in ok:
            ex = torch.from_numpy(b["examples"])
            if ex.shape[-1] < longest:
                ex = torch.nn.functional.pad(ex, (0, longest - ex.shape[-1]))
            y = torch.zeros(self.n_classes)
            y[b["labels"]] = 1.0
            xs.append(ex)
            ys.append(y.expand(ex.shape[0], self.n_classes))
        y = torch.cat(ys)
        return torch.cat(xs), (y if self.multilabel else y.argmax(dim=1)), {"bad": bad}


def _classifier(body, dim: int, n_classes: int):
    """The audio network's embedding, ReLU, and a linear head over the training classes."""
    import torch

    return torch.nn.Sequential(body, torch.nn.ReLU(), torch.nn.Linear(dim, n_classes))


def pretrain_audio(manifest: str | os.PathLike, out: str | os.PathLike, *, classes_path: str | os.PathLike,
                   split_path: str | os.PathLike, trial: int = 0, epochs: int = 10, batch_size: int = 8,
                   lr: float = 1e-4, width: float = 1.0, max_seconds: float | None = 10.0, workers: int = 0,
                   device: str = "cpu", seed: int = 0, overwrite: bool = False, progress: bool = True,
                   only_ids: Iterable[str] | None = None, model: str = "vggish", resume: bool = True) -> dict:
    """Train registered audio ``model`` from random weights (VGGish: ``width`` scales it; 1.0 = the published
    size) with the shared loop (:func:`~zsltool.extract.pretrain.train_classifier`) and save its weights.

    The clips: those of the trial's training classes (for a GZSL trial only its ``instances.train``, see
    :func:`~zsltool.extract.pretrain.training_classes`); ``only_ids`` restricts them further to those
    ids (library only: e.g. to keep validation and test clips out of the audio network). A killed run is
    continued after its last finished epoch (``resume``; see ``train_classifier``).
    """
    from zsltool.extract.inputs import collect_audio
    from zsltool.extract.registry import get_extractor

    check_training_args(epochs, lr)
    if not width > 0:
        raise ZslError(f"--width must be positive, got {width}")
    if max_seconds is not None and not max_seconds > 0:
        raise ZslError(f"--max-seconds must be positive, got {max_seconds}")
    spec = get_extractor(model, modality="audio")
    out = check_output(out, overwrite)
    tc = training_classes(classes_path, split_path, trial)
    allowed = tc.allowed_ids
    if only_ids is not None:
        only_ids = set(only_ids)
        allowed = only_ids if allowed is None else allowed & only_ids
    kept, excluded_mixed, other_only = _training_clips(collect_audio([str(manifest)], tc.class_set)[0], tc, allowed)
    if not kept:
        raise ZslError(f"no clip of {manifest} belongs only to the training classes of trial {trial}",
                       hint="check that the manifest, class set and split belong together")
    n_classes = len({lab for it in kept for lab in it.labels})
    if n_classes < 2:
        raise ZslError(f"the clips of {manifest} usable for trial {trial} cover {n_classes} training class; "
                       "a classifier needs at least 2", hint="use a split with more training classes")
    single = all(len(it.labels) == 1 for it in kept)
    C = len(tc.train_ids)

    seed_everything(seed)  # the network's random initialisation
    ex = spec.build(spec.make_config(weights="random", max_seconds=max_seconds,
                                     **({"width": width} if width != 1.0 else {})), device="cpu")
    body = ex.trainable()
    ds = _ClipDataset(kept, ex.loader(), C)
    return train_and_save(
        "audio", _classifier(body, ex.dim, C), ds, out, tc, epochs=epochs, batch_size=batch_size, lr=lr,
        device=device, seed=seed, progress=progress, resume=resume, multilabel=not single,
        collate=_Collate(C, not single), workers=workers, bad={}, saved=ex.model,
        run_key={"model": model, "width": width, "max_seconds": max_seconds, "manifest": input_record(manifest),
                 "clips": [[it.id, it.labels] for it in kept]},
        config={"max_seconds": max_seconds}, inputs=[input_record(manifest)], fields={
            "layout": ex.layout, "model": model, **ex.describe_network(),
            "instances": ("instances.train of the trial" if tc.trial.is_gzsl else "every clip of the classes")
                         + (", restricted to the given ids" if only_ids is not None else ""),
            "clips": len(kept), "train_clips": sorted(it.id for it in kept),
            "excluded_mixed": excluded_mixed, "other_class_clips": other_only},
        summary={"clips": len(kept), "excluded_mixed": excluded_mixed, "other_class_clips": other_only})


def _training_clips(items, tc, allowed) -> tuple[list, int, int]:
    """The labelled clips whose classes are all training classes (and whose id is ``allowed``, unless ``None``),
    their labels turned into training-class positions; and the numbers of clips left out for also carrying a
    val/test class, and for carrying only those."""
    kept, excluded_mixed, other_only = [], 0, 0
    for it in items:
        if not it.labels:
            continue
        if any(lab not in tc.train_pos for lab in it.labels):
            if any(lab in tc.train_pos for lab in it.labels):
                excluded_mixed += 1  # a training class together with a val/test class: left out
            else:
                other_only += 1
            continue
        if allowed is not None and it.id not in allowed:
            continue
        it.labels = sorted(tc.train_pos[lab] for lab in it.labels)
        kept.append(it)
    return kept, excluded_mixed, other_only
