"""Output paths: unwritable folders, folders as outputs, file modes, no leftovers after a failure."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from zsltool.errors import ZslError
from zsltool.files.checks import atomic_write_json, check_output


def test_output_inside_a_file_is_a_user_error(qa, cli, check_user_error):
    # was: internal error FileExistsError from mkdir
    res = cli("import-embeddings", qa.npy, "--ids", qa.ids, "-o", qa.empty / "sub" / "x.h5")
    check_user_error(res, "is a file, not a folder")
    res = cli("train", "--audio", qa.syn.audio, "--split", qa.syn.split, "--text", qa.syn.text,
              "-o", qa.empty / "m.pt")
    check_user_error(res, "is a file, not a folder")


def test_output_that_is_a_folder(qa, cli, check_user_error):
    res = cli("import-embeddings", qa.npy, "--ids", qa.ids, "-o", qa.folder, "--overwrite")
    check_user_error(res, "output is a directory")


def test_unwritable_output_folder(tmp_path, monkeypatch):
    # /proc-like folders: creating a file fails; the check happens before any work is done
    import tempfile

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ZslError, match="cannot write into output folder"):
        check_output(tmp_path / "x.h5", overwrite=False)


def test_outputs_get_the_default_file_mode(qa, cli, out):
    # was: 0600 (mkstemp's mode) on every HDF5/JSON output, unreadable for the group on shared machines
    mask = os.umask(0o022)
    try:
        res = cli("import-embeddings", qa.npy, "--ids", qa.ids, "-o", out / "x.h5")
        assert res.exit_code == 0, res.stderr
        atomic_write_json(out / "y.json", {"a": 1})
    finally:
        os.umask(mask)
    for name in ("x.h5", "y.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name


def test_failed_one_shot_write_leaves_nothing(qa, cli, check_user_error, out):
    # was: a hidden .x.h5.partial folder survived a duplicate-id failure of write_embeddings
    (out / "dup.csv").write_text("id\na\na\nb\nc\n")
    res = cli("import-embeddings", qa.npy, "--ids", out / "dup.csv", "-o", out / "x.h5")
    check_user_error(res, "duplicate id 'a'")
    assert sorted(p.name for p in out.iterdir()) == ["dup.csv"]


def test_write_embeddings_discards_parts_on_error(tmp_path):
    from zsltool.store import StoreMeta, write_embeddings

    with pytest.raises(ZslError):
        write_embeddings(tmp_path / "c.h5", meta=StoreMeta(kind="class"), ids=["a", "a"],
                         X=np.zeros((2, 3)), classes=["a", "b"])
    assert list(tmp_path.iterdir()) == []


def test_extract_video_audio_folder_that_is_a_file(qa, cli, check_user_error, out):
    # was: every video failed with FileExistsError, reported as "none of the inputs could be embedded"
    (out / "v.mp4").write_bytes(b"\0" * 64)
    res = cli("extract-video", out / "v.mp4", "-o", out / "v.h5", "--model", "tiny3d", "--weights", "random",
              "--extract-audio", qa.empty, "--device", "cpu")
    check_user_error(res, "is a file, not a folder")
    assert not (out / "v.h5").exists()


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="the kernel shows no umask in /proc here")
def test_the_file_mode_is_read_without_setting_the_umask(out, monkeypatch):
    # was: os.umask(0) and back on every atomic write: the process's umask changed for other threads meanwhile
    from zsltool.files.checks import _default_file_mode

    mask = os.umask(0o027)
    try:
        def refused(_):
            raise AssertionError("os.umask called")

        monkeypatch.setattr(os, "umask", refused)
        assert _default_file_mode() == 0o640
        atomic_write_json(out / "y.json", {"a": 1})
    finally:
        monkeypatch.undo()
        os.umask(mask)
    assert stat.S_IMODE((out / "y.json").stat().st_mode) == 0o640
