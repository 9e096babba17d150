"""``pretrain_image``: train a torchvision image classifier from scratch on the seen (training) classes only.

Dogan et al. train their audio network from scratch so that the classes used for testing never shape it; this
does the same for images where no pretrained weights are at hand (offline, or a domain ImageNet does not
cover). The crops are the crop-manifest rows (``zsl select-images``) whose class is a training class of the
split's trial (the ``seen`` classes of a GZSL trial); crops of val/test (unseen) classes are never read.
Each crop is resized to ``image_size`` x ``image_size`` with ImageNet normalisation (the ``paper``
preprocessing of ``extract-image`` at that size), augmented with a random shift and horizontal flip, and
classified into the training classes (softmax cross-entropy, Adam).

Output: ``OUT`` holds the whole model's state dict (with its ``len(train classes)``-way head), which
``extract-image --model NAME --weights OUT --image-size S`` loads (torchvision's fine-tuned-head rule);
``OUT.json`` says how it was trained.

    pretrain_image(["images.csv"], "image-net.pth", classes_path="classes.json", split_path="split.json",
                   model="shufflenet_v2_x0_5", image_size=64, epochs=30)
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Sequence

from zsltool.errors import ZslError
from zsltool.extract.pretrain import (check_training_args, epoch_checkpoint, save_pretrained, train_classifier,
                                      training_classes)
from zsltool.files.checks import check_output
from zsltool.files.provenance import input_record

log = logging.getLogger("zsltool.extract.image")


class _CropDataset:
    def __init__(self, items, load, targets):
        self.items, self.load, self.targets = items, load, targets

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.load(self.items[i]), self.targets[i]


def _train_transform(image_size: int, augment: bool):
    import torch
    from torchvision.transforms import v2 as T

    from zsltool.extract.image import IMAGENET_MEAN, IMAGENET_STD

    steps = [T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Resize((image_size, image_size), antialias=True)]
    if augment:
        pad = max(1, image_size // 16)
        steps += [T.RandomCrop(image_size, padding=pad, padding_mode="reflect"), T.RandomHorizontalFlip()]
    return T.Compose(steps + [T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def pretrain_image(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    classes_path: str | os.PathLike,
    split_path: str | os.PathLike,
    trial: int = 0,
    model: str = "resnet18",
    image_size: int = 224,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 1e-3,
    augment: bool = True,
    workers: int = 0,
    device: str = "cpu",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    resume: bool = True,
) -> dict:
    """Train ``model`` (random init) on the training classes' crops and save its weights; returns a summary.
    A killed run is continued after its last finished epoch (``resume``; see ``train_classifier``)."""
    from zsltool.extract.inputs import collect_image

    check_training_args(epochs, lr)
    if image_size < 16:
        raise ZslError(f"--image-size must be at least 16 pixels, got {image_size}")
    manifests = [Path(p) for p in inputs]
    for p in manifests:
        if not p.exists():
            raise ZslError(f"input not found: {p}", hint="give crop manifests (.csv) from zsl select-images")
        if not p.is_file() or p.suffix.lower() not in (".csv", ".tsv"):
            raise ZslError(f"{p} is not a crop manifest (.csv)",
                           hint="pretrain-image needs labelled crops: a crop manifest from zsl select-images")
    out = check_output(out, overwrite)
    # crop ids are not the split's instance ids (images are another dataset than the clips a GZSL split
    # lists): every crop of the training classes is used, whatever the trial (allowed_ids is None)
    cs, t, train_ids, train_pos, _ = training_classes(classes_path, split_path, trial, instance_ids=False)
    items, _, records = collect_image(manifests, cs)
    kept = [it for it in items if it.labels and it.labels[0] in train_pos]
    if not kept:
        raise ZslError(f"no crop of {', '.join(map(str, manifests))} belongs to the training classes of trial "
                       f"{trial}", hint="check that the manifest, class set and split belong together")
    targets = [train_pos[it.labels[0]] for it in kept]
    C = len(train_ids)
    missing = sorted(set(range(C)) - set(targets))
    if missing:
        log.warning(f"{len(missing)} training classes have no crop (e.g. {train_ids[missing[0]]})")

    from zsltool.extract.image import _ImageLoader, build_image_model
    from zsltool.runtime.env import seed_everything

    seed_everything(seed)  # the network's random initialisation
    net, _, info = build_image_model(model, None, num_classes=C)
    ds = _CropDataset(kept, _ImageLoader(_train_transform(image_size, augment)), targets)
    t0 = time.perf_counter()
    history = train_classifier(ds, net, epochs=epochs, batch_size=batch_size, lr=lr, device=device, seed=seed,
                               workers=workers, drop_single=True, progress=progress, name="pretrain-image",
                               checkpoint=epoch_checkpoint(out), resume=resume,
                               run_key={"model": model, "image_size": image_size, "augment": augment,
                                        "class_set": cs.sha256, "trial": trial, "inputs": records,
                                        "crops": [it.id for it in kept]})

    sidecar, meta = save_pretrained(net, out, "zsl.image_pretrain", {
            "layout": f"torchvision {model} state dict with a {C}-way head",
            "model": model, "image_size": image_size, "class_set_sha256": cs.sha256, "trial": trial,
            "train_classes": train_ids, "loss": "softmax cross-entropy",
            "config": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": "adam",
                       "augment": augment, "seed": seed},
            "crops": len(kept), "other_class_crops": len(items) - len(kept),
            "extract_with": f"zsl extract-image --model {model} --weights {out} --image-size {image_size}",
            "seconds": round(time.perf_counter() - t0, 2), "history": history,
            "inputs": records + [input_record(classes_path), input_record(split_path)]})
    return {"out": str(out), "sidecar": str(sidecar), "model": model, "crops": len(kept), "classes": C,
            "other_class_crops": len(items) - len(kept), "final_loss": history[-1]["loss"],
            "final_train_top1": history[-1]["train_top1"], "seconds": meta["seconds"]}
