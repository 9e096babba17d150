"""import-embeddings, merge and the shared JSON loader with files of the wrong kind."""

from __future__ import annotations

import numpy as np
import pytest

from zsltool.errors import ZslError
from zsltool.files.formats import load_json


def test_binary_ids_csv(qa, cli, check_user_error, out):
    # was: internal UnicodeDecodeError
    check_user_error(cli("import-embeddings", qa.npy, "--ids", qa.binary, "-o", out / "x.h5"),
               "is a binary file, not an ids CSV")
    check_user_error(cli("import-embeddings", qa.npy, "--ids", qa.npy, "-o", out / "x.h5"), "numpy array file")


def test_matrix_files_of_the_wrong_kind(qa, cli, check_user_error, out):
    (out / "fake.npy").write_bytes(bytes(range(256)))
    (out / "fake.npz").write_bytes(qa.syn.audio.read_bytes())
    np.savez(out / "real.npz", a=np.zeros((4, 2)), b=np.zeros((4, 3)))
    (out / "cut.npz").write_bytes((out / "real.npz").read_bytes()[:100])
    (out / "bin.csv").write_bytes(bytes(range(256)))
    # was: numpy's advice to load pickled data unsafely
    check_user_error(cli("import-embeddings", out / "fake.npy", "--ids", qa.ids, "-o", out / "x.h5"),
               "is not a .npy array file")
    check_user_error(cli("import-embeddings", out / "fake.npz", "--ids", qa.ids, "-o", out / "x.h5"),
               "is not an .npz archive", "HDF5")
    # was: internal BadZipFile
    check_user_error(cli("import-embeddings", out / "cut.npz", "--ids", qa.ids, "-o", out / "x.h5"),
               "corrupt or truncated")
    # was: "which one is the matrix?" although --key was given
    check_user_error(cli("import-embeddings", out / "real.npz", "--key", "zz", "--ids", qa.ids, "-o", out / "x.h5"),
               "has no array 'zz'")
    check_user_error(cli("import-embeddings", out / "bin.csv", "--ids", qa.ids, "-o", out / "x.h5"),
               "is a binary file")
    assert not (out / "x.h5").exists()


def test_merge_names_what_differs(qa, cli, check_user_error, out):
    err = check_user_error(cli("merge", qa.syn.audio, qa.syn.text, "-o", out / "m.h5"))
    assert "their kind differs (instance vs class)" in err


@pytest.mark.parametrize("name,head,kind", [("a.h5", b"\x89HDF\r\n\x1a\n", "HDF5"),
                                            ("b.pt", b"PK\x03\x04", "zip archive"),
                                            ("c.npy", b"\x93NUMPY", "numpy array")])
def test_json_loader_names_binary_files(tmp_path, name, head, kind):
    (tmp_path / name).write_bytes(head + bytes(range(200)))
    with pytest.raises(ZslError, match=kind):
        load_json(tmp_path / name, "class set")


def test_import_misspelled_labels_column(qa, cli, check_user_error, out):
    # was: a misspelled --labels-column silently gave an unlabelled file (exit 0)
    check_user_error(cli("import-embeddings", qa.npy, "--ids", qa.ids, "--labels-column", "lables",
                         "-o", out / "x.h5"), "has no 'lables' column (columns: id, labels)")
    assert not (out / "x.h5").exists()
    res = cli("import-embeddings", qa.npy, "--ids", qa.ids, "-o", out / "x.h5", "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["classes"] == 4  # the `labels` column is used when present
    (out / "plain.csv").write_text("id\na\nb\nc\nd\n")
    res = cli("import-embeddings", qa.npy, "--ids", out / "plain.csv", "-o", out / "y.h5", "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["classes"] == 0  # no labels column, none asked for: unlabelled rows
