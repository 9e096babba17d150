"""Turning class labels into word-vector look-ups (no heavy imports).

Rules (documented in docs/extract.md):

1. Parenthesised qualifiers are set aside: ``"Sink (filling or washing)"`` -> main ``"Sink"``, qualifier
   ``"filling or washing"`` (used only when no word of the main part is known).
2. The rest is split on ``,`` and ``;`` into names: ``"Chicken, rooster"`` -> ``["Chicken", "rooster"]``.
3. Each name is split into words on spaces, hyphens, slashes, ``&``, ``+`` and underscores; other
   punctuation is dropped, except apostrophes inside words (``"Children's"``; ``'s`` is dropped when the
   word is not known).
4. For each name: the phrase joined with ``_`` is tried first (``"Electric_guitar"``, ``"Electric_guitar"``
   lower-cased), then each word (as written, then lower case). Stop words (and, or, of, the, a, an, in, on,
   for, with, to, by, at, from) are skipped unless they are the whole name. Because the phrase is tried
   first, an underscore separates words only when the underscored form is unknown: ``sea_waves`` ->
   ``sea``, ``waves``, but GoogleNews' ``New_York`` stays one token.
5. A word that is unknown as written and in lower case and is written in CamelCase (``AirConditioner``,
   ``PlayingDaf``, ``HTTPServer``) is split at its case changes and looked up like a name of its own
   (phrase ``Air_Conditioner`` / ``air_conditioner`` first, then each part).
6. The class vector is the mean of the vectors of the distinct tokens found (each token once).

``RULES_VERSION`` names this rule set; ``extract-text`` records it (``extractor_meta["tokenizer"]``) so that
``zsl classify`` can tell whether it embeds new labels the same way.
"""

from __future__ import annotations

import re

RULES_VERSION = "zsl-label-tokens/2 (underscore and CamelCase splitting)"
STOP_WORDS = frozenset("and or of the a an in on for with to by at from".split())
_PAREN = re.compile(r"\(([^()]*)\)")
_SPLIT_NAMES = re.compile(r"[,;]")
_SPLIT_WORDS = re.compile(r"[\s\-/&+_]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_CLEAN = re.compile(r"[^\w']+", re.UNICODE)


def split_label(label: str) -> tuple[list[list[str]], list[list[str]]]:
    """``(names, qualifier_names)``: each a list of names, each name a list of words."""
    qualifiers = _PAREN.findall(label)
    main = _PAREN.sub(" ", label)

    def names_of(text: str) -> list[list[str]]:
        out = []
        for name in _SPLIT_NAMES.split(text):
            words = [_CLEAN.sub("", w).strip("'") for w in _SPLIT_WORDS.split(name)]
            words = [w for w in words if w]
            if words:
                out.append(words)
        return out

    qual = [n for q in qualifiers for n in names_of(q)]
    return names_of(main), qual


def _variants(token: str) -> list[str]:
    out = [token]
    if token.lower() != token:
        out.append(token.lower())
    if token.lower().endswith("'s"):
        out.extend([token[:-2], token[:-2].lower()])
    return list(dict.fromkeys(out))


def camel_parts(word: str) -> list[str]:
    """``"AirConditioner"`` -> ``["Air", "Conditioner"]``; ``[word]`` when it is not CamelCase."""
    parts = _CAMEL.findall(word)
    if len(parts) < 2 or "".join(parts) != word:
        return [word]
    return parts


def _lookup_name(words: list[str], has, camel: bool = True, dropped: list | None = None) -> list[str]:
    """Tokens for one name: the joined phrase if known, else its known words (CamelCase words split); the
    content words that none represents are appended to ``dropped``."""
    if len(words) > 1:
        for v in _variants("_".join(words)):
            if has(v):
                return [v]
    content = [w for w in words if w.lower() not in STOP_WORDS] or words
    found, lost = [], []
    for w in content:
        hit = next((v for v in _variants(w) if has(v)), None)
        parts = camel_parts(w) if hit is None and camel else [w]
        if hit is not None:
            found.append(hit)
        elif len(parts) > 1:
            sub: list[str] = []
            got = _lookup_name(parts, has, camel=False, dropped=sub)
            found.extend(got)
            lost.extend(sub if got else [w])
        else:
            lost.append(w)
    if dropped is not None:
        dropped.extend(lost)
    return found


def label_tokens(label: str, has, dropped: list | None = None) -> list[str]:
    """The distinct vocabulary tokens that represent ``label`` (empty when none is known).

    ``has(token) -> bool`` tells whether a token is in the vocabulary. ``dropped`` (a list) receives the words
    of the label that no token represents (stop words and unused parenthesised qualifiers aside).
    """
    names, qualifiers = split_label(label)
    tokens: list[str] = []
    lost: list[str] = []
    for words in names:
        tokens.extend(_lookup_name(words, has, dropped=lost))
    if not tokens:
        for words in qualifiers:
            tokens.extend(_lookup_name(words, has, dropped=lost))
    if not tokens and len(names) + len(qualifiers) > 0:
        # the whole label as one phrase, e.g. a vocabulary with "Sink_(filling_or_washing)"
        for v in _variants(label.strip().replace(" ", "_")):
            if has(v):
                tokens.append(v)
                lost = []
                break
    if dropped is not None:
        dropped.extend(dict.fromkeys(lost))
    return list(dict.fromkeys(tokens))


def dropped_words(label: str, tokens) -> list[str]:
    """The words of ``label`` that its ``tokens`` (what :func:`label_tokens` found) leave out: a label embedded
    from part of its words (``"Hissing dog"`` -> ``["dog"]`` when only ``hissing`` is known); empty when every
    word is represented, or when no token was found (the label is not embedded at all)."""
    if not tokens:
        return []
    lost: list[str] = []
    label_tokens(label, set(tokens).__contains__, dropped=lost)
    return lost
