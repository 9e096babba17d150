"""zsl doctor: versions, device, threads, caches and extras, as a table and as JSON."""

from importlib import metadata


def test_doctor_json(cli, monkeypatch, tmp_path):
    import torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv("ZSL_CACHE", str(tmp_path / "zc"))
    r = cli("doctor", "--json")
    assert r.exit_code == 0, r.stderr
    d = r.json()
    from zsltool import __version__

    assert d["zsl"] == __version__
    assert d["packages"]["torch"] == metadata.version("torch")
    assert d["packages"]["scikit-learn"] == metadata.version("scikit-learn")
    assert d["device"]["cuda_available"] == torch.cuda.is_available()
    assert d["device"]["auto_device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert d["threads"]["torch_threads"] == torch.get_num_threads()
    caches = list(d["caches"].values())
    assert str(tmp_path / "th" / "hub" / "checkpoints") in caches and str(tmp_path / "zc") in caches
    assert "test" in d["extras"] and d["extras"]["test"]["installed"] is True   # the suite runs with it


def test_doctor_table_shows_extras_literally(cli):
    r = cli("doctor", env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    assert "optional extras" in r.stdout and "pip install 'zsltool[test]'" in r.stdout
    assert "torch" in r.stdout and "cache" in r.stdout


def test_one_zsl_cache_folder_for_class_files_and_hashes(cli, monkeypatch, tmp_path):
    """Class downloads and the sha256 cache live in the one folder doctor reports, XDG_CACHE_HOME honoured."""
    from zsltool.classes.download import cache_dir as classes_cache
    from zsltool.files.provenance import cache_dir

    monkeypatch.delenv("ZSL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "zsltool" and classes_cache() == cache_dir() / "classes"
    r = cli("doctor", "--json")
    assert r.exit_code == 0, r.stderr
    assert str(tmp_path / "xdg" / "zsltool") in r.json()["caches"].values()
