"""Built-in extractors. Keep this module free of heavy imports: entries only name their factories."""

from zsltool.extract.registry import register_extractor  # noqa: F401

# Each modality's module adds its register_extractor(...) calls here, e.g.
# register_extractor("vggish", modality="audio", target="zsltool.extract.audio.vggish:build", ...)

# -- audio (issue 4) -----------------------------------------------------------------------------------------
register_extractor(
    "vggish", modality="audio", target="zsltool.extract.audio.vggish:build",
    description="VGGish (Hershey et al. 2017), torchvggish state-dict layout; 128-d per 0.96 s example, "
                "mean over examples per clip",
    default_weights="https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
    dim=128, sample_rate=16000,
    pca_params="https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish_pca_params-970ea276.pth",
)
