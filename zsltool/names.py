"""Names written once: the CLI, tables, docs and the library read them from here (no heavy imports).

Each name list that is also a registry is the registry's own: methods (``zsltool.methods.names``), extractors
(``zsltool.extract.catalog``), metrics (``zsltool.scores.metrics.METRICS``); the plain vocabularies the
package shares are below.
"""

from __future__ import annotations

# what an embedding file's rows come from (the extract-<modality> commands)
MODALITIES = ("audio", "image", "text", "video")

# which instance embeddings a zero-shot model scores (zsl evaluate --modality)
SCORE_MODALITIES = ("both", "audio", "video")

# the side information that describes a class (Dogan et al., Table III's rows) -> the class-level files it is
# built from, named as the TrainConfig / ExperimentSpec fields (hybrid: image ‖ text per class, as `zsl combine`)
SEMANTIC_INPUTS = {"audio": ("audio_prototypes",), "image": ("image",), "text": ("text",), "hybrid": ("image", "text")}
SEMANTIC_SOURCES = tuple(SEMANTIC_INPUTS)


def file_option(field: str) -> str:
    """The command-line option of a file field: ``audio_prototypes`` -> ``--audio-prototypes``."""
    return "--" + field.replace("_", "-")

# zsl split --protocol
SPLIT_PROTOCOLS = ("random", "within", "across", "gzsl", "folds")

# zsl plot KIND
PLOT_KINDS = ("confusion", "per-class", "tsne", "cd")

# --device
DEVICES = ("auto", "cpu", "cuda")

# zsl classify --model: a joint audio-text model scoring labels without a checkpoint -> (its audio extractor, its
# text extractor) (zsltool.classify.joint)
JOINT_MODELS = {"clap": ("clap", "clap-text")}
