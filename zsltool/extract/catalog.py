"""Built-in extractors. Keep this module free of heavy imports: entries only name their factories."""

from zsltool.extract.registry import register_extractor  # noqa: F401

# Each modality's module adds its register_extractor(...) calls here, e.g.
# register_extractor("vggish", modality="audio", target="zsltool.extract.audio.vggish:build", ...)
