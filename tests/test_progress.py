"""Progress on stderr: timed plain lines (done, rate, ETA) when stderr is not a terminal, nothing for a short
job, a tqdm bar on a terminal; and the lines really appear when `zsl` runs with stderr piped."""

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from zsltool.runtime.progress import Progress, fmt_duration, track

REPO = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_lines_at_a_steady_interval_with_rate_and_eta():
    out, clock = io.StringIO(), Clock()
    p = Progress(total=10, desc="extract-audio", unit="clip", interval=10, stream=out, clock=clock)
    assert p.mode == "lines"
    for t in (2, 5, 12, 14, 25):
        clock.t = t
        p.update(1)
    clock.t = 40
    p.update(5)
    p.close()
    assert out.getvalue().splitlines() == [
        "extract-audio: 3/10 clips (30%), 0.25 clip/s, ETA 28s",    # t = 12: 3 in 12 s, 7 left
        "extract-audio: 5/10 clips (50%), 0.2 clip/s, ETA 25s",     # t = 25 (13 s later)
        "extract-audio: 10/10 clips (100%), 0.25 clip/s, ETA 0s",   # t = 40
        "extract-audio: 10 clips in 40s (0.25 clip/s)",
    ]


def test_a_short_job_prints_nothing_and_disabled_prints_nothing():
    out, clock = io.StringIO(), Clock()
    with Progress(total=3, desc="x", interval=30, stream=out, clock=clock) as p:
        for _ in range(3):
            clock.t += 1
            p.update()
    assert out.getvalue() == ""
    out = io.StringIO()
    with Progress(total=3, desc="x", interval=0, stream=out, enabled=False) as p:
        p.update(3)
    assert out.getvalue() == ""


def test_terminal_gets_a_bar():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    with Progress(total=4, desc="bar", stream=out) as p:
        p.update(4)
    assert p.mode == "off" and "bar:" in out.getvalue() and "/4 [" in out.getvalue() and "\r" in out.getvalue()


def test_track_and_durations():
    assert list(track(range(3), enabled=False)) == [0, 1, 2]
    assert (fmt_duration(42), fmt_duration(469), fmt_duration(7500)) == ("42s", "7m49s", "2h05m")


def _piped(code: str, *args):
    env = dict(os.environ, ZSL_PROGRESS_INTERVAL="0", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, *args] if args else [sys.executable, "-c", code], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)


def test_extraction_prints_progress_lines_when_stderr_is_a_pipe(tmp_path):
    code = textwrap.dedent(f"""
        from zsltool.extract.runner import Item, run_extraction
        from zsltool.store import EmbeddingWriter, StoreMeta
        items = [Item(id=str(i), source=i) for i in range(6)]
        w = EmbeddingWriter({str(tmp_path / 'e.h5')!r}, meta=StoreMeta(extractor="fake"), dim=2).open()
        run_extraction(items, load=lambda it: it.source, writer=w, batch_size=2, desc="extract-fake", unit="clip",
                       embed=lambda xs: [{{"embedding": [float(x), 1.0]}} for x in xs])
        w.close()
    """)
    r = _piped(code)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("extract-fake:")]
    assert [ln.split(" (")[0] for ln in lines[:3]] == ["extract-fake: 2/6 clips", "extract-fake: 4/6 clips",
                                                        "extract-fake: 6/6 clips"]
    assert "clip/s" in lines[0] and "ETA" in lines[0] and lines[-1].startswith("extract-fake: 6 clips in ")


def test_train_prints_progress_lines_when_stderr_is_a_pipe(tmp_path):
    from zsltool.train.synthetic import make_synthetic

    syn = make_synthetic(tmp_path, n_classes=6, per_class=4, n_train=2, n_val=2, video=False)
    r = _piped("", "-m", "zsltool", "train", "--audio", str(syn.audio), "--split", str(syn.split), "--text",
               str(syn.text), "--epochs", "3", "--out", str(tmp_path / "m.pt"))
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("train projection:")]
    assert [ln.split(" (")[0] for ln in lines[:3]] == [f"train projection: {k}/3 epochs" for k in (1, 2, 3)]
    assert "epoch 1/3" not in r.stderr      # the per-epoch loss lines need -v


def test_pretraining_prints_progress_lines_when_stderr_is_a_pipe():
    # the one pretraining loop (pretrain-audio, -image, -video) reports its batches like extraction and train
    code = textwrap.dedent("""
        import torch
        from torch.utils.data import TensorDataset
        from zsltool.extract.pretrain import train_classifier
        torch.manual_seed(0)
        ds = TensorDataset(torch.randn(8, 3), torch.tensor([0, 1] * 4))
        hist = train_classifier(ds, torch.nn.Linear(3, 2), epochs=3, batch_size=4, lr=1e-2, name="pretrain-fake")
        print(len(hist))
    """)
    r = _piped(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("pretrain-fake:")]
    assert [ln.split(" (")[0] for ln in lines[:6]] == [f"pretrain-fake: {k}/6 batches" for k in range(1, 7)]
    assert lines[-1].startswith("pretrain-fake: 6 batches in ")
    assert "epoch 1/3" not in r.stderr      # the per-epoch loss lines need -v
