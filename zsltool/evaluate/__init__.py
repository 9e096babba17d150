"""Evaluation: metrics, retrieval, checkpoint evaluation, experiments, comparisons, plots and tables.

Calling the package, ``zsltool.evaluate(checkpoint)``, is the Python API's ``evaluate``."""

from zsltool.api import make_package_callable as _callable

_callable(__name__, "evaluate")
