"""CLAP (Elizalde et al. 2023; LAION-CLAP, Wu et al. 2023) through ``transformers``' ``ClapModel``: audio
embeddings (``--model clap`` of extract-audio) and text embeddings of class labels or descriptions
(``--model clap-text`` of extract-text) in the same joint space, so a label list alone describes classes.

Weights: a Hugging Face model id (default ``laion/clap-htsat-unfused``, downloaded once into the Hugging Face
cache) or a local folder saved with ``save_pretrained`` (config, weights, feature extractor, tokenizer).
The weights file's sha256 is recorded, so a file's extractor can be rebuilt and checked
(:func:`zsltool.extract.registry.extractor_from_provenance`).

Audio: decoded to 48 kHz mono in workers, cut to the feature extractor's ``max_length_s`` (10 s; CLAP's
truncation of longer clips is random, so zsl keeps the first 10 s) and turned into its log-mel features
(repeat-padded); the row is ``get_audio_features`` (the L2-normalised projection). Text: the label through
``--prompt`` (``This is a sound of {}.``), or the description, through ``get_text_features``. Both files record
the model's logit scale (``logit_scale``: ``exp(logit_scale_a)``), which the training-free ``cosine`` method
multiplies the cosine by, as CLAP's ``logits_per_audio`` does.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from zsltool.errors import ZslError
from zsltool.extract.audio.extract import AudioExtractor
from zsltool.extract.text import TextExtractor
from zsltool.extract.weights import local_record
from zsltool.files.provenance import sha256_file

_LOADED: dict[tuple, tuple] = {}


def load_clap(name: str, device: str = "cpu", part: str = "audio"):
    """``(ClapModel in eval mode, feature extractor or tokenizer, provenance record)``; cached per process."""
    key = (name, device, part)
    if key in _LOADED:
        return _LOADED[key]
    try:
        import transformers
        from transformers import AutoFeatureExtractor, AutoTokenizer, ClapModel
    except ImportError:
        raise ZslError("--model clap needs the transformers package", hint="pip install 'zsltool[clap]'") from None
    transformers.utils.logging.disable_progress_bar()  # progress and logs go through zsl's own
    try:
        model = ClapModel.from_pretrained(name).to(device).eval()
        pre = (AutoFeatureExtractor if part == "audio" else AutoTokenizer).from_pretrained(name)
    except (OSError, ValueError) as e:
        raise ZslError(f"cannot load CLAP model {name!r} ({type(e).__name__}: {str(e)[:200]})",
                       hint="give a local folder saved with save_pretrained as --weights PATH, or run once with "
                            "internet so the Hugging Face cache holds it") from None
    folder = Path(name) if Path(name).is_dir() else None
    if folder is None:  # a hub id: the snapshot folder in the Hugging Face cache
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(name, local_files_only=True))
        except Exception:  # noqa: BLE001 - no local snapshot: no digest
            folder = None
    wfile = next((folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()),
                 None) if folder else None
    record = {"weights": str(name), "weights_sha256": sha256_file(wfile) if wfile else "",
              "transformers": transformers.__version__, "logit_scale": logit_scale(model)}
    if folder is not None and Path(name).is_dir():
        record["weights_path"] = str(wfile) if wfile else str(folder)
    _LOADED[key] = (model, pre, record)
    return _LOADED[key]


def logit_scale(model) -> float:
    """CLAP's zero-shot scale: ``exp(logit_scale_a)``, the factor of ``logits_per_audio`` (audio · text
    cosine); the ``cosine`` method scores with it (zsltool.methods.cosine)."""
    return float(model.logit_scale_a.detach().exp())


def _features(out) -> Any:
    """``get_*_features`` returns a tensor (transformers 4) or an output whose ``pooler_output`` it is (5)."""
    return out if hasattr(out, "shape") else out.pooler_output


class ClapAudioExtractor(AudioExtractor):
    """CLAP's audio tower and projection through the audio extractor contract."""

    sample_rate = 48000
    example = "whole clip (first 10 s, repeat-padded)"
    max_examples = 8

    def __init__(self, config, device: str = "cpu"):
        super().__init__(config, device)
        self.model, self.fe, self.record = load_clap(config.weights or self.spec.default_weights, device, "audio")
        self.sample_rate = int(self.fe.sampling_rate)
        self.fusion = bool(getattr(self.model.config.audio_config, "enable_fusion", False))
        self.dim = int(self.model.config.projection_dim)
        self.weight_records = local_record(self.record)

    def examples(self, wave: np.ndarray) -> np.ndarray:
        """48 kHz waveform -> CLAP's input features (1, channels, frames, mel), in the workers."""
        fe = self.fe
        n = int(fe.max_length_s * fe.sampling_rate)  # no longer than that: no random crop
        f = fe(np.asarray(wave[:n], dtype=np.float32), sampling_rate=fe.sampling_rate,
               truncation="fusion" if self.fusion else "rand_trunc", return_tensors="np")
        return np.asarray(f["input_features"], dtype=np.float32)

    def embed_examples(self, x) -> Any:
        import torch

        x = x.to(self.device, torch.float32)
        is_longer = torch.zeros((x.shape[0], 1), dtype=torch.bool, device=self.device)
        return _features(self.model.get_audio_features(input_features=x, is_longer=is_longer)).float().cpu()

    def audio_meta(self) -> dict:
        fe = self.fe
        return {**self.record, "front_end": {"sample_rate": fe.sampling_rate, "mel_bands": fe.feature_size,
                                             "hop": fe.hop_length, "fft": fe.fft_window_size,
                                             "max_length_s": fe.max_length_s, "padding": "repeatpad",
                                             "fusion": self.fusion},
                "embedding": "get_audio_features (L2-normalised projection)"}


class ClapTextExtractor(TextExtractor):
    """CLAP's text tower and projection: class labels (through ``--prompt``) or descriptions."""

    batch_size = 64

    def __init__(self, config, device: str = "cpu"):
        super().__init__(config, device)
        self.model, self.tokenizer, self.record = load_clap(config.weights or self.spec.default_weights, device,
                                                            "text")
        self.dim = int(self.model.config.projection_dim)
        self.weight_records = local_record(self.record)

    def texts(self, entries) -> list[str]:
        if self.config.text == "label":
            return [self.config.prompt.format(e.name) if e.name.strip() else "" for e in entries]
        return [e.description for e in entries]

    def encode(self, texts):
        import torch

        out = []
        for b in range(0, len(texts), self.batch_size):
            tok = self.tokenizer(texts[b:b + self.batch_size], padding=True, truncation=True, return_tensors="pt")
            with torch.inference_mode():
                out.append(_features(self.model.get_text_features(
                    input_ids=tok["input_ids"].to(self.device), attention_mask=tok["attention_mask"].to(self.device))))
        return torch.cat(out).float().cpu().numpy()

    def meta(self) -> dict:
        return {"model": "clap-text", "prompt": self.config.prompt, **self.record}
