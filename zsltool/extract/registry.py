"""Registry of extractors.

Registration must stay import-light (no torch): an entry names the module and factory that builds the
extractor (``"zsltool.extract.audio.vggish:build"``), so CLI choices come from the registry while
``zsl --help`` stays instant. The catalogue of built-in extractors is ``zsltool.extract.catalog``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from zsltool.errors import ZslError


@dataclass(frozen=True)
class ExtractorInfo:
    name: str
    modality: str  # audio | image | text | video
    target: str  # "package.module:factory"
    description: str = ""
    default_weights: str | None = None
    meta: dict = field(default_factory=dict)

    def load_factory(self) -> Callable[..., Any]:
        mod_name, _, attr = self.target.partition(":")
        mod = importlib.import_module(mod_name)
        return getattr(mod, attr)

    def build(self, **kwargs) -> Any:
        return self.load_factory()(**kwargs)


EXTRACTORS: dict[str, ExtractorInfo] = {}


def register_extractor(name: str, *, modality: str, target: str, description: str = "",
                       default_weights: str | None = None, **meta) -> ExtractorInfo:
    info = ExtractorInfo(name=name, modality=modality, target=target, description=description,
                         default_weights=default_weights, meta=meta)
    EXTRACTORS[name] = info
    return info


def _ensure_catalog() -> None:
    import zsltool.extract.catalog  # noqa: F401  (registers the built-in extractors)


def list_extractors(modality: str | None = None) -> list[str]:
    _ensure_catalog()
    return sorted(n for n, i in EXTRACTORS.items() if modality is None or i.modality == modality)


def get_extractor(name: str, modality: str | None = None) -> ExtractorInfo:
    _ensure_catalog()
    info = EXTRACTORS.get(name)
    if info is None or (modality is not None and info.modality != modality):
        choices = ", ".join(list_extractors(modality)) or "none"
        raise ZslError(f"unknown {modality or ''} extractor {name!r}".replace("  ", " "),
                       hint=f"choose one of: {choices}")
    return info
