"""The zero-shot method interface (:class:`ZslMethod`) and the method registry (``METHODS``).

Contract (docs/DESIGN.md, section Methods):

* ``__init__(*, audio_dim, semantic_dim, video_dim=None, **method_args)``; unknown ``method_args`` are a
  ZslError naming the valid ones. Every method declares its arguments with paper defaults in ``defaults``
  and its optimiser settings in ``train_defaults`` (epochs, batch_size, optimizer, lr, weight_decay).
* gradient methods implement ``loss(batch) -> {"total": ..., "<term>": ...}``; closed-form methods set
  ``closed_form = True`` and implement ``fit_closed_form(...)``.
* ``scores(class_emb, audio=None, video=None, modality="both", audio_valid=None, video_valid=None)`` returns
  an (N, C) matrix, higher = more compatible. Distances are turned into scores by negation. Rows whose audio
  (or video) is invalid use the other modality only (``audio_valid`` / ``video_valid`` are optional boolean
  masks; None means every row is valid).

A training batch is a dict of tensors:
``audio`` (B, Da), ``video`` (B, Dv) or None, ``audio_valid`` / ``video_valid`` (B,) bool,
``labels`` (B,) long indices into ``class_emb`` (C_train, Ds), ``semantic`` (B, Ds) = class_emb[labels].
"""

from __future__ import annotations

import math

from typing import Any, Callable, ClassVar

import torch
from torch import Tensor, nn

from zsltool.errors import ZslError
from zsltool.names import SCORE_MODALITIES

METHODS: dict[str, type["ZslMethod"]] = {}
# Feature scaling, an argument of every method (docs/methods.md, "Feature scaling"):
#   zscore      standardize each instance feature (audio, video) with the mean / SD of the training rows;
#               the statistics are buffers of the model, so checkpoints carry them and every scoring path
#               (evaluate, experiment, classify) applies them;
#   l2_classes  divide every class embedding by its L2 norm before it enters the model;
#   center_classes  subtract the mean of the training classes' embeddings (after the L2 division, and
#               divide again after it): removes the common direction that sentence embeddings share
#               (benchmarks/bench_sentence_vectors.py); the mean is a buffer like the z-score statistics.
# Defaults: per method (``default_scaling``), decided from benchmarks/bench_scaling.py (docs/methods.md,
# "Feature scaling"); off where not measured. ``--preset paper`` switches them off.
COMMON_DEFAULTS: dict[str, Any] = {"zscore": False, "l2_classes": False, "center_classes": False}
SCALING_OFF: dict[str, bool] = {k: False for k in COMMON_DEFAULTS}


def register_method(name: str):
    """Class decorator: add a ZslMethod subclass to ``METHODS`` under ``name``."""

    def deco(cls):
        if name in METHODS and METHODS[name] is not cls:
            raise ValueError(f"method {name!r} is registered twice")
        cls.name = name
        METHODS[name] = cls
        return cls

    return deco


def load_all_methods() -> dict[str, type["ZslMethod"]]:
    """Import every method module so that ``METHODS`` is complete; returns ``METHODS``."""
    import importlib

    from zsltool.methods.names import METHOD_MODULES

    for mod in METHOD_MODULES:
        importlib.import_module(f"zsltool.methods.{mod}")

    return METHODS


def _arg_problem(default: Any, value: Any) -> str | None:
    """Why ``value`` cannot stand in for an argument whose default is ``default`` (None when it can).

    The default's type is the argument's type; counts and sizes (int defaults) cannot be negative, and not
    0 when the default is at least 1; float arguments (margins, weights, rates) are finite and non-negative.
    """
    if default is None:
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        low = 1 if default >= 1 else 0
        return None if value >= low else f"must be at least {low}"
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        return None if math.isfinite(value) and value >= 0 else "must be a finite number of at least 0"
    if isinstance(default, str):
        return None if isinstance(value, str) else "must be a string"
    if isinstance(default, (list, tuple)):
        return None if isinstance(value, (list, tuple)) else "must be a list"
    return None


def get_method(name: str) -> type["ZslMethod"]:
    load_all_methods()
    if name not in METHODS:
        raise ZslError(f"unknown method {name!r}", hint=f"choose one of: {', '.join(sorted(METHODS))}")
    return METHODS[name]


class ZslMethod(nn.Module):
    """Base class of every zero-shot method."""

    name: ClassVar[str] = ""
    modalities: ClassVar[tuple[str, ...]] = ("audio",)
    closed_form: ClassVar[bool] = False
    requires_video: ClassVar[bool] = False  # True: training and scoring need a video file
    needs_train_classes: ClassVar[bool] = False  # True: gets n_train_classes and set_train_classes()
    training_free: ClassVar[bool] = False  # True: nothing is fitted; scores are the encoder's own (e.g. cosine)
    defaults: ClassVar[dict[str, Any]] = {}
    train_defaults: ClassVar[dict[str, Any]] = {
        "epochs": 200, "batch_size": 32, "optimizer": "sgd", "lr": 1e-2, "weight_decay": 0.0, "momentum": 0.0,
    }
    loss_terms: ClassVar[tuple[str, ...]] = ()  # terms that can be switched off with disabled_losses
    positive_args: ClassVar[tuple[str, ...]] = ()  # float arguments that must be above 0 (regularisers)
    paper_args: ClassVar[dict[str, Any]] = {}  # --preset paper: the founding paper's literal settings
    default_scaling: ClassVar[dict[str, bool]] = {}  # this method's defaults of zscore / l2_classes

    presets: ClassVar[dict[str, dict]] = {}  # named published configurations: {"args": {...}, "train": {...}}

    @classmethod
    def preset_settings(cls, preset: str | None) -> dict:
        """``{"args": ..., "train": ...}`` of a named preset: ``paper`` (every method: no feature scaling, the
        paper's literal forms), one of the method's ``presets`` (e.g. avgzslnet's ``avca-gzsl``), or
        ``default`` / None (nothing). Explicit arguments and training settings win over a preset's."""
        if preset is None or preset == "default":
            return {"args": {}, "train": {}}
        if preset == "paper":
            return {"args": {**SCALING_OFF, **cls.paper_args}, "train": {}}
        if preset not in cls.presets:
            from zsltool.methods.names import PRESETS

            known = ["paper", *sorted(cls.presets)]
            hint = f"{cls.name!r} has: {', '.join(known)}" + (
                f"; {preset!r} is a preset of {PRESETS[preset]}" if preset in PRESETS else "")
            raise ZslError(f"method {cls.name!r} has no preset {preset!r}", hint=hint)
        p = cls.presets[preset]
        return {"args": dict(p.get("args", {})), "train": dict(p.get("train", {}))}

    @classmethod
    def args_from_inputs(cls, inputs) -> dict:
        """Method arguments read from the input files' provenance (``zsltool.train.data.Inputs``), applied before
        the user's; a method may refuse inputs here (e.g. ``cosine``: files of two embedding spaces)."""
        return {}

    batched_kernel: ClassVar[str | None] = None  # a kernel of zsltool.train.kernels: many models trained at once
    #: parameters W (out × d_s) through which the training loss sees the class embeddings only as
    #: ``class_emb @ W.T``: the engine trains them in exact class-space coordinates with plain SGD
    #: (zsltool/train/class_space.py)
    class_linear: ClassVar[tuple[str, ...]] = ()
    #: stacking many models of this method also pays on the CPU (measured: benchmarks/RESULTS.md)
    stack_on_cpu: ClassVar[bool] = False

    def __init__(self, *, audio_dim: int, semantic_dim: int, video_dim: int | None = None, **method_args):
        super().__init__()
        if method_args.get("disabled_losses") and "disabled_losses" not in self.defaults:
            raise ZslError(f"method {self.name!r} has no loss terms that can be switched off",
                           hint="--disable-loss applies to: " + ", ".join(
                               sorted(n for n, c in METHODS.items() if c.loss_terms)))
        known = {**COMMON_DEFAULTS, **self.defaults}
        unknown = sorted(set(method_args) - set(known))
        if unknown:
            raise ZslError(f"method {self.name!r} has no argument(s) {', '.join(unknown)}",
                           hint="valid: " + ", ".join(sorted(known)))
        for k, v in method_args.items():
            problem = _arg_problem(known[k], v)
            if not problem and k in self.positive_args and not v > 0:
                problem = "must be above 0 (the regulariser keeps the closed-form solve well posed)"
            if problem:
                raise ZslError(f"method {self.name!r}: argument {k}={v!r} {problem}",
                               hint=f"the default is {k}={known[k]!r}")
        if self.requires_video and not video_dim:
            raise ZslError(f"method {self.name!r} needs a video embedding file", hint="pass --video FILE")
        self.audio_dim = int(audio_dim)
        self.semantic_dim = int(semantic_dim)
        self.video_dim = int(video_dim) if video_dim else None
        args = dict(self.defaults)
        # only switched-on scaling is recorded (a checkpoint without the keys has none: see build_model)
        args.update({k: v for k, v in {**COMMON_DEFAULTS, **self.default_scaling}.items() if v})
        args.update(method_args)
        if "disabled_losses" in args:
            args["disabled_losses"] = list(args["disabled_losses"] or [])
            bad = [t for t in args["disabled_losses"] if t not in self.loss_terms]
            if bad:
                raise ZslError(f"method {self.name!r} has no loss term(s) {', '.join(bad)}",
                               hint="terms: " + ", ".join(self.loss_terms))
            if self.loss_terms and set(self.loss_terms) <= set(args["disabled_losses"]):
                raise ZslError(f"every loss term of {self.name!r} is switched off: nothing would be trained",
                               hint="keep at least one of " + ", ".join(self.loss_terms))
        self.args = args
        if args.get("zscore"):
            self.register_buffer("zscore_audio", torch.stack([torch.zeros(self.audio_dim), torch.ones(self.audio_dim)]))
            if self.video_dim:
                self.register_buffer("zscore_video",
                                     torch.stack([torch.zeros(self.video_dim), torch.ones(self.video_dim)]))
        if args.get("center_classes"):
            self.register_buffer("class_mean", torch.zeros(self.semantic_dim))

    # -- feature scaling (applied by the training loop and by every scoring path) -------------------------
    def fit_scaling(self, audio: Tensor, audio_valid: Tensor | None = None, video: Tensor | None = None,
                    video_valid: Tensor | None = None, class_emb: Tensor | None = None) -> None:
        """Set the z-score statistics from the training rows (valid rows only) and, with ``center_classes``, the
        mean of the training classes' embeddings ``class_emb``; a no-op without either."""
        if self.args.get("center_classes") and class_emb is not None and len(class_emb):
            self.class_mean.copy_(self._l2(class_emb).mean(0).to(self.class_mean))
        if not self.args.get("zscore"):
            return
        for name, x, ok in (("zscore_audio", audio, audio_valid), ("zscore_video", video, video_valid)):
            if x is None or not hasattr(self, name):
                continue
            rows = x if ok is None else x[ok.bool()]
            if rows.shape[0] == 0:
                continue
            mu = rows.mean(0)
            sd = rows.std(0, unbiased=False) if rows.shape[0] > 1 else torch.ones_like(mu)
            sd = torch.where(sd > 1e-8 * (1 + mu.abs()), sd, torch.ones_like(sd))
            getattr(self, name).copy_(torch.stack([mu, sd]).to(getattr(self, name)))

    def prep_audio(self, x: Tensor | None) -> Tensor | None:
        if x is None or not self.args.get("zscore"):
            return x
        z = self.zscore_audio.to(x.dtype)
        return (x - z[0]) / z[1]

    def prep_video(self, x: Tensor | None) -> Tensor | None:
        if x is None or not self.args.get("zscore") or not hasattr(self, "zscore_video"):
            return x
        z = self.zscore_video.to(x.dtype)
        return (x - z[0]) / z[1]

    def _l2(self, c: Tensor) -> Tensor:
        if not self.args.get("l2_classes"):
            return c
        return c / c.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def prep_classes(self, c: Tensor) -> Tensor:
        c = self._l2(c)
        if self.args.get("center_classes"):
            c = self._l2(c - self.class_mean.to(c))
        return c

    # -- description ------------------------------------------------------------------------------------
    def method_args(self) -> dict:
        """Everything needed to rebuild this model: ``type(self)(**model.method_args())``."""
        return {"audio_dim": self.audio_dim, "semantic_dim": self.semantic_dim, "video_dim": self.video_dim,
                **self.args}

    @property
    def uses_video(self) -> bool:
        return "video" in self.modalities and self.video_dim is not None

    # -- training -----------------------------------------------------------------------------------------
    def loss(self, batch: dict) -> dict[str, Tensor]:
        """``{"total", <term>...}``: by default the sum of the enabled terms of ``loss_terms_values(batch)``
        (plus an attention module's ``attn`` term, which is always on)."""
        values = getattr(self, "loss_terms_values", None)
        if values is None:
            raise NotImplementedError(f"{self.name} is trained in closed form")
        on = {k: v for k, v in values(batch).items() if k == "attn" or self.is_enabled(k)}
        return {"total": sum(on.values()), **{k: v.detach() for k, v in on.items()}}

    def fit_closed_form(self, audio: Tensor, semantic_per_row: Tensor, labels: Tensor, class_emb: Tensor,
                        video: Tensor | None = None, **kwargs) -> None:
        raise NotImplementedError(f"{self.name} is trained by gradient descent")

    def set_train_classes(self, class_emb: Tensor) -> None:
        """Called before training for methods with ``needs_train_classes`` (e.g. ConSE)."""

    # -- inference ----------------------------------------------------------------------------------------
    def scores(self, class_emb: Tensor, audio: Tensor | None = None, video: Tensor | None = None,
               modality: str = "both", audio_valid: Tensor | None = None,
               video_valid: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def embed(self, class_emb: Tensor | None = None, audio: Tensor | None = None,
              video: Tensor | None = None) -> dict[str, Tensor]:
        """Instance / class embeddings in the learned space (for plots and retrieval): each input given, mapped by
        its function of :meth:`embedders`."""
        given = {"class": class_emb, "audio": audio, "video": video}
        return {k: f(given[k]) for k, f in self.embedders().items() if given[k] is not None}

    def embedders(self) -> dict[str, Callable[[Tensor], Tensor]]:
        """``{"class" | "audio" | "video": function}``: how each input enters the learned space (optional)."""
        raise NotImplementedError(f"{self.name} has no embedding space")

    def is_enabled(self, term: str) -> bool:
        return term not in self.args.get("disabled_losses", [])


def check_modality(model: ZslMethod, modality: str, audio, video) -> str:
    """Resolve ``modality`` (both|audio|video) against the model and the inputs given."""
    if modality not in SCORE_MODALITIES:
        raise ZslError(f"unknown modality {modality!r}", hint=f"use one of {', '.join(SCORE_MODALITIES)}")
    usable = [m for m, x, ok in (("audio", audio, "audio" in model.modalities), ("video", video, model.uses_video))
              if x is not None and ok]
    if modality == "both" and usable:
        return "both" if len(usable) == 2 else usable[0]
    if modality in usable:
        return modality
    raise ZslError(f"method {model.name!r} cannot score with modality {modality!r} from the inputs given",
                   hint=f"it uses {', '.join(model.modalities)}")


def masked_mean(x: Tensor, mask: Tensor | None) -> Tensor:
    """Mean of ``x`` over rows where ``mask`` is True (0 when no row is)."""
    if mask is None:
        return x.mean() if x.numel() else x.sum()
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp_min(1.0)


def combine_distances(dist_a: Tensor | None, dist_v: Tensor | None, audio_valid: Tensor | None,
                      video_valid: Tensor | None, weights: Tensor | None = None) -> Tensor:
    """Mean of the audio and video distance matrices (or attention ``weights`` (N, 2)); one modality where the
    other is invalid. Returns scores (= negated distances)."""
    if dist_v is None:
        return -dist_a
    if dist_a is None:
        return -dist_v
    n = dist_a.shape[0]
    av = torch.ones(n, dtype=torch.bool, device=dist_a.device) if audio_valid is None else audio_valid.bool()
    vv = torch.ones(n, dtype=torch.bool, device=dist_a.device) if video_valid is None else video_valid.bool()
    if weights is None:
        wa = torch.full((n,), 0.5, device=dist_a.device, dtype=dist_a.dtype)
    else:
        wa = weights[:, 0]
    wa = torch.where(av & ~vv, torch.ones_like(wa), wa)
    wa = torch.where(vv & ~av, torch.zeros_like(wa), wa)
    wa = wa[:, None]
    return -(wa * dist_a + (1 - wa) * dist_v)


def mse_dist(x: Tensor, y: Tensor) -> Tensor:
    """Pairwise mean squared error: (N, D) x (C, D) -> (N, C)."""
    return ((x[:, None, :] - y[None, :, :]) ** 2).mean(-1)


def pair_mse(x: Tensor, y: Tensor) -> Tensor:
    """Row-wise mean squared error of two (N, D) tensors -> (N,)."""
    return ((x - y) ** 2).mean(-1)


def triplet(d_pos: Tensor, d_neg: Tensor, margin: float) -> Tensor:
    """Per-row triplet hinge [d_pos - d_neg + margin]_+."""
    return (d_pos - d_neg + margin).clamp_min(0.0)
