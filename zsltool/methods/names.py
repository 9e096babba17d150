"""Names of the registered methods, importable without torch (CLI choices). A test checks that this list
equals the registry ``METHODS``."""

METHOD_NAMES = ("projection", "bilinear", "devise", "ale", "sje", "eszsl", "sae", "conse", "audio-only",
                "video-only", "concat", "avgzslnet", "cjme", "cjme-soft", "gcca", "cosine")

# Method modules, imported by zsltool.methods.base.load_all_methods().
METHOD_MODULES = ("projection", "closed_form", "conse", "avgzslnet", "baselines", "gcca", "cosine")
