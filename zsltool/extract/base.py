"""The extractor contract: what every embedding extractor is, whatever its modality.

An extractor is one class (a subclass of :class:`Extractor`) plus its registration
(:class:`ExtractorSpec`, in ``zsltool.extract.catalog``):

- the **spec** is data, import-light (no torch): the name, the modality, the config dataclass whose fields
  become the command's options, the embedding ``dim``, the weights it can load (:class:`Weights`: URL,
  sha256, transforms, metadata, as torchvision's weights enums), a description and the source;
- the **class** does the work: ``load(item)`` runs in a DataLoader worker (decode, preprocess),
  ``embed(samples)`` runs the network on a batch in the main process, ``meta()`` says what made the rows.

The pipeline (inputs, shards, resume, workers, the atomic store) lives once in
:func:`zsltool.extract.pipeline.extract` and never learns a model's name.

    spec = get_extractor("cnn14", modality="audio")
    ex = spec.build(spec.make_config(weights="Cnn14.pth"), device="cpu")
    rows = ex.embed([ex.load(item) for item in items])
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

from zsltool.errors import ZslError


# -- weights as data -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Weights:
    """Published weights of a model: where they are, how to check them, what they expect and what they are.

    ``transforms``: the preprocessing the weights were trained with (sample rate, mel bands, image size...);
    ``meta``: facts about them (training data, paper, metrics, licence).
    """

    id: str
    url: str | None = None
    sha256: str | None = None  # full hex digest of the file at ``url`` (None: only the name's prefix is checked)
    md5: str | None = None  # where the publisher gives only an md5 (Zenodo), it is checked too
    transforms: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def fetch(self, what: str = "weights"):
        """``(local path, sha256)``: downloaded once into torch hub's checkpoint folder and checked."""
        from zsltool.extract.weights import fetch_file

        if self.url is None:
            raise ZslError(f"weights {self.id} have no download address", hint="pass --weights PATH")
        return fetch_file(self.url, what, sha256=self.sha256, md5=self.md5)


# -- configs: their fields become the command's options ----------------------------------------------------------
def option(default: Any = None, help: str = "", *, choices: Sequence[str] | None = None, flag: str | None = None,
           min: float | None = None, positive: bool = False, provenance: bool = True) -> Any:
    """A config field with its command-line description.

    ``flag``: the option name when it is not ``--field-name``; ``choices``: the allowed values;
    ``provenance=False``: a setting that does not change the embeddings (kept out of the file's metadata).
    """
    meta = {"help": help, "choices": tuple(choices) if choices else None, "flag": flag, "min": min,
            "positive": positive, "provenance": provenance}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def option_flag(f: dataclasses.Field) -> str:
    """The command-line option of a config field: its ``flag``, else ``--field-name``."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


@dataclass
class ExtractorConfig:
    """Settings every extractor has. ``weights`` None means the registered default weights."""

    weights: str | None = option(None, "Weights: a registered weights id (see zsl models), a URL, a local file, "
                                       "or 'random' (default: the model's default weights).")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v, choices, lo = getattr(self, f.name), f.metadata.get("choices"), f.metadata.get("min")
            flag = option_flag(f)
            if choices and v is not None and v not in choices:
                raise ZslError(f"{flag} {v!r} is not one of {', '.join(choices)}")
            if lo is not None and v is not None and not v >= lo:
                raise ZslError(f"{flag} must be at least {lo:g}, got {v}")
            if f.metadata.get("positive") and v is not None and not v > 0:
                raise ZslError(f"{flag} must be positive, got {v}")

    @classmethod
    def provenance_fields(cls) -> list[str]:
        """The fields that shape the embeddings (what a file records to rebuild its extractor)."""
        return [f.name for f in dataclasses.fields(cls) if f.metadata.get("provenance", True)]

    def provenance(self) -> dict:
        return {k: getattr(self, k) for k in self.provenance_fields()}


# -- the implementation's base class ---------------------------------------------------------------------------
class Extractor:
    """Base class of the extractors. Subclasses set ``dim`` in ``__init__`` and implement ``load`` and
    ``embed``; ``spec`` is set by :meth:`ExtractorSpec.build`.

    ``load(item) -> sample`` runs in a DataLoader worker (must not use the network); it raises
    ``InvalidInput`` (or ZslError) for an input that cannot be embedded, which becomes an invalid row.
    ``embed(samples) -> [{"embedding": 1-D array, "frames": optional 2-D array}]`` runs in the main process.
    """

    modality: ClassVar[str] = ""
    unit: ClassVar[str] = "item"
    keeps_frames: ClassVar[bool] = False  # whether embed() returns per-frame rows worth storing in /frames
    spec: "ExtractorSpec"
    dim: int

    def __init__(self, config: ExtractorConfig, device: str = "cpu"):
        self.config, self.device = config, device

    @property
    def name(self) -> str:
        return self.spec.name

    def loader(self) -> Callable[[Any], Any]:
        """The picklable function DataLoader workers call per item (default: ``self.load``). A subclass
        implements ``load`` or ``loader`` (a picklable object that holds only what a worker needs)."""
        return self.load

    def load(self, item) -> Any:
        return self.loader()(item)

    def embed(self, samples: list) -> list[dict]:
        raise NotImplementedError

    def meta(self) -> dict:
        """What made the rows (weights id and sha256, front end, layer, pooling...); stored in the file."""
        return {}

    def input_records(self) -> list[dict]:
        """Local files the extractor read (weights), as provenance input records ``{"path", "sha256"}``."""
        return list(getattr(self, "weight_records", []))

    def notes(self) -> dict:
        """Run-summary additions after the run (e.g. short clips padded)."""
        return {}

    def before_run(self, items: list, shard: tuple[int, int], overwrite: bool) -> None:
        """Checks and side outputs before any input is read (e.g. a folder for extracted audio)."""

    def after_run(self, items: list) -> dict:
        """Work after the rows are written, on this shard's items; returns summary additions."""
        return {}


# -- the registration ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExtractorSpec:
    """A registered extractor: data only, so listing and the CLI never import torch."""

    name: str
    modality: str  # one of zsltool.names.MODALITIES
    target: str  # "package.module:Class" of the Extractor subclass
    config: type = ExtractorConfig
    dim: int | None = None  # the embedding size with the default config
    weights: tuple[Weights, ...] = ()
    default_weights: str | None = None  # a Weights id, or None (random initialisation / no weights)
    description: str = ""
    source: str = ""  # where the architecture and weights come from
    extra: str | None = None  # the optional install extra it needs (pip install 'zsltool[EXTRA]')
    test_only: bool = False
    # text only: "package.module:function" embedding a few new labels as the file's rows were made (zsl classify;
    # e.g. word vectors streamed instead of loaded whole); None: the rebuilt extractor's rows()
    labels: str | None = None

    def load_class(self) -> type:
        try:
            return _import(self.target)
        except ImportError as e:
            if self.extra and e.name and not e.name.startswith("zsltool"):
                raise ZslError(f"--model {self.name} needs the optional package {e.name}",
                               hint=f"pip install 'zsltool[{self.extra}]'") from None
            raise

    def label_embedder(self) -> Callable | None:
        """The function of ``labels``, or None."""
        return None if self.labels is None else _import(self.labels)

    def make_config(self, **options) -> ExtractorConfig:
        """The config from keyword options (unknown ones are an error naming the model's options)."""
        names = {f.name for f in dataclasses.fields(self.config)}
        bad = sorted(set(options) - names)
        if bad:
            raise ZslError(f"--model {self.name} has no option {', '.join('--' + b.replace('_', '-') for b in bad)}",
                           hint=f"its options: {', '.join('--' + n.replace('_', '-') for n in sorted(names))}")
        return self.config(**options)

    def get_weights(self, wid: str | None) -> Weights | None:
        """The registered weights called ``wid`` (``DEFAULT`` or None: the default weights), else None."""
        if wid is None or str(wid).upper() == "DEFAULT":
            wid = self.default_weights
        for w in self.weights:
            if wid is not None and w.id.upper() == str(wid).upper():
                return w
        return None

    def build(self, config: ExtractorConfig | None = None, device: str = "cpu") -> Extractor:
        cls = self.load_class()
        ex = cls.__new__(cls)
        ex.spec = self
        ex.__init__(config if config is not None else self.config(), device=device)
        return ex

    def summary(self) -> dict:
        return {"name": self.name, "modality": self.modality, "dim": self.dim,
                "default_weights": self.default_weights, "weights": [w.id for w in self.weights],
                "options": ["--" + f.name.replace("_", "-") for f in dataclasses.fields(self.config)],
                "extra": self.extra, "source": self.source, "description": self.description}


def _import(target: str) -> Any:
    """The object a ``"package.module:name"`` string names."""
    mod_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(mod_name), attr)
