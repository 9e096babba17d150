"""Names of the registered methods, importable without torch (CLI choices). A test checks that this list
equals the registry ``METHODS``."""

METHOD_NAMES = ("projection", "bilinear", "devise", "ale", "sje", "eszsl", "sae", "conse", "audio-only",
                "video-only", "concat", "avgzslnet", "cjme", "cjme-soft", "gcca", "cosine")

# Method modules, imported by zsltool.methods.base.load_all_methods().
METHOD_MODULES = ("projection", "closed_form", "conse", "avgzslnet", "baselines", "gcca", "cosine")

# Named presets (``--preset``, ``--grid preset=...``): name -> the methods that have it. ``paper`` is every
# method's; the others are ``ZslMethod.presets`` entries (a test checks this table against the registry).
PRESETS = {"paper": "every method", "avca-gzsl": "avgzslnet"}
