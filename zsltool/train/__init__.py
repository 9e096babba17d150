"""Training: configuration, data assembly, the training loop and self-describing checkpoints.

Calling the package, ``zsltool.train(audio=..., split=..., out=...)``, is the Python API's ``train``."""

from zsltool.api import make_package_callable as _callable

_callable(__name__, "train")
