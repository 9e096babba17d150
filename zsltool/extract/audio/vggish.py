"""VGGish (Hershey et al., ICASSP 2017), exactly the published architecture, in the layout of the widely used
PyTorch port (harritaylor/torchvggish), so its released state dict loads as is.

Input: (N, 1, 96, 64) log-mel examples (time x mel bands).
``features``: conv3x3(1->64) ReLU maxpool2 | conv(64->128) ReLU maxpool2 | conv(128->256) ReLU conv(256->256)
ReLU maxpool2 | conv(256->512) ReLU conv(512->512) ReLU maxpool2 -> (N, 512, 6, 4); state-dict keys
``features.{0,3,6,8,11,13}.{weight,bias}``.
The feature map is flattened channels-last (N, 6, 4, 512) -> 12288, the order of the TensorFlow weights.
``embeddings``: Linear(12288, 4096) ReLU Linear(4096, 4096) ReLU Linear(4096, 128); keys
``embeddings.{0,2,4}.{weight,bias}``.

``--embedding`` picks what is returned per 0.96 s example, the point on which the ports disagree:
``raw``   the 128-d layer without activation (the current TensorFlow release: fc2 has no ReLU);
``relu``  ReLU of it (what torchvggish returns: its last layer has a ReLU);
``pca``   the published postprocessing: ``(relu - pca_means) @ pca_eigen_vectors.T`` (PCA + whitening,
          applied to the ReLU output as in torchvggish and the 2017 release that made the AudioSet embeddings);
``pca-quantized`` pca, clipped to [-2, 2], quantized to 8 bits ``round((x + 2) * 255 / 4)`` and stored
          dequantized as ``q * 4 / 255 - 2``: the same numbers as AudioSet's released embeddings after
          ``zsl import-audioset`` dequantizes them.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zsltool.errors import ZslError
from zsltool.utils import require_file, sha256_file, torch_load

log = logging.getLogger("zsltool.extract.audio")

RELEASE = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
VGGISH_URL = RELEASE + "vggish-10086976.pth"
PCA_URL = RELEASE + "vggish_pca_params-970ea276.pth"
EMBEDDINGS = ("raw", "relu", "pca", "pca-quantized")
CONV_CHANNELS = (64, 128, 256, 256, 512, 512)
POOL_AFTER = (0, 1, 3, 5)  # pool after these conv positions
CONV_KEYS = (0, 3, 6, 8, 11, 13)
FC_KEYS = (0, 2, 4)
EMBEDDING_DIM = 128
QUANT_MIN, QUANT_MAX = -2.0, 2.0


class VGGish(nn.Module):
    """The VGGish network; ``width`` scales channels and hidden units (1.0 = the published network)."""

    def __init__(self, width: float = 1.0, channels: tuple[int, ...] | None = None, hidden: int | None = None):
        super().__init__()
        chans = tuple(channels) if channels else tuple(max(1, int(round(c * width))) for c in CONV_CHANNELS)
        hidden = hidden or max(1, int(round(4096 * width)))
        layers: list[nn.Module] = []
        cin = 1
        for i, c in enumerate(chans):
            layers += [nn.Conv2d(cin, c, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            if i in POOL_AFTER:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            cin = c
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(cin * 6 * 4, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, EMBEDDING_DIM))
        self.channels, self.hidden = chans, hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 96, 64) or (N, 96, 64) -> (N, 128) raw embeddings (no final ReLU)."""
        if x.dim() == 3:
            x = x.unsqueeze(1)
        x = self.features(x)  # (N, C, 6, 4)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # channels-last flatten, as the TF weights expect
        return self.embeddings(x)

    @classmethod
    def from_state_dict(cls, sd: dict) -> "VGGish":
        """Build the network whose sizes match ``sd`` (port layout) and load it strictly."""
        check_state_dict(sd)
        chans = tuple(int(sd[f"features.{k}.weight"].shape[0]) for k in CONV_KEYS)
        model = cls(channels=chans, hidden=int(sd["embeddings.0.weight"].shape[0]))
        model.load_state_dict(sd, strict=True)
        return model


def expected_keys() -> list[str]:
    return [f"features.{k}.{p}" for k in CONV_KEYS for p in ("weight", "bias")] + \
           [f"embeddings.{k}.{p}" for k in FC_KEYS for p in ("weight", "bias")]


def check_state_dict(sd: Any, source: str = "the weights") -> None:
    if not isinstance(sd, dict):
        raise ZslError(f"{source} is not a state dict (found {type(sd).__name__})")
    missing = [k for k in expected_keys() if k not in sd]
    extra = [k for k in sd if k not in expected_keys()]
    if missing or extra:
        raise ZslError(f"{source} do not have the VGGish layout: "
                       + (f"missing {', '.join(missing[:4])}" if missing else "")
                       + ("; " if missing and extra else "") + (f"unexpected {', '.join(extra[:4])}" if extra else ""),
                       hint="expected the torchvggish keys features.{0,3,6,8,11,13}.* and embeddings.{0,2,4}.*")
    if sd["embeddings.4.weight"].shape[0] != EMBEDDING_DIM:
        raise ZslError(f"{source}: the embedding layer has {sd['embeddings.4.weight'].shape[0]} units, expected 128")


# -- weights -------------------------------------------------------------------------------------------------
def _is_url(s: str) -> bool:
    return s.startswith(("http://", "https://", "file://"))


def fetch(spec: str, what: str = "weights") -> tuple[Path, str]:
    """``(local path, sha256)`` for ``spec`` (a path, or a URL downloaded once into torch.hub's checkpoint
    folder). The file is hashed once here; callers reuse the digest for provenance.

    The sha256 prefix in a release file name (``name-<hex>.pth``) is checked, as torch.hub does.
    """
    if not _is_url(spec):
        path = require_file(Path(spec).expanduser(), f"{what} file")
        return path, sha256_file(path)
    name = os.path.basename(spec.split("?")[0])
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    target = folder / name
    m = re.search(r"-([a-f0-9]{6,})\.", name)
    prefix = m.group(1) if m else None
    if target.is_file():
        digest = sha256_file(target)
        if prefix and not digest.startswith(prefix):
            raise ZslError(f"cached {what} {target} do not match the checksum in the file name ({prefix})",
                           hint="delete the cached file so it is downloaded again")
        return target, digest
    folder.mkdir(parents=True, exist_ok=True)
    log.info(f"downloading {spec} -> {target}")
    try:
        torch.hub.download_url_to_file(spec, str(target), hash_prefix=prefix, progress=False)
    except RuntimeError as e:
        if "invalid hash" in str(e):
            raise ZslError(f"the download of {spec} does not match its checksum {prefix}",
                           hint="retry, or download it yourself and pass --weights PATH") from None
        raise ZslError(f"cannot download {what} from {spec} ({e})",
                       hint=f"download it on a machine with internet and pass --weights PATH (or put it at {target})"
                       ) from None
    except OSError as e:
        raise ZslError(f"cannot download {what} from {spec} (offline? {e})",
                       hint=f"download it on a machine with internet and pass --weights PATH (or put it at {target})"
                       ) from None
    return target, sha256_file(target)


def load_weights(spec: str | None) -> tuple[dict, dict]:
    """(state dict, provenance {weights, weights_sha256}) for a path or URL (default: the release URL)."""
    spec = spec or VGGISH_URL
    path, digest = fetch(spec, "VGGish weights")
    obj = torch_load(path, "VGGish weights file",
                     hint="--weights needs a torch state dict (torchvggish layout, or made by zsl pretrain-audio)",
                     numpy_arrays=True)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if isinstance(obj, dict):  # numpy arrays (allowed, numeric only) become tensors
        import numpy as np

        obj = {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
               for k, v in obj.items()}
    check_state_dict(obj, f"weights {path}")
    return obj, {"weights": spec, "weights_sha256": digest}


def _read_pca_file(path: Path) -> dict:
    """The arrays of a PCA parameter file: the torchvggish release (a dict of numpy arrays saved with torch.save;
    numeric arrays only, nothing else is unpickled) or AudioSet's original ``vggish_pca_params.npz``
    (``allow_pickle=False``)."""
    import zipfile

    import numpy as np

    hint = ("--pca-params needs torchvggish's vggish_pca_params-970ea276.pth or AudioSet's "
            "vggish_pca_params.npz")
    with open(path, "rb") as fh:
        head = fh.read(4)
    names: list[str] = []
    if head == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            names = []
    if path.suffix.lower() == ".npz" or (names and all(n.endswith(".npy") for n in names)):
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except ValueError as e:  # object arrays need pickle: refused
            raise ZslError(f"cannot load VGGish PCA parameter file {path}: {e}", hint=hint) from None
        except (OSError, EOFError, zipfile.BadZipFile) as e:
            raise ZslError(f"cannot load VGGish PCA parameter file {path}: {type(e).__name__}: {e} "
                           "(corrupt or truncated?)", hint=hint) from None
    return torch_load(path, "VGGish PCA parameter file", hint=hint, numpy_arrays=True)


def load_pca(spec: str | None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(eigen vectors 128x128, means 128, provenance) from a PCA params file (see :func:`_read_pca_file`)."""
    import numpy as np

    spec = spec or PCA_URL
    path, digest = fetch(spec, "VGGish PCA parameters")
    obj = _read_pca_file(Path(path))
    if not isinstance(obj, dict) or "pca_eigen_vectors" not in obj or "pca_means" not in obj:
        raise ZslError(f"{path} is not a VGGish PCA parameter file (needs pca_eigen_vectors and pca_means)")
    try:
        ev = torch.as_tensor(np.asarray(obj["pca_eigen_vectors"], dtype=np.float32))
        mu = torch.as_tensor(np.asarray(obj["pca_means"], dtype=np.float32)).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ZslError(f"{path}: the PCA parameters are not numeric matrices ({e})") from None
    if ev.shape != (EMBEDDING_DIM, EMBEDDING_DIM) or mu.shape != (EMBEDDING_DIM,):
        raise ZslError(f"{path}: PCA shapes {tuple(ev.shape)} / {tuple(mu.shape)}, expected (128, 128) / (128,)")
    if not (torch.isfinite(ev).all() and torch.isfinite(mu).all()):
        raise ZslError(f"{path}: the PCA parameters hold NaN or Inf values")
    return ev, mu, {"pca_params": spec, "pca_params_sha256": digest}


def postprocess(raw: torch.Tensor, embedding: str, pca: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> torch.Tensor:
    """Turn raw 128-d outputs into the ``embedding`` variant (see the module docstring)."""
    if embedding == "raw":
        return raw
    x = torch.relu(raw)
    if embedding == "relu":
        return x
    if pca is None:
        raise ValueError("pca parameters are needed for the pca embeddings")
    ev, mu = pca
    x = (x - mu.to(x)) @ ev.to(x).T
    if embedding == "pca":
        return x
    q = torch.round((torch.clamp(x, QUANT_MIN, QUANT_MAX) - QUANT_MIN) * (255.0 / (QUANT_MAX - QUANT_MIN)))
    return q * ((QUANT_MAX - QUANT_MIN) / 255.0) + QUANT_MIN


class VGGishExtractor:
    """What ``extract_audio`` needs from an audio extractor: a front end (runs in workers) and a batched
    network call (main process). Other audio extractors registered later provide the same attributes."""

    name = "vggish"
    dim = EMBEDDING_DIM
    sample_rate = 16000

    def __init__(self, model: VGGish, embedding: str, pca=None, device: str = "cpu", meta: dict | None = None,
                 channels_last: bool = True):
        from zsltool.extract.audio import frontend

        self.model = model.to(device).eval()
        self.device = device
        self.channels_last = channels_last
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.embedding = embedding
        self.pca = pca
        self.meta = {"model": "vggish", "embedding": embedding, "channels": list(model.channels),
                     "hidden": model.hidden, "front_end": frontend.FRONTEND_META, **(meta or {})}
        if embedding == "pca-quantized":
            self.meta["quantized_storage"] = "dequantized: q * 4 / 255 - 2 (q = 8-bit code), as import-audioset"

    @staticmethod
    def examples(wave) -> Any:
        from zsltool.extract.audio import frontend

        return frontend.waveform_to_examples(wave)

    def embed_examples(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 96, 64) float32 examples -> (B, dim) on CPU."""
        x = x.to(self.device, non_blocking=True).unsqueeze(1)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return postprocess(self.model(x), self.embedding, self.pca).float().cpu()


def build(*, weights: str | None = None, embedding: str = "raw", pca_params: str | None = None,
          device: str = "cpu", width: float | None = None, seed: int = 0) -> VGGishExtractor:
    """The registered factory. ``width`` (tests, benchmarks) builds a randomly initialised network instead."""
    if embedding not in EMBEDDINGS:
        raise ZslError(f"unknown embedding {embedding!r}", hint=f"choose one of {', '.join(EMBEDDINGS)}")
    if width is not None:
        torch.manual_seed(seed)
        model, meta = VGGish(width=width), {"weights": f"random-init(width={width}, seed={seed})"}
    else:
        sd, meta = load_weights(weights)
        model = VGGish.from_state_dict(sd)
    pca = None
    if embedding in ("pca", "pca-quantized"):
        ev, mu, pmeta = load_pca(pca_params)
        pca, meta = (ev, mu), {**meta, **pmeta}
    return VGGishExtractor(model, embedding, pca=pca, device=device, meta=meta)
