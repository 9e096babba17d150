"""Zero-shot methods: the ZslMethod interface, the registry ``METHODS`` and the method modules."""

from zsltool.methods.base import METHODS, ZslMethod, get_method, register_method
from zsltool.methods import projection  # noqa: F401  (registers projection, bilinear, devise, ale, sje)

__all__ = ["METHODS", "ZslMethod", "get_method", "register_method"]
