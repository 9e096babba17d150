"""Benchmark of ``zsl classify``: start-up cost of one clip, and clips/s over many.

    PYTHONPATH=. python benchmarks/bench_classify.py --clips 1000 --seconds 5 --workers 2

Builds, in a temporary folder, a checkpoint the way a user would: synthetic clips embedded by the published
VGGish size (random weights: speed does not depend on the values; ``--width`` for smaller), a word2vec text
file of ``--vocab`` words, ``zsl train`` (projection, a few epochs). Then measures:

* ``import zsltool.cli.app`` alone (what every command pays), in a fresh interpreter;
* one clip, as a user runs it: ``zsl classify model.pt clip.wav --labels ...`` in a fresh process: the first
  call with an empty sha256 cache (``one_clip_cli_first_s``: the weights and the vectors file are hashed), then
  the median of ``--repeats`` calls (``one_clip_cli_s``: both hashes come from the cache of
  ``zsltool.files.provenance.sha256_file``); ``weights_sha256_s`` is what hashing the weights file once costs.
  The same steps timed inside one process: imports of what classify needs, checkpoint load + model build,
  label embeddings (loading the word vectors), audio extractor build (weights read; their sha256 cached),
  embedding and scoring the clip;
* with ``--baseline DIR`` (another checkout of zsltool, e.g. ``git worktree add /tmp/base COMMIT``): the same
  one-clip call of the baseline's code and of this checkout, alternated ``--repeats`` times each after one
  warm-up call of each, in fresh processes on the same files (wall: ``baseline_one_clip_cli_s`` vs
  ``ab_one_clip_cli_s``; CPU, user + system, less shaken by other jobs: ``baseline_one_clip_cpu_s`` vs
  ``ab_one_clip_cpu_s``; medians): a before/after that the machine's load shifts alike; before each pair,
  the sha256 cache is emptied and each tree's first call timed (``baseline_one_clip_cli_cold_s`` vs
  ``ab_one_clip_cli_cold_s``, CPU ``..._cold_cpu_s``: the weights and the vectors file hashed);
* ``--clips`` clips through ``zsltool.classify_clips`` (folder input, ``--workers`` decoding workers): clips/s,
  excluding the one-time start-up measured above.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LABELS = ["siren", "dog bark", "church bells", "rain", "keyboard typing"]


def make_clips(folder: Path, n: int, seconds: float, sr: int = 16000) -> list[Path]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    out = []
    for i in range(n):
        x = 0.3 * np.sin(2 * np.pi * (200 + 7 * i) * t) + 0.05 * rng.standard_normal(len(t))
        p = folder / f"clip{i:04d}.wav"
        sf.write(p, x.astype(np.float32), sr)
        out.append(p)
    return out


def write_vectors(path: Path, vocab: int, dim: int = 300) -> None:
    rng = np.random.default_rng(0)
    words = ["siren", "dog", "bark", "church", "bells", "rain", "keyboard", "typing", "tone", "noise"]
    words += [f"w{i}" for i in range(vocab - len(words))]
    with open(path, "wb") as f:  # binary word2vec, like GoogleNews
        f.write(f"{len(words)} {dim}\n".encode())
        for w in words:
            f.write(w.encode() + b" " + rng.standard_normal(dim).astype(np.float32).tobytes() + b"\n")


def build(tmp: Path, width: float, vocab: int) -> dict:
    import torch

    from zsltool.classes.classset import ClassSet
    from zsltool.classes.split_classes import split_folds
    from zsltool.extract.audio.vggish import VGGish
    from zsltool.extract.pipeline import extract_audio, extract_text
    from zsltool.train.config import TrainConfig
    from zsltool.train.loop import train

    torch.manual_seed(0)
    torch.save(VGGish(width=width).state_dict(), tmp / "vggish.pth")
    names = ["tone", "noise", "siren", "rain", "bells"]
    cs = ClassSet(classes=[{"id": n, "name": n} for n in names])
    cs.save(tmp / "classes.json")
    clips = make_clips(tmp / "train_clips", 10, 1.0)
    (tmp / "clips.csv").write_text("id,path,labels,start,end\n" + "".join(
        f"c{i},{p},{names[i % 5]},,\n" for i, p in enumerate(clips)))
    extract_audio(str(tmp / "clips.csv"), tmp / "audio.h5", classes_path=tmp / "classes.json",
                  weights=str(tmp / "vggish.pth"), progress=False)
    write_vectors(tmp / "vectors.bin", vocab)
    extract_text(tmp / "text.h5", classes=tmp / "classes.json", vectors=tmp / "vectors.bin")
    split_folds(cs, folds=5).save(tmp / "split.json")
    train(TrainConfig(audio=str(tmp / "audio.h5"), text=str(tmp / "text.h5"), split=str(tmp / "split.json"),
                      out=str(tmp / "model.pt"), method="projection", epochs=3))
    return {"weights_mb": round(os.path.getsize(tmp / "vggish.pth") / 2**20, 1),
            "vectors_mb": round(os.path.getsize(tmp / "vectors.bin") / 2**20, 1)}


def fresh(code: str, env=None, repo: Path = REPO, cpu: list | None = None) -> float:
    """Wall seconds of ``code`` in a fresh interpreter; its CPU seconds (user + system) appended to ``cpu``."""
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo,  # cwd: sys.path[0]
                       env={**os.environ, "PYTHONPATH": str(repo), **(env or {})})
    if r.returncode:
        raise SystemExit(r.stderr)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=5.0, help="clip length (ESC-50: 5 s)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--width", type=float, default=1.0, help="1.0 = published VGGish")
    ap.add_argument("--vocab", type=int, default=100_000, help="words in the vectors file")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--baseline", type=Path, help="another zsltool checkout to time the one-clip call against")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        os.environ["ZSL_CACHE"] = str(tmp / "zsl-cache")  # the sha256 cache of this run only (subprocesses too)
        sizes = build(tmp, args.width, args.vocab)
        one = make_clips(tmp / "one", 1, args.seconds)[0]
        res: dict = {"clips": args.clips, "seconds_per_clip": args.seconds, "width": args.width,
                     "vocab": args.vocab, **sizes, "device": args.device, "cpu_count": os.cpu_count()}
        res["import_cli_s"] = round(statistics.median(fresh("import zsltool.cli.app") for _ in range(args.repeats)), 3)
        cmd = (f"import sys; sys.argv = ['zsl', '-q', '--device', {args.device!r}, 'classify', "
               f"{str(tmp / 'model.pt')!r}, {str(one)!r}, '--labels', {','.join(LABELS)!r}, '--json']\n"
               "from zsltool.cli.app import main\ntry:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code")
        from zsltool.files.provenance import _hash_file

        t0 = time.perf_counter()
        _hash_file(tmp / "vggish.pth", "sha256")
        res["weights_sha256_s"] = round(time.perf_counter() - t0, 3)
        for old in (tmp / "zsl-cache").glob("*.json"):  # digests.json (sha256.json: older trees)
            old.unlink()
        res["one_clip_cli_first_s"] = round(fresh(cmd), 3)  # hashes the weights and the vectors file
        res["one_clip_cli_s"] = round(statistics.median(fresh(cmd) for _ in range(args.repeats)), 3)
        if args.baseline:
            env = {"XDG_CACHE_HOME": str(tmp / "xdg")}  # where an older zsl keeps its vectors' sha256
            fresh(cmd, env, args.baseline.resolve())
            base, this, base_cpu, this_cpu = [], [], [], []
            base_cold, this_cold, base_cold_cpu, this_cold_cpu = [], [], [], []
            for _ in range(args.repeats):
                for f in (tmp / "zsl-cache").glob("*.json"):  # cold: each tree hashes (and remembers)
                    f.unlink()
                base_cold.append(fresh(cmd, env, args.baseline.resolve(), base_cold_cpu))
                this_cold.append(fresh(cmd, env, cpu=this_cold_cpu))
                base.append(fresh(cmd, env, args.baseline.resolve(), base_cpu))
                this.append(fresh(cmd, env, cpu=this_cpu))
            res["baseline"] = str(args.baseline)
            res["baseline_one_clip_cli_cold_s"] = round(statistics.median(base_cold), 3)
            res["ab_one_clip_cli_cold_s"] = round(statistics.median(this_cold), 3)
            res["baseline_one_clip_cold_cpu_s"] = round(statistics.median(base_cold_cpu), 3)
            res["ab_one_clip_cold_cpu_s"] = round(statistics.median(this_cold_cpu), 3)
            res["baseline_one_clip_cli_s"] = round(statistics.median(base), 3)
            res["ab_one_clip_cli_s"] = round(statistics.median(this), 3)
            res["baseline_one_clip_cpu_s"] = round(statistics.median(base_cpu), 3)  # user + system
            res["ab_one_clip_cpu_s"] = round(statistics.median(this_cpu), 3)
        # the same steps inside one process, timed one by one
        steps = ("import time; t0 = time.perf_counter(); T = {}\n"
                 "import torch, numpy, h5py; T['import torch, h5py'] = time.perf_counter() - t0; t = time.perf_counter()\n"
                 "from zsltool.classify.clips import audio_extractor, clip_items, embed_clips\n"
                 "from zsltool.classify.labels import label_embeddings, training_provenance\n"
                 "from zsltool.train.checkpoint import build_model, load_checkpoint\n"
                 "T['import zsltool modules'] = time.perf_counter() - t; t = time.perf_counter()\n"
                 f"ck = load_checkpoint({str(tmp / 'model.pt')!r}); m = build_model(ck)\n"
                 "T['checkpoint load + build'] = time.perf_counter() - t; t = time.perf_counter()\n"
                 f"C, _ = label_embeddings(ck, {LABELS!r})\n"
                 "T['label embeddings (word vectors)'] = time.perf_counter() - t; t = time.perf_counter()\n"
                 f"ex = audio_extractor(training_provenance(ck, 'audio'), device={args.device!r})\n"
                 "T['audio extractor (weights, sha256)'] = time.perf_counter() - t; t = time.perf_counter()\n"
                 f"r = embed_clips(clip_items([{str(one)!r}]), ex)\n"
                 "T['embed the clip'] = time.perf_counter() - t\n"
                 "import json; print(json.dumps(T))")
        def timed_steps(repo: Path) -> dict:
            r = subprocess.run([sys.executable, "-c", steps], capture_output=True, text=True, cwd=repo,
                               env={**os.environ, "PYTHONPATH": str(repo), "XDG_CACHE_HOME": str(tmp / "xdg")})
            if r.returncode:
                raise SystemExit(r.stderr)
            return json.loads(r.stdout.strip().splitlines()[-1])

        runs = {"one_clip_steps_s": REPO, **({"baseline_one_clip_steps_s": args.baseline.resolve()}
                                            if args.baseline else {})}
        got: dict = {k: [] for k in runs}
        for _ in range(max(1, min(args.repeats, 5)) if args.baseline else 1):  # alternated, medians per step
            for k, repo in runs.items():
                got[k].append(timed_steps(repo))
        for k, rows in got.items():
            res[k] = {step: round(statistics.median(r[step] for r in rows), 3) for step in rows[0]}
        # many clips, in this process (start-up paid once before the timer)
        import zsltool

        zsltool.classify_clips(tmp / "model.pt", one, labels=LABELS, device=args.device)  # warm: imports, caches
        folder = tmp / "many"
        make_clips(folder, args.clips, args.seconds)
        t0 = time.perf_counter()
        preds = zsltool.classify_clips(tmp / "model.pt", folder, labels=LABELS, workers=args.workers,
                                 batch_size=args.batch_size, device=args.device)
        dt = time.perf_counter() - t0
        assert len(preds) == args.clips and all(p["valid"] for p in preds)
        res["many_clips_s"] = round(dt, 2)
        res["clips_per_s"] = round(args.clips / dt, 2)
        print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
