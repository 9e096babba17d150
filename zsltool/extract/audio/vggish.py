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

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zsltool.errors import ZslError
from zsltool.extract.audio import frontend
from zsltool.extract.audio.extract import AudioExtractor
from zsltool.extract.audio.frontend import MIN_SAMPLES, waveform_to_examples
from zsltool.extract.catalog import VGGISH_EMBEDDINGS as EMBEDDINGS, VGGISH_WEIGHTS  # noqa: F401 (EMBEDDINGS)
from zsltool.extract.registry import build_extractor
from zsltool.extract.weights import fetch_file, is_random, load_weights_for, local_record
from zsltool.files.checks import torch_load

VGGISH_URL, PCA_URL = VGGISH_WEIGHTS.url, VGGISH_WEIGHTS.meta["pca_params"]  # the registered release
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
    def from_state_dict(cls, sd: dict, source: str = "the weights") -> "VGGish":
        """Build the network whose sizes match ``sd`` (port layout) and load it strictly."""
        check_state_dict(sd, source)
        chans = tuple(int(sd[f"features.{k}.weight"].shape[0]) for k in CONV_KEYS)
        with torch.device("meta"):  # no random initialisation, no second copy: the loaded tensors are the model's
            model = cls(channels=chans, hidden=int(sd["embeddings.0.weight"].shape[0]))
        ref = model.state_dict()
        for k, v in sd.items():
            if v.shape != ref[k].shape:
                raise ZslError(f"the weights' {k} has shape {tuple(v.shape)}, expected {tuple(ref[k].shape)}")
        model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True, assign=True)
        return model


def fused_conv_relu_available(device) -> bool:
    """Whether oneDNN's fused convolution + ReLU (the kernel torch.compile's CPU backend calls) is here."""
    if str(device) != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    return hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def fused_forward(model: VGGish, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` for inference on the CPU with each convolution and its ReLU as one oneDNN call (the same
    arithmetic, one pass over each feature map less: 3-6% less CPU time, benchmarks/RESULTS.md)."""
    conv_relu = torch.ops.mkldnn._convolution_pointwise
    h = x
    for layer in model.features:
        if isinstance(layer, nn.Conv2d):
            h = conv_relu(h, layer.weight, layer.bias, list(layer.padding), list(layer.stride),
                          list(layer.dilation), layer.groups, "relu", [], "")
        elif not isinstance(layer, nn.ReLU):  # each ReLU is in its convolution
            h = layer(h)
    h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)
    return model.embeddings(h)


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
def _read_pca_file(path: Path) -> dict:
    """The arrays of a PCA parameter file: the torchvggish release (a dict of numpy arrays saved with torch.save;
    numeric arrays only, nothing else is unpickled) or AudioSet's original ``vggish_pca_params.npz``
    (``allow_pickle=False``)."""
    import zipfile

    hint = ("--pca-params needs torchvggish's vggish_pca_params-970ea276.pth or AudioSet's "
            "vggish_pca_params.npz")
    names: list[str] = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
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
    spec = spec or PCA_URL
    path, digest = fetch_file(spec, "VGGish PCA parameters")
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


class VGGishExtractor(AudioExtractor):
    """VGGish through the audio extractor contract: the log-mel front end in workers, the network on batches
    of 0.96 s examples, then ``--embedding`` (raw, relu, pca, pca-quantized)."""

    dim = EMBEDDING_DIM
    sample_rate = 16000
    min_samples = MIN_SAMPLES
    example = "0.96 s log-mel examples"

    def __init__(self, config, device: str = "cpu", model: VGGish | None = None, record: dict | None = None):
        super().__init__(config, device)
        if model is None and is_random(config.weights):
            model, record = VGGish(width=config.width), {"weights": "random"}
        elif model is None:
            sd, record = load_weights_for(self.spec, config.weights, "VGGish weights", hint="--weights needs a "
                                          "torch state dict (torchvggish layout, or made by zsl pretrain-audio)")
            model = VGGish.from_state_dict(sd, f"weights {record['weights']}")
        self.record = record or {}
        self.weight_records = local_record(self.record)
        self.embedding = config.embedding
        self.pca = None
        if self.embedding in ("pca", "pca-quantized"):
            ev, mu, pmeta = load_pca(config.pca_params)
            self.pca, self.record = (ev, mu), {**self.record, **pmeta}
        self.model = model.to(device).eval().to(memory_format=torch.channels_last)
        self.channels, self.hidden = model.channels, model.hidden
        self.fused = fused_conv_relu_available(device)

    layout = "torchvggish state dict (features.*, embeddings.*)"

    def examples(self, wave) -> np.ndarray:
        return waveform_to_examples(wave)

    def trainable(self) -> nn.Module:
        """The network from examples (B, 96, 64) to the raw 128-d layer, for pretrain-audio (trained in the
        default memory format: channels-last is for inference speed)."""
        return self.model.to(memory_format=torch.contiguous_format)

    def describe_network(self) -> dict:
        return {"width": self.config.width, "channels": list(self.channels), "hidden": self.hidden}

    def embed_examples(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 96, 64) float32 examples -> (B, dim) on CPU."""
        x = x.to(self.device, non_blocking=True).unsqueeze(1).contiguous(memory_format=torch.channels_last)
        raw = fused_forward(self.model, x) if self.fused and not torch.is_grad_enabled() else self.model(x)
        return postprocess(raw, self.embedding, self.pca).float().cpu()

    def audio_meta(self) -> dict:
        m = {"embedding": self.embedding, "channels": list(self.channels), "hidden": self.hidden,
             "front_end": frontend.FRONTEND_META, **self.record}
        if self.embedding == "pca-quantized":
            m["quantized_storage"] = "dequantized: q * 4 / 255 - 2 (q = 8-bit code), as import-audioset"
        return m


def build(*, width: float | None = None, seed: int = 0, device: str = "cpu", **options) -> VGGishExtractor:
    """The registered ``vggish`` extractor from config options; ``width`` (tests, benchmarks) builds a randomly
    initialised network of that width (seeded) instead of loading weights."""
    if width is None:
        return build_extractor("vggish", device=device, **options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        ex = build_extractor("vggish", device=device, **{**options, "weights": "random", "width": width})
    ex.weights_seed = seed  # recorded in the files it writes: the network is drawn again from it
    return ex
