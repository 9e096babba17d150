"""A tiny sentence-transformers model made on the spot, offline (for tests and examples).

``make_tiny_sentence_model(folder, words, dim=16, seed=0)`` writes a folder that
``SentenceTransformer(folder)`` (and so ``zsl extract-text --model sentence --sentence-model FOLDER``)
loads without any network: a word-level tokenizer over ``words``, a 2-layer BERT of width ``dim`` with
weights drawn from ``seed``, and mean pooling, exactly the module layout of all-MiniLM-L6-v2
(Transformer -> Pooling(mean) -> Normalize). Its vectors mean nothing; the code path is the real one.
"""

from __future__ import annotations

import os
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_tiny_sentence_model(folder: str | os.PathLike, words, *, dim: int = 16, seed: int = 0,
                             normalize: bool = True) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = Path(folder)
    raw = folder / "_bert"
    raw.mkdir(parents=True, exist_ok=True)
    vocab = {t: i for i, t in enumerate(SPECIAL)}
    for w in words:
        vocab.setdefault(w.lower(), len(vocab))
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)
    fast.save_pretrained(raw)
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=dim, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=2 * dim, max_position_embeddings=64)
    BertModel(cfg).eval().save_pretrained(raw)
    tr = models.Transformer(str(raw), max_seq_length=64)
    mods = [tr, models.Pooling(tr.get_embedding_dimension(), pooling_mode="mean")]
    if normalize:
        mods.append(models.Normalize())
    st = SentenceTransformer(modules=mods, device="cpu")
    out = folder / "model"
    st.save(str(out))
    return out
