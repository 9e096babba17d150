"""What pretrain-audio, pretrain-image and pretrain-video share: the trial's training classes, the
optimisation step and per-epoch statistics, and saving the weights with their JSON sidecar."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from zsltool import __version__
from zsltool.errors import ZslError
from zsltool.utils import atomic_write_bytes, atomic_write_json, command_line, sha256_file, utc_now

log = logging.getLogger("zsltool.extract")


class TrainingClasses(NamedTuple):
    class_set: Any
    trial: Any
    train_ids: list[str]
    train_pos: dict[int, int]
    allowed_ids: set[str] | None


def training_classes(classes_path, split_path, trial: int, *, instance_ids: bool = True) -> TrainingClasses:
    """``(class_set, trial, train_ids, train_pos, allowed_ids)``: ``train_pos`` maps a class-set index to its
    position among the trial's training classes (the seen classes for GZSL); ``allowed_ids`` is the one rule
    for which instances a network may be trained on:

    - a GZSL trial: its ``instances.train`` only (the seen classes' val and test-seen instances stay out);
      a ZslError when the trial lists none;
    - any other trial: ``None``, every instance of the training classes (the other classes' instances are
      never among them).

    ``instance_ids=False`` (inputs whose ids are not the split's instance ids) always gives ``None``.
    """
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import load_split

    cs = ClassSet.load(classes_path)
    split = load_split(split_path)
    if split.class_set_sha256 and split.class_set_sha256 != cs.sha256:
        raise ZslError(f"{split_path} was made for another class set than {classes_path}",
                       hint="use the class set the split was built from")
    t = split.trial(trial)
    train_ids = list(t.seen if t.is_gzsl else t.train)
    train_pos = {cs.index(c): k for k, c in enumerate(train_ids)}
    allowed = None
    if instance_ids and t.is_gzsl:
        allowed = set(t.instances.get("train") or [])
        if not allowed:
            raise ZslError(f"gzsl trial {trial} of {split_path} lists no training instances (instances.train); "
                           "training on every seen instance would include the test-seen ones",
                           hint="make the split with zsl split --protocol gzsl --instances ...")
    return TrainingClasses(cs, t, train_ids, train_pos, allowed)


def optimise(opt, loss) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


@dataclass
class EpochStats:
    """Running loss and training top-1 over one epoch."""

    loss_sum: float = 0.0
    correct: float = 0.0
    n: float = 0.0

    def add(self, loss, correct, m: int) -> None:
        self.loss_sum += float(loss.detach()) * m
        self.correct += float(correct)
        self.n += m

    def record(self, epoch: int, epochs: int, name: str, **extra) -> dict:
        loss, top1 = self.loss_sum / self.n, self.correct / self.n
        log.debug(f"{name} epoch {epoch}/{epochs}: loss {loss:.4f}, train top-1 {top1:.3f}")  # -v
        return {"epoch": epoch, "loss": round(loss, 6), "train_top1": round(top1, 4), **extra}


def save_pretrained(net, out: Path, fmt: str, fields: dict) -> tuple[Path, dict]:
    """Save ``net``'s state dict atomically at ``out`` and its description at ``out.json``."""
    import torch

    from zsltool.safety import check_not_input

    out = Path(out)
    sidecar = Path(str(out) + ".json")
    check_not_input(sidecar)  # before the weights: no half of the pair is left when the sidecar is an input
    sd = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    buf = io.BytesIO()
    torch.save(sd, buf)
    atomic_write_bytes(out, buf.getvalue())  # unique temp name, fsync, rename; no leftover on failure
    meta = {"format": fmt, "format_version": 1, "zsl_version": __version__, "created_utc": utc_now(),
            "command": command_line(), "weights": str(out), "weights_sha256": sha256_file(out), **fields}
    atomic_write_json(sidecar, meta)
    return sidecar, meta
