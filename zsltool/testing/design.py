"""The latent structure of the demo's sound classes: described attributes and their combinations.

Every demo class is one combination of three attribute values:

- **pitch** (what sounds): a low hum (~200 Hz), a mid-pitched tone (~700 Hz), a high whistle (~2.4 kHz);
- **pattern** (when it sounds): steady, fast clicking (~10 per s), slow knocking (~2 per s), pulsing (~4 per s);
- **timbre** (how it sounds): pure (a tone and a weak harmonic), hissing (band-limited noise around the
  pitch), rising chirps, falling sweeps.

The audio (``sounds.py``), images and videos (``images.py``, ``video.py``) and word vectors
(``words.py``) are all drawn from these attributes, so the side information of an unseen class
predicts its sound. ``choose_split`` holds out classes only when each of their attribute values occurs
in at least two training classes: zero-shot accuracy is above chance because the attributes transfer,
not because anything about the unseen classes leaks into training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np

from zsltool.errors import ZslError

GROUPS = ("pitch", "pattern", "timbre")


@dataclass(frozen=True)
class Attribute:
    group: str  # pitch | pattern | timbre
    key: str  # machine key, e.g. "high"
    word: str  # the one word used in class names and word vectors, e.g. "whistle"
    phrase: str  # how a description says it, e.g. "a high whistle"
    synonyms: tuple[str, ...] = ()  # description words that mean the same (near the word's vector)


ATTRIBUTES: dict[str, tuple[Attribute, ...]] = {
    "pitch": (
        Attribute("pitch", "low", "hum", "a low hum", ("low", "deep", "humming")),
        Attribute("pitch", "mid", "tone", "a mid-pitched tone", ("mid", "middle", "medium")),
        Attribute("pitch", "high", "whistle", "a high whistle", ("high", "shrill", "whistling")),
    ),
    "pattern": (
        Attribute("pattern", "steady", "steady", "held steady", ("continuous", "constant", "held")),
        Attribute("pattern", "clicking", "clicking", "with fast clicking", ("fast", "clicks", "ticking")),
        Attribute("pattern", "knocking", "knocking", "with slow knocking", ("slow", "knocks", "thudding")),
        Attribute("pattern", "pulsing", "pulsing", "that pulses up and down", ("pulses", "throbbing", "wavering")),
    ),
    "timbre": (
        Attribute("timbre", "pure", "pure", "pure", ("clean", "clear", "tonal")),
        Attribute("timbre", "hissing", "hissing", "hissing", ("noisy", "hiss", "breathy")),
        Attribute("timbre", "rising", "rising", "in rising chirps", ("chirps", "upward", "chirping")),
        Attribute("timbre", "falling", "falling", "in falling sweeps", ("sweeps", "downward", "descending")),
    ),
}

# The small setting (tests): 2 pitches x 3 patterns x 3 timbres = 18 classes.
SMALL_KEYS = {"pitch": ("low", "high"), "pattern": ("steady", "clicking", "knocking"),
              "timbre": ("pure", "hissing", "rising")}


def attribute(group: str, key: str) -> Attribute:
    for a in ATTRIBUTES[group]:
        if a.key == key:
            return a
    raise ZslError(f"unknown {group} attribute {key!r}",
                   hint="choose one of: " + ", ".join(a.key for a in ATTRIBUTES[group]))


@dataclass(frozen=True)
class SoundClass:
    """One demo class: a combination of attribute values, with a name and a one-sentence description."""

    attributes: tuple[tuple[str, str], ...]  # ((group, key), ...) in GROUPS order
    id: str = field(init=False)
    name: str = field(init=False)
    description: str = field(init=False)

    def __post_init__(self):
        a = self.attrs
        pitch, pattern, timbre = (attribute(g, a[g]) for g in GROUPS)
        name = f"{timbre.word.capitalize()} {pattern.word} {pitch.word}"
        if timbre.key in ("pure", "hissing"):
            head = f"{pitch.phrase.split(' ', 1)[0]} {timbre.phrase} {pitch.phrase.split(' ', 1)[1]}"
        else:
            head = f"{pitch.phrase} {timbre.phrase}"
        desc = f"{head[0].upper()}{head[1:]} {pattern.phrase}."
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "id", name)  # class ids are the names for non-AudioSet sets
        object.__setattr__(self, "description", desc)

    @property
    def attrs(self) -> dict[str, str]:
        return dict(self.attributes)

    @property
    def words(self) -> list[str]:
        """The attribute words of the class name (pitch, pattern, timbre)."""
        return [attribute(g, self.attrs[g]).word for g in GROUPS]

    @property
    def slug(self) -> str:
        return self.name.lower().replace(" ", "-")

    def to_class_record(self) -> dict:
        """A class-set entry (``zsl.classset`` ``classes`` item), exactly as ``zsl build-classes --from-list
        classes.csv --name-column name --id-column id`` writes it, so both give the same class-set hash.
        Descriptions and attributes live in ``classes.csv`` / ``descriptions.csv``."""
        return {"id": self.id, "name": self.name, "audioset_name": None, "openimages_name": None,
                "merged_ids": [], "category": None, "path": [self.name]}


def class_design(small: bool = False) -> list[SoundClass]:
    """All attribute combinations: 3 x 4 x 4 = 48 classes, or 2 x 3 x 3 = 18 with ``small``."""
    keys = {g: (SMALL_KEYS[g] if small else tuple(a.key for a in ATTRIBUTES[g])) for g in GROUPS}
    return [SoundClass(tuple(zip(GROUPS, combo))) for combo in product(*(keys[g] for g in GROUPS))]


def shared_attributes(a: SoundClass, b: SoundClass) -> int:
    return sum(a.attrs[g] == b.attrs[g] for g in GROUPS)


def covered(held_out: list[SoundClass], train: list[SoundClass], min_count: int = 2) -> bool:
    """True when every attribute value of every held-out class occurs in >= min_count training classes."""
    return all(sum(t.attrs[g] == c.attrs[g] for t in train) >= min_count for c in held_out for g in GROUPS)


def choose_split(classes: list[SoundClass], *, n_val: int, n_test: int, seed: int = 0,
                 min_count: int = 2, max_tries: int = 1000) -> tuple[list[str], list[str], list[str]]:
    """Seeded disjoint train / val / test class ids; val and test classes are new combinations of
    attribute values that each occur in at least ``min_count`` training classes."""
    if n_val + n_test >= len(classes):
        raise ZslError(f"cannot hold out {n_val} + {n_test} of {len(classes)} classes")
    rng = np.random.default_rng([seed, 7919])
    for _ in range(max_tries):
        order = rng.permutation(len(classes))
        test = [classes[i] for i in order[:n_test]]
        val = [classes[i] for i in order[n_test:n_test + n_val]]
        train = [classes[i] for i in order[n_test + n_val:]]
        if covered(test + val, train, min_count):
            keep = {c.id: i for i, c in enumerate(classes)}  # keep the design order inside each set

            def ids(cs):
                return [c.id for c in sorted(cs, key=lambda c: keep[c.id])]

            return ids(train), ids(val), ids(test)
    raise ZslError(f"no split of {len(classes)} classes holds out {n_val}+{n_test} classes whose attributes "
                   f"all occur in {min_count} training classes", hint="hold out fewer classes")
