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
# The text attributes of the file's root, in the order they are written (after format, format_version); the JSON
# ones hold JSON text (their empty value's type).
ATTRS = ("kind", "modality", "extractor", "extractor_meta", "inputs", "class_set_sha256", "command", "zsl_version",
         "created_utc")
JSON_ATTRS = {"extractor_meta": dict, "inputs": list}


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
        return {k: getattr(self, k) for k in ("kind", "modality", "extractor", "extractor_meta", "class_set_sha256")}

    def to_attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {"format": FORMAT, "format_version": int(self.format_version)}
        for k in ATTRS:
            v = getattr(self, k)
            attrs[k] = json.dumps(jsonable(v), sort_keys=k == "extractor_meta") if k in JSON_ATTRS else v
        attrs["class_set_sha256"] = self.class_set_sha256 or ""
        return attrs

    @classmethod
    def from_attrs(cls, attrs) -> "StoreMeta":
        """Never anything but text from a text attribute, and JSON only from a JSON one (collect_violations says
        what a file breaks); a missing or unreadable attribute is empty."""
        def text(key):
            v = attrs.get(key, "")
            v = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
            return v if isinstance(v, str) else ""

        def parsed(key):
            try:
                return json.loads(text(key)) if text(key) else JSON_ATTRS[key]()
            except ValueError:
                return JSON_ATTRS[key]()

        return cls(**{k: parsed(k) if k in JSON_ATTRS else text(k) for k in ATTRS},
                   format_version=int(attrs.get("format_version", 0)))

    def as_dict(self) -> dict:
        return asdict(self)
