"""Named presets from the papers: class names and category membership of Dogan et al. (Tables I and II).

The paper's tables use short lower-case names. All but two are the Open Images names in lower case;
``hand`` is Open Images "Human hand" (AudioSet "Hands") and ``bike`` is "Bicycle".
"""

from __future__ import annotations

from zsltool.errors import ZslError

# Table I: one trial of the random-based class partition (23 / 23 / 23 = all 69 classes).
PAPER_TABLE_I = {
    "train": ["violin", "bus", "cat", "door", "horse", "goose", "scissors", "ratchet", "sheep", "alarm clock", "goat",
              "tap", "snake", "chicken", "car", "trombone", "harp", "chainsaw", "tool", "frog", "cupboard", "coin",
              "microwave oven"],
    "val": ["camera", "ambulance", "motorcycle", "aircraft", "horn", "duck", "guitar", "drum", "cattle",
            "mechanical fan", "skateboard", "chime", "television", "bike", "piano", "harpsichord", "sink", "bird",
            "bathtub", "sewing machine", "telephone", "mouse", "drawer"],
    "test": ["hand", "boat", "dog", "computer keyboard", "truck", "insect", "flute", "train", "clock", "pig",
             "maracas", "banjo", "tableware", "printer", "trumpet", "accordion", "saxophone", "cello", "harmonica",
             "blender", "organ", "hair dryer", "toothbrush"],
}

# Table II: class labels of each category (Insect is not listed, although the ontology puts it under Animal).
PAPER_TABLE_II = {
    "Animal": ["cat", "horse", "goose", "sheep", "goat", "snake", "chicken", "frog", "duck", "cattle", "bird", "mouse",
               "dog", "pig"],
    "Musical instrument": ["trombone", "harp", "guitar", "cello", "drum", "organ", "chime", "piano", "harpsichord",
                           "flute", "maracas", "banjo", "trumpet", "accordion", "saxophone", "harmonica", "horn",
                           "violin"],
    "Vehicle": ["skateboard", "bus", "car", "motorcycle", "boat", "aircraft", "bike", "train", "truck", "ambulance"],
}

# Paper name -> Open Images name, where they are not equal up to case.
PAPER_TO_OPENIMAGES = {"hand": "Human hand", "bike": "Bicycle"}
OPENIMAGES_TO_PAPER = {v.lower(): k for k, v in PAPER_TO_OPENIMAGES.items()}

MEMBERSHIP_PRESETS = {"paper": PAPER_TABLE_II}
SPLIT_PRESETS = {"paper-table1": PAPER_TABLE_I}
NAME_STYLES = ("openimages", "audioset", "paper")


def paper_name(openimages_name: str) -> str:
    """The paper's (lower-case) name for a class given its Open Images name."""
    low = openimages_name.lower()
    return OPENIMAGES_TO_PAPER.get(low, low)


def paper_class_names() -> list[str]:
    return [n for part in ("train", "val", "test") for n in PAPER_TABLE_I[part]]


def resolve_paper_name(classset, name: str) -> str:
    """Class id of a paper-table name in ``classset`` (matching the name, Open Images or AudioSet name)."""
    for key in (name, PAPER_TO_OPENIMAGES.get(name, name)):
        try:
            return classset.resolve(key)
        except ZslError:
            continue
    raise ZslError(f"the class set has no class for the paper's {name!r}",
                   hint="the paper presets need the AudioSet/Open Images class set from `zsl build-classes`")


def membership_preset(name: str, classset) -> dict[str, list[str]]:
    """Category -> class ids of the named membership preset, resolved in ``classset``."""
    if name not in MEMBERSHIP_PRESETS:
        raise ZslError(f"unknown membership preset {name!r}", hint=f"presets: {', '.join(MEMBERSHIP_PRESETS)}")
    return {cat: [resolve_paper_name(classset, n) for n in names] for cat, names in MEMBERSHIP_PRESETS[name].items()}


def split_preset(name: str, classset) -> tuple[list[str], list[str], list[str]]:
    """(train, val, test) class ids of the named split preset, resolved in ``classset`` by name."""
    if name not in SPLIT_PRESETS:
        raise ZslError(f"unknown split preset {name!r}", hint=f"presets: {', '.join(SPLIT_PRESETS)}")
    table = SPLIT_PRESETS[name]
    parts = tuple([resolve_paper_name(classset, n) for n in table[part]] for part in ("train", "val", "test"))
    ids = [c for part in parts for c in part]
    if len(set(ids)) != len(ids):
        raise ZslError(f"the class set maps two of the preset {name!r}'s names to the same class",
                       hint="the paper presets need the AudioSet/Open Images class set from `zsl build-classes`")
    return parts
