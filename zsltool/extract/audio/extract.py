"""The audio side of the extractor contract: what every audio model shares (``zsltool.extract.pipeline.extract_audio``
runs it).

An audio extractor (VGGish, CNN14, CLAP, ...) subclasses :class:`AudioExtractor` and says only what is its
own: ``sample_rate``, ``min_samples`` (shorter clips are zero-padded to it and counted), ``examples(wave)``
(the worker-side front end: a waveform -> K examples, one array each) and ``embed_examples(x)`` (the network
on a batch of examples -> (K, dim)). Here, once for all of them: decoding, downmix and resampling in
DataLoader workers; examples of clips of the same shape pooled into one network call; the clip row is the
mean over its examples (``frames=True`` also stores the per-example rows).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from zsltool.errors import ZslError
from zsltool.extract.base import Extractor, ExtractorConfig, option
from zsltool.extract.runner import Item

log = logging.getLogger("zsltool.extract.audio")


@dataclass
class AudioConfig(ExtractorConfig):
    """What every audio extractor takes."""

    max_seconds: float | None = option(10.0, "Read at most this many seconds per clip.", positive=True)
    frames: bool = option(False, "Also store the per-example embeddings (in /frames).")


@dataclass
class AudioLoader:
    """Runs in a DataLoader worker: decode -> mono at the model's rate -> pad short clips -> examples."""

    max_seconds: float | None
    examples_fn: Callable[[np.ndarray], np.ndarray]
    sample_rate: int = 16000
    min_samples: int = 1

    def __call__(self, item: Item) -> dict:
        from zsltool.extract.audio.io import load_waveform

        # load_waveform refuses unreadable, empty, silent and non-finite audio
        wave, info = load_waveform(item.source, start=item.extra.get("start"), end=item.extra.get("end"),
                                   max_seconds=self.max_seconds, sample_rate=self.sample_rate)
        padded = wave.shape[0] < self.min_samples
        if padded:
            wave = np.concatenate([wave, np.zeros(self.min_samples - wave.shape[0], dtype=wave.dtype)])
        return {"id": item.id, "examples": self.examples_fn(wave), "padded": padded, "seconds": info["seconds"],
                "truncated_segment": info["truncated_segment"]}


class _Ids:
    """A count and the first 100 ids (memory stays bounded)."""

    def __init__(self):
        self.n, self.ids = 0, []

    def add(self, i: str) -> None:
        self.n += 1
        if len(self.ids) < 100:
            self.ids.append(i)


class AudioExtractor(Extractor):
    """Base of the audio extractors (see the module docstring)."""

    modality = "audio"
    unit = "clip"
    sample_rate: int = 16000
    min_samples: int = 1
    example: str = "clip"  # what one example is, for the file's metadata ("0.96 s", "whole clip")
    max_examples: int = 256  # examples per network call

    def __init__(self, config: AudioConfig, device: str = "cpu"):
        super().__init__(config, device)
        self.keeps_frames = bool(config.frames)
        self.padded, self.truncated, self.examples_seen = _Ids(), _Ids(), 0

    # what a model provides
    def examples(self, wave: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def embed_examples(self, x) -> Any:
        raise NotImplementedError

    def audio_meta(self) -> dict:
        return {}

    layout = ""  # the state-dict layout pretrain-audio saves (the model's published one)

    def trainable(self):
        """The network from a batch of examples to the embedding layer (with gradients), for pretrain-audio."""
        raise ZslError(f"--model {self.name} cannot be pretrained by zsl", hint="use --model vggish or cnn14")

    def describe_network(self) -> dict:
        return {}

    # the shared part
    def loader(self) -> AudioLoader:
        return AudioLoader(max_seconds=self.config.max_seconds, examples_fn=self.examples,
                           sample_rate=self.sample_rate, min_samples=self.min_samples)

    def embed(self, samples: list[dict]) -> list[dict]:
        import torch

        groups: dict[tuple, list[int]] = {}
        for i, s in enumerate(samples):
            groups.setdefault(tuple(s["examples"].shape[1:]), []).append(i)
        per_clip: list[Any] = [None] * len(samples)
        for idx in groups.values():
            allx = torch.from_numpy(np.concatenate([samples[i]["examples"] for i in idx]))
            with torch.inference_mode():
                emb = torch.cat([self.embed_examples(allx[j:j + self.max_examples])
                                 for j in range(0, allx.shape[0], self.max_examples)]).float().cpu().numpy()
            pos = 0
            for i in idx:
                n = samples[i]["examples"].shape[0]
                per_clip[i], pos = emb[pos:pos + n], pos + n
        out = []
        for s, e in zip(samples, per_clip):
            if s["padded"]:
                self.padded.add(s["id"])
            if s.get("truncated_segment"):
                self.truncated.add(s["id"])
            self.examples_seen += e.shape[0]
            out.append({"embedding": e.mean(axis=0), "frames": e if self.keeps_frames else None})
        return out

    def meta(self) -> dict:
        from zsltool.extract.audio.io import RESAMPLER

        return {"model": self.name, **self.audio_meta(), "max_seconds": self.config.max_seconds,
                "pooling": f"mean over examples ({self.example})", "sample_rate": self.sample_rate,
                "resampler": RESAMPLER, "downmix": "mean of channels",
                "short_clips": f"zero-padded to {self.min_samples} samples; counted in the run summary",
                "frames": bool(self.config.frames)}

    def notes(self) -> dict:
        return {"padded_short_clips": self.padded.n, "padded_ids": self.padded.ids,
                "truncated_segments": self.truncated.n, "truncated_ids": self.truncated.ids,
                "examples": self.examples_seen}
