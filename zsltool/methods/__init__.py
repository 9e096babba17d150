"""Zero-shot methods: the ZslMethod interface, the registry ``METHODS`` and the method modules.

Importing this package does not import torch; ``METHODS`` / ``get_method`` do (through ``base``).
"""

__all__ = ["METHODS", "METHOD_NAMES", "ZslMethod", "get_method", "register_method", "load_all_methods"]


def __getattr__(name):
    if name == "METHOD_NAMES":  # read live from names.py (the registration a new method adds itself to)
        from zsltool.methods import names

        return names.METHOD_NAMES
    if name in ("METHODS", "ZslMethod", "get_method", "register_method", "load_all_methods"):
        from zsltool.methods import base

        base.load_all_methods()
        return getattr(base, name)
    raise AttributeError(name)
