"""Benchmark of extract-audio against the torchvggish reference pipeline, side by side in one run.

    PYTHONPATH=. python benchmarks/bench_audio.py --clips 128 --seconds 10 --sr 44100 --channels 2
    PYTHONPATH=. python benchmarks/bench_audio.py --clips 128 --seconds 10 --sr 16000 --channels 1

Clips are synthetic (tones + noise, 16-bit PCM WAV at ``--sr`` with ``--channels``), the network is the
published VGGish size with random weights saved to a file (speed does not depend on the values; zsl reads and
hashes the file as it would the released weights).

- **zsl**: a whole ``zsl extract-audio DIR -o OUT --weights W --embedding raw`` process with its defaults
  (timed from the process start to its exit: imports, model build, weights hash, decoding workers, network,
  HDF5), and the moment of its first network call (the child wraps ``AudioExtractor.embed`` to print a
  timestamp; nothing else changes).
- **reference**: the torchvggish pipeline, file by file, in a second whole process: ``soundfile`` read as
  int16 / 32768, mean of the channels, ``resampy.resample`` to 16 kHz (when the rate differs), the numpy
  log-mel of ``mel_features.py`` (float64), 0.96 s examples, then the port's forward (torchvggish's module
  layout, default memory format, ``torch.no_grad``; torchvggish itself builds the input with
  ``requires_grad=True``, which is slower, so this reference is a little faster than the original) on each
  file's examples. Its clips/s is counted **after** its start-up (imports, weights, resampy's first call),
  which favours the reference.

zsl's system CPU seconds and minor page faults (its workers included) and its main process's peak RSS are
printed too (docs/scaling.md, "Memory the network's calls reuse"). Each zsl process runs with the checkout it
times as its working directory and ``PYTHONPATH`` (``python -c`` imports from its working directory first).

Wall seconds depend on what else runs on the machine; the CPU seconds of each whole process (user + system,
its workers included) depend much less on it, so both are printed. The reference's resampling runs on one
core, so on an idle machine its wall time is closer to its CPU time than zsl's is.

The two outputs are compared clip by clip (mean over the clip's examples, raw 128-d layer): the largest
relative difference ``|zsl - ref| / |ref|`` is printed; on 16 kHz input (no resampling, where the two paths
share every step's definition) it must be within 1e-4. At other rates the resamplers differ (torchaudio's
windowed sinc vs resampy's), so the difference is reported, not checked.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TOL = 1e-4


def make_clips(folder: Path, n: int, seconds: float, sr: int = 44100, channels: int = 2) -> list[Path]:
    import soundfile as sf

    rng = np.random.default_rng(0)
    paths = []
    t = np.arange(int(seconds * sr)) / sr
    for i in range(n):
        x = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.05 * rng.standard_normal(t.shape[0])
        data = np.stack([x, x[::-1]], axis=1) if channels == 2 else x
        p = folder / f"clip{i:04d}.wav"
        sf.write(p, data.astype(np.float32), sr, subtype="PCM_16")
        paths.append(p)
    return paths


# -- the reference: torchvggish's vggish_input.py + mel_features.py (numpy), the port's forward ----------------
def _frame(data, window_length, hop_length):
    num_frames = 1 + int(np.floor((data.shape[0] - window_length) / hop_length))
    shape = (num_frames, window_length) + data.shape[1:]
    strides = (data.strides[0] * hop_length,) + data.strides
    return np.lib.stride_tricks.as_strided(data, shape=shape, strides=strides)


def _periodic_hann(window_length):
    return 0.5 - (0.5 * np.cos(2 * np.pi / window_length * np.arange(window_length)))


def _hertz_to_mel(frequencies_hertz):
    return 1127.0 * np.log(1.0 + (frequencies_hertz / 700.0))


def _mel_matrix(num_mel_bins=64, num_spectrogram_bins=257, audio_sample_rate=16000, lower_edge_hertz=125.0,
                upper_edge_hertz=7500.0):
    nyquist_hertz = audio_sample_rate / 2.
    spectrogram_bins_hertz = np.linspace(0.0, nyquist_hertz, num_spectrogram_bins)
    spectrogram_bins_mel = _hertz_to_mel(spectrogram_bins_hertz)
    band_edges_mel = np.linspace(_hertz_to_mel(lower_edge_hertz), _hertz_to_mel(upper_edge_hertz), num_mel_bins + 2)
    mel_weights_matrix = np.empty((num_spectrogram_bins, num_mel_bins))
    for i in range(num_mel_bins):
        lower_edge_mel, center_mel, upper_edge_mel = band_edges_mel[i:i + 3]
        lower_slope = ((spectrogram_bins_mel - lower_edge_mel) / (center_mel - lower_edge_mel))
        upper_slope = ((upper_edge_mel - spectrogram_bins_mel) / (upper_edge_mel - center_mel))
        mel_weights_matrix[:, i] = np.maximum(0.0, np.minimum(lower_slope, upper_slope))
    mel_weights_matrix[0, :] = 0.0
    return mel_weights_matrix


def _log_mel(data, sr=16000, log_offset=0.01, window_length_secs=0.025, hop_length_secs=0.010):
    window_length_samples = int(round(sr * window_length_secs))
    hop_length_samples = int(round(sr * hop_length_secs))
    fft_length = 2 ** int(np.ceil(np.log(window_length_samples) / np.log(2.0)))
    frames = _frame(data, window_length_samples, hop_length_samples)
    spectrogram = np.abs(np.fft.rfft(frames * _periodic_hann(window_length_samples), int(fft_length)))
    mel = np.dot(spectrogram, _mel_matrix(num_spectrogram_bins=spectrogram.shape[1], audio_sample_rate=sr))
    return np.log(mel + log_offset)


def reference_examples(path: str):
    """torchvggish's ``wavfile_to_examples``: (K, 1, 96, 64) float32 tensor."""
    import soundfile as sf
    import torch

    wav_data, sr = sf.read(path, dtype="int16")
    data = wav_data / 32768.0
    if len(data.shape) > 1:
        data = np.mean(data, axis=1)
    if sr != 16000:
        import resampy

        data = resampy.resample(data, sr, 16000)
    log_mel = _log_mel(data)
    examples = _frame(log_mel, 96, 96)
    return torch.tensor(examples)[:, None, :, :].float()


class PortVGGish:
    """torchvggish's VGG module: ``features``, then transpose(1, 3), transpose(1, 2), view, ``embeddings``."""

    def __init__(self, weights: str):
        import torch
        from torch import nn

        layers, cin = [], 1
        for i, c in enumerate((64, 128, 256, 256, 512, 512)):
            layers += [nn.Conv2d(cin, c, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            if i in (0, 1, 3, 5):
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            cin = c
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096),
                                        nn.ReLU(True), nn.Linear(4096, 128))
        net = nn.Module()
        net.features, net.embeddings = self.features, self.embeddings
        net.load_state_dict(torch.load(weights, weights_only=True))
        net.eval()

    def __call__(self, x):
        import torch

        x = self.features(x)
        x = torch.transpose(x, 1, 3)
        x = torch.transpose(x, 1, 2)
        x = x.contiguous()
        x = x.view(x.size(0), -1)
        return self.embeddings(x)


def run_reference(folder: str, weights: str, out: str) -> None:
    """The reference as a whole process: writes {clip: mean raw embedding} and its timings to ``out`` (.npz)."""
    t_start = time.perf_counter()
    import torch

    model = PortVGGish(weights)
    paths = sorted(str(p) for p in Path(folder).glob("*.wav"))
    with torch.no_grad():  # warm-up: resampy's numba compilation, first oneDNN call
        model(reference_examples(paths[0]))
    t_ready = time.perf_counter()
    rows = []
    with torch.no_grad():
        for p in paths:
            rows.append(model(reference_examples(p)).mean(dim=0).numpy())
    t_end = time.perf_counter()
    np.savez(out, ids=np.array([Path(p).name for p in paths]), emb=np.stack(rows),
             startup=t_ready - t_start, loop=t_end - t_ready)


_STAMP = """
import sys, time
import zsltool.extract.audio.extract as E
_embed = E.AudioExtractor.embed
def embed(self, samples):
    if not getattr(embed, "done", False):
        embed.done = True
        print(f"zsl-timestamp first-network-call {time.time():.6f}", file=sys.stderr, flush=True)
    return _embed(self, samples)
E.AudioExtractor.embed = embed
import atexit
def peak():
    with open("/proc/self/status") as fh:  # Linux: the process's peak resident memory
        kb = [int(line.split()[1]) for line in fh if line.startswith("VmHWM:")]
    print(f"zsl-peak-rss-kb {kb[0]}", file=sys.stderr, flush=True)
if sys.platform.startswith("linux"):
    atexit.register(peak)
sys.argv[0] = "zsl"
from zsltool.cli.app import main
main()
"""


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes (and theirs: decoding workers)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _children_sys_faults() -> tuple[float, int]:
    """System CPU seconds and minor page faults of the finished child processes (and theirs)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_stime, r.ru_minflt


THIS_TREE = str(Path(__file__).resolve().parents[1])


def _zsl(folder: Path, weights: Path, out: Path, extra: list[str], tree: str | None = None
         ) -> tuple[float, float | None]:
    """A whole ``zsl extract-audio`` process: (wall seconds, seconds from its start to its first network call).
    The first network call is stamped by wrapping ``AudioExtractor.embed`` in the child (nothing else changes),
    and its peak RSS is read at exit (``_zsl.peak_rss_mb``, Linux)."""
    cmd = [sys.executable, "-c", _STAMP, "extract-audio", str(folder), "-o", str(out), "--weights", str(weights),
           "--embedding", "raw", "-q", *extra]
    t_start = time.time()
    t0 = time.perf_counter()
    c0, (s0, f0) = _children_cpu(), _children_sys_faults()
    # zsltool from ``tree`` (another checkout: a "before") or this one: ``python -c`` puts its working directory
    # first on sys.path, so it runs there too (from inside a checkout it would otherwise import that checkout)
    tree = tree or THIS_TREE
    env = {**os.environ, "PYTHONPATH": tree}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tree)
    wall = time.perf_counter() - t0
    _zsl.cpu = _children_cpu() - c0
    s1, f1 = _children_sys_faults()
    _zsl.sys_s, _zsl.page_faults = round(s1 - s0, 2), f1 - f0
    if r.returncode != 0:
        sys.exit(f"zsl failed:\n{r.stderr}")
    first, _zsl.peak_rss_mb = None, None
    for line in r.stderr.splitlines():
        if line.startswith("zsl-timestamp first-network-call"):
            first = float(line.split()[-1]) - t_start
        elif line.startswith("zsl-peak-rss-kb"):
            _zsl.peak_rss_mb = round(int(line.split()[-1]) / 1024)
    return wall, first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--sr", type=int, default=44100)
    ap.add_argument("--channels", type=int, default=2, choices=[1, 2])
    ap.add_argument("--zsl-args", default="", help="extra zsl extract-audio options, e.g. '--workers 1'")
    ap.add_argument("--before-tree", help="also time zsl from this source tree (e.g. a git worktree of an "
                                          "older commit) in the same run")
    ap.add_argument("--reference-run", nargs=3, metavar=("FOLDER", "WEIGHTS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.reference_run:
        run_reference(*args.reference_run)
        return

    import importlib.util

    import h5py
    import torch

    from zsltool.extract.audio.vggish import VGGish

    if args.sr != 16000 and importlib.util.find_spec("resampy") is None:
        sys.exit("the reference resamples with resampy: pip install 'zsltool[bench]' (or use --sr 16000)")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips_dir = tmp / "clips"
        clips_dir.mkdir()
        make_clips(clips_dir, args.clips, args.seconds, args.sr, args.channels)
        weights = tmp / "vggish-random.pth"
        torch.manual_seed(0)
        torch.save(VGGish().state_dict(), weights)
        load0 = os.getloadavg()[0]
        # reference first, then zsl: the page cache holds the clips and the weights for both
        t0 = time.perf_counter()
        c0 = _children_cpu()
        subprocess.run([sys.executable, __file__, "--reference-run", str(clips_dir), str(weights),
                        str(tmp / "ref.npz")], check=True)
        ref_wall = time.perf_counter() - t0
        ref_cpu = _children_cpu() - c0
        ref = np.load(tmp / "ref.npz")
        before = None
        if args.before_tree:
            b_wall, b_first = _zsl(clips_dir, weights, tmp / "before.h5", args.zsl_args.split(), args.before_tree)
            before = {"tree": args.before_tree, "process_s": round(b_wall, 2), "process_cpu_s": round(_zsl.cpu, 2),
                      "first_network_call_s": round(b_first, 2) if b_first else None,
                      "peak_rss_mb": _zsl.peak_rss_mb, "system_s": _zsl.sys_s, "page_faults": _zsl.page_faults,
                      "clips_per_s_whole_process": round(args.clips / b_wall, 2)}
        zsl_wall, first = _zsl(clips_dir, weights, tmp / "zsl.h5", args.zsl_args.split())
        with h5py.File(tmp / "zsl.h5", "r") as f:
            ids = [i.decode() if isinstance(i, bytes) else str(i) for i in f["ids"][:]]
            emb = f["embeddings"][:]
        load1 = os.getloadavg()[0]
    order = {i: k for k, i in enumerate(ids)}
    zsl = emb[[order[i] for i in ref["ids"]]].astype(np.float64)
    r = ref["emb"].astype(np.float64)
    rel = float((np.linalg.norm(zsl - r, axis=1) / np.linalg.norm(r, axis=1)).max())
    ref_cps = args.clips / float(ref["loop"])
    zsl_cps = args.clips / zsl_wall
    report = {
        "clips": args.clips, "seconds_per_clip": args.seconds, "sample_rate": args.sr, "channels": args.channels,
        "load_average_before_after": [round(load0, 2), round(load1, 2)], "cpu_count": os.cpu_count(),
        "reference_process_s": round(ref_wall, 2), "reference_startup_s": round(float(ref["startup"]), 2),
        "reference_clips_per_s_after_startup": round(ref_cps, 2),
        "reference_process_cpu_s": round(ref_cpu, 2),
        "zsl_process_s": round(zsl_wall, 2), "zsl_process_cpu_s": round(_zsl.cpu, 2),
        "zsl_peak_rss_mb": _zsl.peak_rss_mb, "zsl_system_s": _zsl.sys_s, "zsl_page_faults": _zsl.page_faults,
        "ratio_cpu_s_reference_over_zsl": round(ref_cpu / _zsl.cpu, 2), "zsl_first_network_call_s": round(first, 2) if first else None,
        "zsl_clips_per_s_whole_process": round(zsl_cps, 2),
        "ratio_zsl_over_reference": round(zsl_cps / ref_cps, 2),
        "max_relative_difference": float(f"{rel:.3g}"),
        "agreement_checked": args.sr == 16000,
    }
    if args.sr == 16000:
        report["agreement_within_1e-4"] = rel <= TOL
    if before:
        before["ratio_over_reference"] = round(before["clips_per_s_whole_process"] / ref_cps, 2)
        before["ratio_cpu_s_reference_over_it"] = round(ref_cpu / before["process_cpu_s"], 2)
        report["before"] = before
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
