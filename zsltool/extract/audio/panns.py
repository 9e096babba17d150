"""PANNs CNN14 (Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio Pattern
Recognition", IEEE/ACM TASLP 2020): the published ``Cnn14`` in the layout of its released checkpoints
(qiuqiangkong/audioset_tagging_cnn, Zenodo record 3987831), so ``Cnn14_mAP=0.431.pth`` loads as is.

Front end (inside the network, as published): 32 kHz mono waveform -> STFT as two Conv1d layers
(``spectrogram_extractor.stft.conv_real`` / ``conv_imag``: 1024-point DFT rows times a periodic Hann window,
hop 320, centred with reflect padding) -> power -> 64 Slaney mel bands from 50 to 14000 Hz
(``logmel_extractor.melW``, 513 x 64) -> ``10 log10(max(mel, 1e-10))`` (ref 1.0, no top_db).
Network: ``bn0`` (BatchNorm over the 64 mel bands) -> six conv blocks (``conv_block1..6``: two 3x3 convs
without bias, each with BatchNorm and ReLU; 64, 128, 256, 512, 1024, 2048 channels; 2x2 average pooling after
blocks 1-5) -> mean over mel bands -> max + mean over time -> ``fc1`` (2048 -> 2048) + ReLU = the
2048-d embedding; ``fc_audioset`` (2048 -> 527, sigmoid) gives AudioSet tags. Dropout and SpecAugment are
training-only and have no weights.

A clip is one example: the row is the embedding of the whole clip (up to ``--max-seconds``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from zsltool.errors import ZslError
from zsltool.extract.audio.extract import AudioExtractor
from zsltool.extract.weights import is_random, load_state_dict, load_weights_for, local_record

SAMPLE_RATE = 32000
N_FFT = 1024
HOP = 320
N_MELS = 64
FMIN, FMAX = 50.0, 14000.0
AMIN = 1e-10
CHANNELS = (64, 128, 256, 512, 1024, 2048)
EMBEDDING_DIM = 2048
AUDIOSET_CLASSES = 527
CNN14_HINT = "use Cnn14_mAP=0.431.pth or weights saved by zsl pretrain-audio --model cnn14"
FRONTEND_META = {"sample_rate": SAMPLE_RATE, "n_fft": N_FFT, "hop": HOP, "window": "periodic hann",
                 "center": "reflect", "power": 2.0, "mel_bands": N_MELS, "mel_hz": [FMIN, FMAX],
                 "mel_scale": "slaney (librosa default, norm=slaney)", "log": "10 log10(max(mel, 1e-10))"}


def dft_kernels(n_fft: int = N_FFT) -> tuple[torch.Tensor, torch.Tensor]:
    """(real, imag) Conv1d weights (n_fft // 2 + 1, 1, n_fft): ``cos`` / ``-sin`` of the DFT rows times a
    periodic Hann window, so the convolution of a frame gives its windowed DFT."""
    n = np.arange(n_fft)
    k = np.arange(n_fft // 2 + 1)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
    angle = 2 * np.pi * k * n / n_fft
    real = torch.tensor(np.cos(angle) * window, dtype=torch.float32)[:, None, :]
    imag = torch.tensor(-np.sin(angle) * window, dtype=torch.float32)[:, None, :]
    return real, imag


def slaney_mel(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = FMIN,
               fmax: float = FMAX) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) Slaney-normalised triangular mel filters on the Slaney mel scale."""
    import torchaudio

    return torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, fmin, fmax, n_mels, sr, norm="slaney",
                                                 mel_scale="slaney").float()


class _STFT(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_real = nn.Conv1d(1, N_FFT // 2 + 1, N_FFT, stride=HOP, bias=False)
        self.conv_imag = nn.Conv1d(1, N_FFT // 2 + 1, N_FFT, stride=HOP, bias=False)
        real, imag = dft_kernels()
        self.conv_real.weight = nn.Parameter(real, requires_grad=False)
        self.conv_imag.weight = nn.Parameter(imag, requires_grad=False)


class _Spectrogram(nn.Module):
    def __init__(self):
        super().__init__()
        self.stft = _STFT()

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, L) -> (B, 1, frames, 513) power spectrogram; frames = 1 + L // 320."""
        x = F.pad(wave[:, None, :], (N_FFT // 2, N_FFT // 2), mode="reflect")
        real, imag = self.stft.conv_real(x), self.stft.conv_imag(x)  # (B, 513, frames)
        return (real ** 2 + imag ** 2).transpose(1, 2)[:, None]


class _LogMel(nn.Module):
    def __init__(self):
        super().__init__()
        self.melW = nn.Parameter(slaney_mel(), requires_grad=False)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        return 10.0 * torch.log10(torch.clamp(power @ self.melW, min=AMIN))


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.avg_pool2d(x, pool) if pool > 1 else x


class Cnn14(nn.Module):
    """The published CNN14; ``width`` scales the channels (1.0 = published; smaller for tests and benchmarks)."""

    def __init__(self, classes: int = AUDIOSET_CLASSES, width: float = 1.0):
        super().__init__()
        chans = [max(1, int(round(c * width))) for c in CHANNELS]
        self.spectrogram_extractor = _Spectrogram()
        self.logmel_extractor = _LogMel()
        self.bn0 = nn.BatchNorm2d(N_MELS)
        cin = 1
        for i, c in enumerate(chans, start=1):
            setattr(self, f"conv_block{i}", ConvBlock(cin, c))
            cin = c
        self.fc1 = nn.Linear(cin, cin)
        self.fc_audioset = nn.Linear(cin, classes)
        self.channels, self.dim = chans, cin

    def logmel(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, L) waveform at 32 kHz -> (B, 1, frames, 64) log-mel."""
        return self.logmel_extractor(self.spectrogram_extractor(wave))

    def embedding(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, L) -> (B, 2048): the ``embedding`` output of the published model (after fc1 and ReLU)."""
        x = self.logmel(wave).transpose(1, 3)
        x = self.bn0(x).transpose(1, 3)
        for i in range(1, 7):
            x = getattr(self, f"conv_block{i}")(x, 2 if i < 6 else 1)
            x = F.dropout(x, p=0.2, training=self.training)
        x = x.mean(dim=3)
        x = x.max(dim=2).values + x.mean(dim=2)
        x = F.dropout(x, p=0.5, training=self.training)
        return F.relu(self.fc1(x))

    forward = embedding

    @classmethod
    def from_state_dict(cls, sd: dict, source: str = "the weights") -> "Cnn14":
        """The network whose sizes match ``sd`` (published key layout), loaded strictly."""
        if not isinstance(sd, dict) or "conv_block1.conv1.weight" not in sd or "fc1.weight" not in sd:
            raise ZslError(f"{source} do not have the PANNs Cnn14 layout (conv_block1..6, fc1, fc_audioset)",
                           hint=CNN14_HINT)
        width = int(sd["conv_block1.conv1.weight"].shape[0]) / CHANNELS[0]
        head = sd.get("fc_audioset.weight")
        model = cls(classes=int(head.shape[0]) if head is not None else AUDIOSET_CLASSES, width=width)
        own = model.state_dict()
        missing = [k for k in own if k not in sd and not k.startswith("fc_audioset.")]
        unexpected = [k for k in sd if k not in own]
        shapes = [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
        if missing or unexpected or shapes:
            raise ZslError(f"{source} do not fit Cnn14: " + "; ".join(
                p for p in (f"missing {', '.join(missing[:4])}" if missing else "",
                            f"unexpected {', '.join(unexpected[:4])}" if unexpected else "",
                            f"other shapes for {', '.join(shapes[:4])}" if shapes else "") if p))
        model.load_state_dict(sd, strict=head is not None)
        return model


def load_checkpoint(path) -> dict:
    """The state dict of a released checkpoint (``{"model": state_dict, "sampler": ...}``: numeric numpy arrays
    allowed, nothing else unpickled) or of a plain state dict."""
    return load_state_dict(path, "PANNs CNN14 weights file", hint=CNN14_HINT)


class Cnn14Extractor(AudioExtractor):
    """CNN14 through the audio extractor contract: decode at 32 kHz in workers, the whole clip through the
    network (front end included), the 2048-d embedding per clip."""

    dim = EMBEDDING_DIM
    sample_rate = SAMPLE_RATE
    min_samples = SAMPLE_RATE  # clips under 1 s are zero-padded to 1 s (the network pools 32x in time)
    example = "whole clip"
    max_examples = 8
    layout = "PANNs Cnn14 state dict (spectrogram_extractor.*, logmel_extractor.*, bn0, conv_block1..6, fc1, fc_audioset)"

    def __init__(self, config, device: str = "cpu"):
        super().__init__(config, device)
        if is_random(config.weights):
            self.model, self.record = Cnn14(width=config.width), {"weights": "random"}
        else:
            sd, self.record = load_weights_for(self.spec, config.weights, "PANNs CNN14 weights", hint=CNN14_HINT)
            self.model = Cnn14.from_state_dict(sd, f"weights {config.weights}")
        self.weight_records = local_record(self.record)
        self.dim = self.model.dim
        self.model = self.model.to(device).eval()

    def examples(self, wave: np.ndarray) -> np.ndarray:
        return np.asarray(wave, dtype=np.float32)[None, :]

    def embed_examples(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.embedding(x.to(self.device, torch.float32)).float().cpu()

    def trainable(self) -> nn.Module:
        return self.model

    def describe_network(self) -> dict:
        return {"width": self.config.width, "channels": list(self.model.channels)}

    def audio_meta(self) -> dict[str, Any]:
        return {"front_end": FRONTEND_META, "channels": list(self.model.channels),
                "embedding": "fc1 + ReLU (2048-d)", **self.record}
