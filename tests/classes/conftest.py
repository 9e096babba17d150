import json
from pathlib import Path

import pytest


def write_tiny_ontology(d: Path) -> dict:
    """A tiny ontology: Animal(Dog, Cat, Bird(Owl)), Vehicle(Car(Tire)), Tools(Hammer, Drill), Door.

    With max-children 2: Animal (4 mutual descendants) is dropped, Bird absorbs Owl, Car absorbs Tire,
    Tools absorbs Hammer and Drill; Vehicle has 2 mutual descendants (Car, Tire) and is kept with them merged.
    """
    nodes = [("/m/a", "Animal", ["/m/dog", "/m/cat", "/m/bird"]), ("/m/dog", "Dog", []), ("/m/cat", "Cat", []),
             ("/m/bird", "Bird", ["/m/owl"]), ("/m/owl", "Owl", []), ("/m/v", "Vehicle", ["/m/car"]),
             ("/m/car", "Car", ["/m/tire"]), ("/m/tire", "Tire squeal", []),
             ("/m/tools", "Tools", ["/m/hammer", "/m/drill"]), ("/m/hammer", "Hammer", []), ("/m/drill", "Drill", []),
             ("/m/door", "Door", []), ("/m/speech", "Speech", [])]
    ont = [{"id": i, "name": n, "description": "", "child_ids": c} for i, n, c in nodes]
    (d / "ontology.json").write_text(json.dumps(ont))
    (d / "labels.csv").write_text("index,mid,display_name\n" + "".join(
        f'{k},{i},"{n}"\n' for k, (i, n, _) in enumerate(nodes)))
    oi = [(i, n) for i, n, _ in nodes if i != "/m/speech"]
    oi = [(i, "Tire" if n == "Tire squeal" else n) for i, n in oi] + [("/m/apple", "Apple")]
    (d / "boxable.csv").write_text("".join(f"{i},{n}\n" for i, n in oi))
    return {"ontology": d / "ontology.json", "audio": d / "labels.csv", "image": d / "boxable.csv"}


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_ontology(tmp_path)
