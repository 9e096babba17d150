"""The one HDF5 schema for every embedding file (instance-level and class-level); see docs/DESIGN.md."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from zsltool.files.provenance import jsonable

FORMAT = "zsl.embeddings"
FORMAT_VERSION = 1
KINDS = ("instance", "class")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass
class StoreMeta:
    """Root attributes of an embedding file (everything but the data)."""

    kind: str = "instance"
    modality: str = "audio"
    extractor: str = "unknown"
    extractor_meta: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)
    class_set_sha256: str = ""
    command: str = ""
    zsl_version: str = ""
    created_utc: str = ""
    format_version: int = FORMAT_VERSION

    def fingerprint(self) -> dict:
        """What must match for two files (or a resumed run) to hold the same kind of rows."""
        return {
            "kind": self.kind,
            "modality": self.modality,
            "extractor": self.extractor,
            "extractor_meta": self.extractor_meta,
            "class_set_sha256": self.class_set_sha256,
        }

    def to_attrs(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": int(self.format_version),
            "kind": self.kind,
            "modality": self.modality,
            "extractor": self.extractor,
            "extractor_meta": json.dumps(jsonable(self.extractor_meta), sort_keys=True),
            "inputs": json.dumps(jsonable(self.inputs)),
            "class_set_sha256": self.class_set_sha256 or "",
            "command": self.command,
            "zsl_version": self.zsl_version,
            "created_utc": self.created_utc,
        }

    @classmethod
    def from_attrs(cls, attrs) -> "StoreMeta":
        def _s(key, default=""):
            v = attrs.get(key, default)
            v = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
            return v if isinstance(v, str) else default  # never anything but text (see collect_violations)

        def _j(key, default):
            raw = _s(key, "")
            if not raw:
                return default
            try:
                return json.loads(raw)
            except ValueError:
                return default

        return cls(
            kind=_s("kind", ""),
            modality=_s("modality", ""),
            extractor=_s("extractor", ""),
            extractor_meta=_j("extractor_meta", {}),
            inputs=_j("inputs", []),
            class_set_sha256=_s("class_set_sha256", ""),
            command=_s("command", ""),
            zsl_version=_s("zsl_version", ""),
            created_utc=_s("created_utc", ""),
            format_version=int(attrs.get("format_version", 0)),
        )

    def as_dict(self) -> dict:
        return asdict(self)
