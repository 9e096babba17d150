"""``cosine``: the training-free zero-shot baseline of joint audio–text models.

Since CLAP (Elizalde et al., "CLAP: learning audio concepts from natural language supervision", ICASSP 2023) and
LAION-CLAP (Wu et al., ICASSP 2023), zero-shot audio papers report the joint model itself: audio and class
embeddings already live in one space, so

    score(x, c) = s · cos(x, c)

with ``s`` the encoder's logit scale: CLAP's ``exp(logit_scale_a)``, the factor of its ``logits_per_audio``,
recorded by the CLAP extractor in the files' provenance (``extractor_meta["logit_scale"]``); 1 when no input
file records one. ``--arg scale=S`` sets it by hand. The softmax of these scores over the candidate labels is
CLAP's own zero-shot probability (Hugging Face's ``zero-shot-audio-classification`` pipeline), so a checkpoint
of this method keeps temperature 1 (no temperature is fitted).

Nothing is fitted: ``zsl train --method cosine`` writes a checkpoint without optimisation (a closed form with
nothing to solve), and the method is a row beside the trained ones in ``evaluate``, ``experiment``,
``classify`` and ``compare``. Inputs of two embedding spaces are refused (:func:`check_one_space`): other
dimensions, other extractor families (e.g. CLAP audio with word2vec classes) or the same family with other
weights (two CLAP models).
"""

from __future__ import annotations

import logging

import torch.nn.functional as F

from zsltool.errors import ZslError
from zsltool.methods.base import ZslMethod, check_modality, register_method

log = logging.getLogger("zsltool.methods")

# an extractor of class embeddings -> the audio extractor whose space it embeds into
JOINT_SPACES = {"clap-text": "clap"}
_UNKNOWN = ("", "unknown")


def space_family(extractor: str | None) -> str:
    """The embedding space an extractor's rows live in (audio prototypes keep their audio extractor's name)."""
    name = str(extractor or "")
    return JOINT_SPACES.get(name, name)


def _weights(meta) -> str:
    em = meta.extractor_meta or {}
    return str(em.get("weights_sha256") or "")


def check_one_space(audio, class_files, semantic_dim: int) -> None:
    """ZslError unless the audio file and every class-level file hold embeddings of one space: equal
    dimensions, one extractor family (where both files name theirs) and the same weights (where both record
    a sha256)."""
    if audio.dim != semantic_dim:
        raise ZslError(f"method 'cosine' compares audio and class embeddings in one space, but {audio.path} has "
                       f"{audio.dim}-d rows and the class embeddings are {semantic_dim}-d",
                       hint="use class embeddings of the audio model's own space (e.g. --model clap audio with "
                            "extract-text --model clap-text), or a trained method")
    fam_a = space_family(audio.meta.extractor)
    for e in class_files:
        fam_c = space_family(e.meta.extractor)
        if fam_a in _UNKNOWN or fam_c in _UNKNOWN:
            log.warning(f"cosine: {audio.path} or {e.path} does not record its extractor; assuming one space")
            continue
        if fam_a != fam_c:
            raise ZslError(f"method 'cosine' needs audio and class embeddings of one space, but {audio.path} was "
                           f"made by {audio.meta.extractor!r} and {e.path} by {e.meta.extractor!r}",
                           hint="embed the classes with the audio model's text side (--model clap audio with "
                                "extract-text --model clap-text), or use a trained method")
        wa, wc = _weights(audio.meta), _weights(e.meta)
        if wa and wc and wa != wc:
            raise ZslError(f"method 'cosine' needs one model's space, but {audio.path} and {e.path} were made with "
                           f"different {fam_a} weights (sha256 {wa[:12]}... vs {wc[:12]}...)",
                           hint="extract the class embeddings with the same --weights as the audio")


def logit_scale_of(files) -> tuple[float, str]:
    """The first recorded ``logit_scale`` of ``files`` (audio file first) and where it came from; (1, why)
    when none records one."""
    for e in files:
        v = (e.meta.extractor_meta or {}).get("logit_scale")
        if v is not None and float(v) > 0:
            return float(v), f"the logit scale recorded in {e.path}"
    return 1.0, "1 (no input file records a logit scale)"


@register_method("cosine")
class Cosine(ZslMethod):
    """score = scale × cosine(audio, class embedding); nothing to train."""

    closed_form = True
    training_free = True
    modalities = ("audio",)
    defaults = {"scale": 1.0}
    train_defaults = {**ZslMethod.train_defaults, "epochs": 1}

    def __init__(self, **kw):
        super().__init__(**kw)
        if self.audio_dim != self.semantic_dim:
            raise ZslError(f"method 'cosine' needs audio and class embeddings of one space, got {self.audio_dim}-d "
                           f"audio and {self.semantic_dim}-d class embeddings", hint="use a trained method")
        if not float(self.args["scale"]) > 0:
            raise ZslError(f"method 'cosine': argument scale={self.args['scale']!r} must be above 0",
                           hint="the default is the encoder's logit scale (CLAP's), else 1")
        moved = [k for k in ("zscore", "center_classes") if self.args.get(k)]
        if moved:
            raise ZslError(f"method 'cosine' compares embeddings in their own space; {', '.join(moved)} would move "
                           "them out of it", hint="leave feature scaling off for cosine")

    @classmethod
    def args_from_inputs(cls, inputs) -> dict:
        check_one_space(inputs.audio, inputs.semantic.files, inputs.semantic.dim)
        scale, source = logit_scale_of([inputs.audio, *inputs.semantic.files])
        log.info(f"cosine: scores scaled by {scale:g}, {source}")
        return {"scale": scale}

    def fit_closed_form(self, audio, semantic_per_row, labels, class_emb, video=None, **kw) -> None:
        """Nothing to fit."""

    def scores(self, class_emb, audio=None, video=None, modality="both", audio_valid=None, video_valid=None):
        check_modality(self, modality, audio, None)
        return float(self.args["scale"]) * (F.normalize(audio, dim=1) @ F.normalize(class_emb, dim=1).T)

    def embedders(self):
        return {"class": lambda c: F.normalize(c, dim=1), "audio": lambda x: F.normalize(x, dim=1)}
