"""The learning rate per epoch of a gradient-trained model.

* Constant (the default): ``hyper["lr"]`` throughout.
* Plateau: a method argument ``lr_plateau`` = P > 0 (avgzslnet; AVCA-GZSL's ``--lr_scheduler``) divides the
  learning rate by 10 after P epochs without improvement (``torch.optim.lr_scheduler.ReduceLROnPlateau``,
  factor 0.1, patience P) of the validation metric, or of the training loss when the run has no validation.
* Replayed: ``hyper["lr_schedule"]`` (one rate per epoch, e.g. stage 1's, in a retraining on train + validation
  that has no validation to step on: ``zsltool.evaluate.two_stage``) sets each epoch's rate as recorded.

Either of the last two records ``lr`` (the rate the epoch trained with) in the epoch's history. A model with a
schedule trains in the single-model loop (``zsltool.train.engine.train_jobs``: the batched kernels step one
optimiser for every stacked model).
"""

from __future__ import annotations


def has_schedule(job, model) -> bool:
    """Whether the job's learning rate changes during training (it then trains alone)."""
    return bool(job.hyper.get("lr_schedule")) or int(getattr(model, "args", {}).get("lr_plateau") or 0) > 0


class LrSchedule:
    """The learning rates of one model's optimiser over its epochs (see the module docstring)."""

    def __init__(self, optimizer, model, hyper: dict, metric: str):
        import torch

        self.opt = optimizer
        self.replay = [float(x) for x in hyper.get("lr_schedule") or []]
        patience = int(getattr(model, "args", {}).get("lr_plateau") or 0)
        self.plateau, self.key = None, None
        if patience and not self.replay:
            self.key = "loss_total" if metric == "none" else metric
            self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min" if metric == "none" else "max", factor=0.1, patience=patience)

    @property
    def active(self) -> bool:
        return bool(self.replay) or self.plateau is not None

    def start(self, epoch: int) -> None:
        """Before epoch ``epoch`` (1-based): the replayed rate (the last one past the recorded epochs)."""
        if self.replay:
            lr = self.replay[min(epoch, len(self.replay)) - 1]
            for g in self.opt.param_groups:
                g["lr"] = lr

    def end(self, rec: dict) -> None:
        """After an epoch: record its rate in ``rec`` and step the plateau on ``rec``'s metric."""
        if not self.active:
            return
        rec["lr"] = float(self.opt.param_groups[0]["lr"])
        if self.plateau is not None and rec.get(self.key) is not None:
            self.plateau.step(float(rec[self.key]))
