"""Data loss and silent wrong results: one writer per output, resume after the inputs changed, an output equal to
an input, non-finite float options, empty manifests, all classes out of vocabulary."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from zsltool.errors import ZslError
from zsltool.extract.runner import Item, run_extraction
from zsltool.files.safety import OutputLock
from zsltool.store import EmbeddingWriter, StoreMeta, partial_dir_for, read_embeddings


def _sha(p) -> str:
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


def _run(path, items, vectors, *, fail_after=None, resume=True):
    """run_extraction with a fake model; ``fail_after`` raises KeyboardInterrupt after that many batches."""
    calls = {"n": 0}

    def embed(keys):
        calls["n"] += 1
        if fail_after is not None and calls["n"] > fail_after:
            raise KeyboardInterrupt
        return [{"embedding": vectors[k]} for k in keys]

    with EmbeddingWriter(path, meta=StoreMeta(extractor="fake"), dim=2, resume=resume, flush_every=2) as w:
        return run_extraction(items, load=lambda it: it.source, writer=w, progress=False, batch_size=2, embed=embed)


# -- one writer per output -----------------------------------------------------------------------------------
def test_second_writer_is_refused_with_the_holders_pid(tmp_path):
    out = tmp_path / "o.h5"
    a = EmbeddingWriter(out, meta=StoreMeta(extractor="fake"), dim=2).open()
    a.add("x", [1, 2])
    with pytest.raises(ZslError, match=rf"another zsl run is writing .*o\.h5 \(pid {os.getpid()}\)"):
        EmbeddingWriter(out, meta=StoreMeta(extractor="fake"), dim=2).open()
    with pytest.raises(ZslError, match="another zsl run is writing"):  # --overwrite does not take it over
        EmbeddingWriter(out, meta=StoreMeta(extractor="fake"), dim=2, overwrite=True, resume=False).open()
    a.close()
    assert read_embeddings(out).ids == ["x"]
    assert not partial_dir_for(out).exists()  # no lock file left behind


def test_cli_extract_refuses_while_another_run_writes(tmp_path, cli, check_user_error, tiny_weights):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32) + 0.1, 16000)
    out = tmp_path / "o.h5"
    with OutputLock(partial_dir_for(out), out):
        err = check_user_error(cli("extract-audio", tmp_path / "a.wav", "-o", out, "--workers", "0",
                                   "--weights", tiny_weights),
                               "another zsl run is writing", f"(pid {os.getpid()})")
    assert str(out) in err and not out.exists()


def test_stale_lock_of_a_killed_run_does_not_block_resume(tmp_path):
    out = tmp_path / "o.h5"
    code = textwrap.dedent(f"""
        import os, signal
        from zsltool.store import EmbeddingWriter, StoreMeta
        w = EmbeddingWriter({str(out)!r}, meta=StoreMeta(extractor="fake"), dim=2, flush_every=1).open()
        w.add("a", [1, 2]); w.add("b", [3, 4])
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert r.returncode == -signal.SIGKILL
    assert (partial_dir_for(out) / "lock").exists()  # the stale lock file is there ...
    with EmbeddingWriter(out, meta=StoreMeta(extractor="fake"), dim=2) as w:  # ... and does not block
        assert w.done_ids == {"a", "b"}
        w.add("c", [5, 6])
    assert read_embeddings(out).ids == ["a", "b", "c"]


# -- resume after the inputs changed ---------------------------------------------------------------------------
def test_resume_keeps_only_rows_of_the_current_inputs(tmp_path, caplog):
    out = tmp_path / "o.h5"
    vec = {f"f{i}": [float(i), 1.0] for i in range(8)}
    old = [Item(id=f"c{i}", source=f"f{i}") for i in range(8)]
    with pytest.raises(KeyboardInterrupt):
        _run(out, old, vec, fail_after=2)  # 4 rows committed
    assert not out.exists()
    # the re-run lists c0 (unchanged), c1 with another source file, and a new c9; c2, c3 are gone
    new = [Item(id="c0", source="f0"), Item(id="c1", source="f5"), Item(id="c9", source="f7")]
    s = _run(out, new, vec).as_dict()
    emb = read_embeddings(out)
    assert sorted(emb.ids) == ["c0", "c1", "c9"]  # was: the stale rows stayed (256 + 5 = 261 rows)
    assert dict(zip(emb.ids, emb.X[:, 0].tolist())) == {"c0": 0.0, "c1": 5.0, "c9": 7.0}
    assert s["dropped_on_resume"] == 3 and sorted(s["dropped_on_resume_ids"]) == ["c1", "c2", "c3"]
    assert s["skipped_already_done"] == 1
    assert "dropped 3 rows" in caplog.text


def test_resume_with_the_same_inputs_matches_an_uninterrupted_run(tmp_path):
    vec = {f"f{i}": [float(i), -float(i)] for i in range(7)}
    items = [Item(id=f"c{i}", source=f"f{i}") for i in range(7)]
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "r.h5", items, vec, fail_after=1)
    s = _run(tmp_path / "r.h5", items, vec).as_dict()
    _run(tmp_path / "u.h5", items, vec)
    assert s["skipped_already_done"] == 2 and "dropped_on_resume" not in s
    a, b = read_embeddings(tmp_path / "r.h5"), read_embeddings(tmp_path / "u.h5")
    assert a.ids == b.ids and np.array_equal(a.X, b.X)


# -- an output never replaces an input --------------------------------------------------------------------------
@pytest.fixture
def files(qa, tmp_path):
    import shutil

    import soundfile as sf

    d = tmp_path
    for name, src in (("a.h5", qa.syn.audio), ("t.h5", qa.syn.text), ("i.h5", qa.syn.image),
                      ("s.json", qa.syn.split)):
        shutil.copy(src, d / name)
    shutil.copy(qa.tones, d / "C.json")
    sf.write(d / "in.wav", (0.2 * np.sin(np.arange(16000) / 5)).astype(np.float32), 16000)
    (d / "m.csv").write_text("id,path,labels,start,end\nc0,in.wav,,,\n")
    return d


def test_output_equal_to_an_input_is_refused_even_with_overwrite(files, cli, check_user_error, qa):
    d = files
    cases = [
        ["split", d / "C.json", "-p", "random", "-o", d / "C.json"],
        ["extract-audio", d / "in.wav", "-o", d / "in.wav", "--workers", "0"],
        ["extract-audio", d / "m.csv", "-o", d / "m.csv", "--workers", "0"],
        ["merge", d / "a.h5", d / "t.h5", "-o", d / "a.h5"],
        ["prototypes", d / "a.h5", "-o", d / "a.h5"],
        ["combine", d / "t.h5", d / "i.h5", "-o", d / "t.h5"],
        ["train", "--audio", d / "a.h5", "--split", d / "s.json", "--text", d / "t.h5", "-o", d / "a.h5"],
        ["train", "--audio", d / "a.h5", "--split", d / "s.json", "--text", d / "t.h5", "-o", d / "s.json"],
        ["import-embeddings", qa.npy, "--ids", d / "m.csv", "-o", d / "m.csv"],
        ["build-classes", "--from-list", d / "m.csv", "-o", d / "m.csv"],
        ["compare", d / "s.json", d / "t.h5", "-o", d / "s.json"],
        ["compare", d / "s.json", d / "t.h5", "--plot", d / "s.json"],
        # another spelling of the same file, and a hard link to it
        ["split", d / "C.json", "-p", "random", "-o", d / "sub" / ".." / "C.json"],
    ]
    os.link(d / "a.h5", d / "hard.h5")
    cases.append(["prototypes", d / "a.h5", "-o", d / "hard.h5"])
    before = {p.name: _sha(p) for p in d.iterdir() if p.is_file()}
    for args in cases:
        check_user_error(cli(*args, "--overwrite"), "output is the same file as input")
    assert {p.name: _sha(p) for p in d.iterdir() if p.is_file()} == before
    assert not any(p.name.endswith(".tmp") or p.name.endswith(".partial") for p in d.iterdir())


def test_evaluate_output_equal_to_its_checkpoint(files, cli, check_user_error):
    d = files
    res = cli("train", "--audio", d / "a.h5", "--split", d / "s.json", "--text", d / "t.h5", "-o", d / "p.pt",
              "--epochs", "1")
    assert res.exit_code == 0, res.stderr
    before = _sha(d / "p.pt")
    check_user_error(cli("evaluate", d / "p.pt", "-o", d / "p.pt", "--overwrite"), "same file as input")
    check_user_error(cli("retrieve", d / "p.pt", "-o", d / "p.pt", "--overwrite"), "same file as input")
    # a sidecar is covered too: evaluate -o X writes X.per_class.csv next to it, here the split it reads
    import shutil

    shutil.copy(d / "s.json", d / "r.per_class.csv")
    before_split = _sha(d / "r.per_class.csv")
    check_user_error(cli("evaluate", d / "p.pt", "--split", d / "r.per_class.csv", "-o", d / "r", "--overwrite"),
                     "same file as input")
    assert _sha(d / "p.pt") == before and _sha(d / "r.per_class.csv") == before_split


def test_sidecar_equal_to_an_input_is_refused(files, cli, check_user_error, qa):
    """pretrain-audio -o W writes W and W.json: W.json must not be the split it reads (and W is not written)."""
    d = files
    (d / "m.csv").write_text("id,path,labels,start,end\nc0,in.wav,low,,\nc1,in.wav,high,,\n")
    import shutil

    shutil.copy(qa.tones, d / "C.json")
    from zsltool.classes.classset import ClassSet
    from zsltool.classes.splits import Split, Trial

    Split(trials=[Trial(train=["low", "high"], val=["other"], test=["x"])], protocol="random",
          class_set_sha256=ClassSet.load(d / "C.json").sha256, seed=0).save(d / "w.json")
    before = _sha(d / "w.json")
    check_user_error(cli("pretrain-audio", d / "m.csv", "-o", d / "w", "--classes", d / "C.json", "--split",
                         d / "w.json", "--overwrite", "--workers", "0", "--epochs", "1", "--width", "0.0625"),
                     "same file as input", "w.json")
    assert _sha(d / "w.json") == before and not (d / "w").exists()


# -- float options -----------------------------------------------------------------------------------------------
def test_every_float_option_of_every_command_is_finite_and_ranged():
    import click
    import typer

    from zsltool.cli.app import app
    from zsltool.cli.types import FiniteFloat

    group = typer.main.get_command(app)
    floats = []
    for name, cmd in group.commands.items():
        for p in cmd.params:
            if isinstance(p.type, (click.types.FloatParamType, click.FloatRange)) or p.type is click.FLOAT:
                floats.append(f"{name} {p.opts[0]}")
    assert floats == [], f"float options without the shared FiniteFloat type: {floats}"
    t = FiniteFloat(0, None, min_open=True)
    for bad in ("nan", "inf", "-inf", "0", "-1", "abc"):
        with pytest.raises(click.BadParameter):
            t.convert(bad, None, None)
    assert t.convert("2.5", None, None) == 2.5


def test_max_seconds_nan_is_refused(tmp_path, cli, check_usage_error):
    # was: accepted, and it removed the length cap (9.5 GB read of a 2-hour file)
    res = cli("extract-audio", tmp_path, "-o", tmp_path / "o.h5", "--max-seconds", "nan")
    check_usage_error(res, "--max-seconds", "not a finite number")
    assert not (tmp_path / "o.h5").exists()


# -- empty inputs --------------------------------------------------------------------------------------------------
def test_header_only_manifest_is_an_error(tmp_path, cli, check_user_error):
    (tmp_path / "m.csv").write_text("id,path,labels,start,end\n")
    check_user_error(cli("extract-audio", tmp_path / "m.csv", "-o", tmp_path / "o.h5"), "manifest lists no clips")
    (tmp_path / "v.csv").write_text("id,path,labels,start,end\r\n")
    check_user_error(cli("extract-video", tmp_path / "v.csv", "-o", tmp_path / "o.h5", "--model", "tiny3d",
                         "--weights", "random"), "manifest lists no clips")
    assert not (tmp_path / "o.h5").exists() and not partial_dir_for(tmp_path / "o.h5").exists()


def test_on_missing_zero_with_every_class_missing_is_an_error(tmp_path, cli, check_user_error):
    from zsltool.testing.words import write_word2vec

    write_word2vec(tmp_path / "v.bin", {"dog": np.ones(4, np.float32), "cat": np.zeros(4, np.float32) + 2})
    (tmp_path / "names.txt").write_text("Qwerty\nZzyzx\n")
    for policy in ("zero", "skip"):
        check_user_error(cli("extract-text", "--names", tmp_path / "names.txt", "--vectors", tmp_path / "v.bin",
                             "--on-missing", policy, "-o", tmp_path / "t.h5"), "no class could be embedded")
    assert not (tmp_path / "t.h5").exists()
    (tmp_path / "names.txt").write_text("Dog\nZzyzx\n")  # one known: zero still writes, as documented
    res = cli("extract-text", "--names", tmp_path / "names.txt", "--vectors", tmp_path / "v.bin",
              "--on-missing", "zero", "-o", tmp_path / "t.h5")
    assert res.exit_code == 0, res.stderr
    assert read_embeddings(tmp_path / "t.h5").valid.tolist() == [True, False]


def test_dataloader_workers_do_not_keep_a_killed_runs_lock(tmp_path):
    """Forked DataLoader workers inherit the lock's descriptor; they close it at start, so kill -9 of the run
    frees the lock at once (was: the orphaned workers held it and the resume got 'another zsl run is writing')."""
    out = tmp_path / "o.h5"
    code = textwrap.dedent(f"""
        import os, signal, time
        from zsltool.extract.runner import Item, run_extraction
        from zsltool.store import EmbeddingWriter, StoreMeta
        def load(it):
            time.sleep(0.2)
            return it.source
        def embed(keys):
            if keys and keys[0] == "s3":
                os.kill(os.getpid(), signal.SIGKILL)
            return [{{"embedding": [1.0, 2.0]}} for k in keys]
        items = [Item(id=f"c{{i}}", source=f"s{{i}}") for i in range(40)]
        with EmbeddingWriter({str(out)!r}, meta=StoreMeta(extractor="fake"), dim=2, flush_every=1) as w:
            run_extraction(items, load=load, embed=embed, writer=w, workers=2, batch_size=1, progress=False)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert r.returncode == -signal.SIGKILL
    with EmbeddingWriter(out, meta=StoreMeta(extractor="fake"), dim=2) as w:
        assert w.done_ids == {"c0", "c1", "c2"}
        w.discard()
