"""A tiny CLAP model made on the spot, offline (for tests and examples).

``make_tiny_clap(folder, words)`` writes a ``save_pretrained`` folder that ``transformers``' ``ClapModel``,
its ``pipeline("zero-shot-audio-classification")`` and zsl's ``--model clap`` / ``clap-text`` load without any
network: a 1-layer RoBERTa-like text tower over a word-level tokenizer (lower-cased ``words``), a small HTSAT
audio tower (unfused), an 8-d joint space, weights drawn from ``seed``, and a feature extractor of
``max_length_s`` seconds with the truncation an unfused model needs (``rand_trunc``; the default ``fusion``
feeds 4 channels that an unfused model refuses). Its embeddings mean nothing; the code path is the real one.
"""

from __future__ import annotations

import os
from pathlib import Path

SPECIAL = ["<s>", "<pad>", "</s>", "<unk>"]  # <pad> = 1: RoBERTa's padding_idx (its position ids skip it)


def make_tiny_clap(folder: str | os.PathLike, words, *, dim: int = 8, seed: int = 0, max_length_s: float = 2):
    """Write the tiny model to ``folder``; returns ``(folder, the ClapModel in eval mode)``."""
    import torch
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import (ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig,
                              PreTrainedTokenizerFast)

    folder = Path(folder)
    vocab = {t: i for i, t in enumerate(SPECIAL)}
    for w in words:
        vocab.setdefault(w.lower(), len(vocab))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        text = ClapTextConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=32, max_position_embeddings=40, projection_dim=dim)
        audio = ClapAudioConfig(patch_embeds_hidden_size=8, hidden_size=64, depths=[1, 1, 1, 1],
                                num_attention_heads=[1, 1, 1, 1], projection_dim=dim, spec_size=256, window_size=8)
        model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(),
                                     projection_dim=dim)).eval()
    model.save_pretrained(folder)
    ClapFeatureExtractor(max_length_s=max_length_s, truncation="rand_trunc").save_pretrained(folder)
    tk = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tk.normalizer = normalizers.Lowercase()
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                            unk_token="<unk>").save_pretrained(folder)
    return folder, model
