"""One map of semantic sources (zsltool.names.SEMANTIC_INPUTS): classify reads an older checkpoint's class-embedding
files from it (a checkpoint without stored provenance)."""

from zsltool.classify.labels import training_provenance
from zsltool.train.synthetic import make_synthetic


def test_classify_finds_the_files_of_each_semantic_source_of_an_old_checkpoint(tmp_path):
    syn = make_synthetic(tmp_path, n_classes=4, per_class=2, video=False)
    files = {"text": str(syn.text), "image": str(syn.image)}
    hybrid = training_provenance({"config": {"semantic": "hybrid", **files}}, "semantic")
    assert [r["modality"] for r in hybrid] == ["image", "text"] and hybrid[1]["path"] == str(syn.text)
    (text,) = training_provenance({"config": {"semantic": "text", **files}}, "semantic")
    assert text["path"] == str(syn.text) and text["kind"] == "class"
    (given,) = training_provenance({"config": {"semantic": "hybrid", "semantic_file": str(syn.image), **files}},
                                   "semantic")
    assert given["path"] == str(syn.image)
    # audio prototypes not recorded (or gone): nothing to rebuild from
    assert training_provenance({"config": {"semantic": "audio", **files}}, "semantic") is None
    gone = {"semantic": "image", "image": str(tmp_path / "gone.h5")}
    assert training_provenance({"config": gone}, "semantic") is None
