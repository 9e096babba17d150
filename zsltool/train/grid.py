"""Settings grids chosen on validation data (``zsl train --grid`` / ``zsl experiment --grid``).

A grid is a flat JSON object ``{key: [values...]}``; the settings are the Cartesian product of its lists, in
the order given. Keys are

* a training setting: ``lr``, ``optimizer``, ``batch_size``, ``epochs``, ``weight_decay``, ``momentum``;
* ``METHOD:ARG`` (e.g. ``projection:margin``): an argument of that method only;
* ``ARG``: an argument of every method that has it (e.g. ``zscore``, ``l2_classes``, ``margin``);
* ``preset`` or ``METHOD:preset``: a named preset (``default`` = none, ``paper``, or a method's own such as
  avgzslnet's ``avca-gzsl``): its method arguments and training settings, under the other keys of the setting
  (``--grid avgzslnet:preset=default,avca-gzsl --grid lr=1e-3,1e-4``).

On the command line: ``--grid lr=1e-3,1e-2 --grid optimizer=sgd,adam --grid projection:margin=0.1,1``, or
``--grid grid.json`` (a file holding such an object). Values are read as JSON when they can be (numbers,
true/false), else as strings.

Each setting is trained with its own best epoch (by the protocol's validation metric); the setting whose
best epoch has the highest validation value wins (ties: the first in grid order). Test rows are never read.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from zsltool.errors import UsageError, ZslError

TRAIN_KEYS = ("lr", "optimizer", "batch_size", "epochs", "weight_decay", "momentum")  # gradient training only


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_grid(items: list[str] | None) -> dict | None:
    """``["lr=1e-3,1e-2", "grid.json", ...]`` -> ``{key: [values]}`` (None when no item is given)."""
    if not items:
        return None
    grid: dict[str, list] = {}
    for item in items:
        if "=" not in item:
            p = Path(item)
            if not p.is_file():
                raise ZslError(f"--grid {item!r} is neither KEY=V1,V2,... nor a JSON file",
                               hint="e.g. --grid lr=1e-3,1e-2 or --grid grid.json")
            from zsltool.files.formats import load_json

            doc = load_json(p, "grid file")
            if not isinstance(doc, dict):
                raise ZslError(f"grid file {item} must hold a JSON object {{key: [values]}}",
                               hint='e.g. {"lr": [0.001, 0.01], "optimizer": ["sgd", "adam"]}')
            for k, v in doc.items():
                grid[str(k)] = list(v) if isinstance(v, list) else [v]
            continue
        k, v = (s.strip() for s in item.split("=", 1))
        if not k or not v:
            raise UsageError(f"{item!r} has no key or no values", hint="e.g. --grid lr=1e-3,1e-2", option="--grid")
        vals = [x.strip() for x in v.split(",")]
        if "" in vals:
            raise UsageError(f"{item!r}: value {vals.index('') + 1} of {k!r} is empty", option="--grid",
                             hint=f"one comma between values, none at the ends: e.g. --grid {k}={EXAMPLES.get(k, 'A,B')}")
        grid[k] = [_value(x) for x in vals]
    for k, vals in grid.items():
        if not vals:
            raise ZslError(f"grid key {k!r} has no values")
        if len(set(map(json.dumps, vals))) != len(vals):
            raise ZslError(f"grid key {k!r} lists a value twice: {vals}")
    return grid


def check_grid(grid: dict | None, methods: list[str]) -> None:
    """ZslError for a key that no method of the run can take, or a value its key cannot take (checked before
    anything is trained: ``lr=abc``, ``epochs=1.5``, ``{"lr": {"a": 1}}``)."""
    if not grid:
        return
    from zsltool.methods.base import COMMON_DEFAULTS, get_method

    classes = {m: get_method(m) for m in methods}
    for k, vals in grid.items():
        _check_values(k, vals, classes, COMMON_DEFAULTS)
        if k in TRAIN_KEYS:
            continue
        m = k.split(":")[0] if ":" in k else None
        if m is not None and m not in classes:
            raise ZslError(f"grid key {k!r} names method {m!r}, which is not trained here",
                           hint=f"methods: {', '.join(classes)}")
        if k.split(":")[-1] == "preset":
            _check_presets(k, m, grid[k], classes)
        elif m is not None:
            arg = k.split(":", 1)[1]
            if arg not in classes[m].defaults and arg not in COMMON_DEFAULTS:
                raise ZslError(f"method {m!r} has no argument {arg!r} (grid key {k!r})",
                               hint="valid: " + ", ".join(sorted(set(classes[m].defaults) | set(COMMON_DEFAULTS))))
        elif k not in COMMON_DEFAULTS and not any(k in c.defaults for c in classes.values()):
            raise ZslError(f"grid key {k!r} is neither a training setting nor an argument of "
                           f"{', '.join(methods)}", hint="training settings: " + ", ".join(TRAIN_KEYS))


def _check_presets(key: str, m: str | None, values: list, classes: dict) -> None:
    """ZslError unless every preset of a ``preset`` / ``METHOD:preset`` (``m``) axis exists for its method(s)."""
    for name, cls in classes.items():
        if m in (None, name):
            for v in values:
                try:
                    cls.preset_settings(str(v))
                except ZslError as e:
                    from zsltool.methods.names import PRESETS

                    hint = e.hint if m or str(v) not in PRESETS else f"{e.hint}; name the method: METHOD:preset=..."
                    raise ZslError(f"grid key {key!r}: {e.message}", hint=hint) from None


EXAMPLES = {"lr": "1e-3,1e-2", "optimizer": "sgd,adam", "batch_size": "32,64", "epochs": "50,100",
            "weight_decay": "0,1e-4", "momentum": "0,0.9"}


def _check_values(key: str, values: list, classes: dict, common: dict) -> None:
    """ZslError for the first value of ``key`` that its training setting or method argument cannot take."""
    from zsltool.methods.base import _arg_problem
    from zsltool.train.config import setting_problem

    m, arg = key.split(":", 1) if ":" in key else (None, key)
    defaults = [c.defaults[arg] for n, c in classes.items() if (m is None or n == m) and arg in c.defaults]
    defaults += [common[arg]] if arg in common else []
    for v in values:
        if key in TRAIN_KEYS:
            problem, hint = setting_problem(key, v), f"e.g. --grid {key}={EXAMPLES[key]}"
        else:
            problem = next((p for p in (_arg_problem(d, v) for d in defaults) if p), None)
            hint = f"the default is {arg}={defaults[0]!r}" if defaults else None
        if problem:
            raise ZslError(f"grid key {key!r}: value {v!r} {problem}", hint=hint)


def settings_for(grid: dict | None, method_cls) -> list[dict]:
    """The distinct settings of ``grid`` that apply to ``method_cls``: ``[{"train": {...}, "args": {...}}]``.

    Keys that do not apply (another method's argument, training settings of a closed-form method) are left
    out, so a method is never trained twice on the same setting."""
    from zsltool.methods.base import COMMON_DEFAULTS

    if not grid:
        return [{"train": {}, "args": {}}]
    axes = []
    for k, vals in grid.items():
        if k in TRAIN_KEYS:
            if not method_cls.closed_form:
                axes.append(("train", k, vals))
        elif k == "preset" or k == f"{method_cls.name}:preset":
            axes.append(("preset", "preset", [str(v) for v in vals]))
        elif ":" in k:
            m, arg = k.split(":", 1)
            if m == method_cls.name:
                axes.append(("args", arg, vals))
        elif k in method_cls.defaults or k in COMMON_DEFAULTS:
            axes.append(("args", k, vals))
    out = []
    for combo in itertools.product(*[vals for _, _, vals in axes]):
        s: dict = {"train": {}, "args": {}}
        for (where, k, _), v in zip(axes, combo):
            if where == "preset":
                s["preset"] = v
            else:
                s[where][k] = v
        out.append(s)
    return out or [{"train": {}, "args": {}}]


def setting_values(setting: dict) -> dict:
    """A setting as one flat record: ``{"preset": ...}`` (when it has one), training settings, arguments."""
    pre = {"preset": setting["preset"]} if "preset" in setting else {}
    return {**pre, **setting.get("train", {}), **setting.get("args", {})}


def setting_label(setting: dict) -> str:
    parts = [f"{k}={v}" for k, v in setting_values(setting).items()]
    return " ".join(parts) or "default"
