"""Official class-definition files, downloaded once into a user cache and checked by sha256.

Cache folder: ``classes/`` of zsl's cache (``$ZSL_CACHE``, else ``$XDG_CACHE_HOME/zsltool``, else ``~/.cache/zsltool``). Offline, a ZslError names the
option to pass a local copy instead.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from zsltool.errors import ZslError
from zsltool.files.checks import atomic_write_bytes
from zsltool.files.provenance import cache_dir as zsl_cache, sha256_file

log = logging.getLogger("zsltool.classes.download")


@dataclass(frozen=True)
class OfficialFile:
    key: str
    filename: str
    url: str
    sha256: str  # full hex digest, or a prefix of it ("" = not pinned: the digest is only recorded)
    option: str  # the build-classes option that takes a local copy


OFFICIAL = {
    "ontology": OfficialFile(
        "ontology", "ontology.json", "https://raw.githubusercontent.com/audioset/ontology/master/ontology.json",
        "9c685f4403eecc3ca9be37fd7285cf212feaaea6ff7229d3e7ca89e0d1f2d15d", "--ontology"),
    "audio-classes": OfficialFile(
        "audio-classes", "class_labels_indices.csv",
        "http://storage.googleapis.com/us_audioset/youtube_corpus/v1/csv/class_labels_indices.csv",
        "", "--audio-classes"),  # not pinned: no verified official digest
    "image-classes": OfficialFile(
        "image-classes", "class-descriptions-boxable.csv",
        "https://storage.googleapis.com/openimages/2018_04/class-descriptions-boxable.csv",
        "2fa47fb1b87e", "--image-classes"),
}


def cache_dir() -> Path:
    """``classes/`` of zsl's cache folder (``zsltool.files.provenance.cache_dir``: ``$ZSL_CACHE``, else
    ``$XDG_CACHE_HOME/zsltool``, else ``~/.cache/zsltool``)."""
    return zsl_cache() / "classes"


def _fetch(url: str, timeout: float = 30.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - fixed https/http URLs above
        return r.read()


def official_file(key: str, fetch=_fetch) -> Path:
    """Local path of an official file: from the cache, else downloaded (and checked) into it."""
    if key not in OFFICIAL:
        raise ZslError(f"unknown official file {key!r}", hint=f"known: {', '.join(OFFICIAL)}")
    f = OFFICIAL[key]
    dest = cache_dir() / f.filename
    if dest.exists() and (not f.sha256 or sha256_file(dest).startswith(f.sha256)):
        return dest
    log.info("downloading %s to %s", f.url, dest)
    try:
        data = fetch(f.url)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise ZslError(f"cannot download {f.url} (offline?): {getattr(e, 'reason', e)}",
                       hint=f"download {f.filename} yourself and pass it with {f.option} PATH") from None
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    if f.sha256 and not digest.startswith(f.sha256):
        raise ZslError(f"{f.url} has sha256 {digest[:16]}..., expected {f.sha256[:16]}...",
                       hint=f"the file changed upstream; download it yourself and pass it with {f.option} PATH")
    atomic_write_bytes(dest, data)
    return dest
