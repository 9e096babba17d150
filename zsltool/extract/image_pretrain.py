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

import os
from typing import Sequence

from zsltool.errors import ZslError
from zsltool.extract.pretrain import (check_manifests, check_training_args, train_and_save, training_classes,
                                      training_targets)
from zsltool.files.checks import check_output


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


def pretrain_image(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, classes_path: str | os.PathLike,
                   split_path: str | os.PathLike, trial: int = 0, model: str = "resnet18", image_size: int = 224,
                   epochs: int = 20, batch_size: int = 32, lr: float = 1e-3, augment: bool = True, workers: int = 0,
                   device: str = "cpu", seed: int = 0, overwrite: bool = False, progress: bool = True,
                   resume: bool = True) -> dict:
    """Train ``model`` (random init) on the training classes' crops and save its weights; returns a summary.
    A killed run is continued after its last finished epoch (``resume``; see ``train_classifier``)."""
    from zsltool.extract.inputs import collect_image

    check_training_args(epochs, lr)
    if image_size < 16:
        raise ZslError(f"--image-size must be at least 16 pixels, got {image_size}")
    manifests = check_manifests(inputs, "crop", "give crop manifests (.csv) from zsl select-images",
                                "pretrain-image needs labelled crops: a crop manifest from zsl select-images")
    out = check_output(out, overwrite)
    # crop ids are not the split's instance ids (images are another dataset than the clips a GZSL split
    # lists): every crop of the training classes is used, whatever the trial (allowed_ids is None)
    tc = training_classes(classes_path, split_path, trial, instance_ids=False)
    items, _, records = collect_image(manifests, tc.class_set)
    kept = [it for it in items if it.labels and it.labels[0] in tc.train_pos]
    targets = training_targets(kept, tc, manifests, "crop")

    from zsltool.extract.image import _ImageLoader, build_image_model
    from zsltool.runtime.env import seed_everything

    seed_everything(seed)  # the network's random initialisation
    net, _, _ = build_image_model(model, None, num_classes=len(tc.train_ids))
    ds = _CropDataset(kept, _ImageLoader(_train_transform(image_size, augment)), targets)
    return train_and_save(
        "image", net, ds, out, tc, epochs=epochs, batch_size=batch_size, lr=lr, device=device, seed=seed,
        progress=progress, resume=resume, workers=workers, drop_single=True,
        run_key={"model": model, "image_size": image_size, "augment": augment, "inputs": records,
                 "crops": [it.id for it in kept]},
        config={"augment": augment}, inputs=records, fields={
            "layout": f"torchvision {model} state dict with a {len(tc.train_ids)}-way head", "model": model,
            "image_size": image_size, "crops": len(kept), "other_class_crops": len(items) - len(kept),
            "extract_with": f"zsl extract-image --model {model} --weights {out} --image-size {image_size}"},
        summary={"model": model, "crops": len(kept), "other_class_crops": len(items) - len(kept)})
