"""Decoding videos with PyAV: every frame of a time window, only the frames of uniformly spaced clips (seeking,
flat memory), and a video's audio track to WAV. Decoding errors are ``InvalidInput`` (an invalid row)."""

from __future__ import annotations

import itertools
import logging
import os

import numpy as np

from zsltool.errors import ZslError
from zsltool.extract.runner import InvalidInput
from zsltool.files.checks import temp_path_for

log = logging.getLogger("zsltool.extract.video")


def clip_indices(n_frames: int, clip_len: int, clips: int) -> np.ndarray:
    """(clips, clip_len) frame indices: clips of consecutive frames starting at uniformly spaced positions
    ``round(linspace(0, n_frames - clip_len, clips))``; a video shorter than a clip repeats its last frame."""
    if n_frames < 1:
        raise InvalidInput("the video has no frames")
    if clip_len < 1 or clips < 1:
        raise ZslError("--clip-len and --clips must be positive")
    last_start = max(n_frames - clip_len, 0)
    starts = np.round(np.linspace(0, last_start, clips)).astype(np.int64) if clips > 1 else \
        np.array([last_start // 2], dtype=np.int64)
    idx = starts[:, None] + np.arange(clip_len)[None, :]
    return np.minimum(idx, n_frames - 1)


def _open_video(path: str | os.PathLike):
    """``av.open(path)``, with a missing or unreadable file as an InvalidInput naming it."""
    import av

    try:
        return av.open(str(path))
    except FileNotFoundError:
        raise InvalidInput(f"video not found: {path}") from None
    except av.FFmpegError as e:
        raise InvalidInput(f"cannot open video {path}: {e}") from None


def _rgb(reformatter, frame, size: tuple[int, int] | None) -> np.ndarray:
    """One decoded frame as uint8 (H, W, 3) RGB, resized to ``size=(h, w)`` when given."""
    kw = {"width": size[1], "height": size[0]} if size is not None else {}
    return reformatter.reformat(frame, format="rgb24", **kw).to_ndarray()


def _no_frames(path, start, end) -> InvalidInput:
    return InvalidInput(f"{path} has no frames" + (f" in [{start}, {end}) s" if start or end else ""))


def _video_stream(container, path):
    """The container's first video stream and its frame rate (25 when the container gives none)."""
    if not container.streams.video:
        raise InvalidInput(f"{path} has no video stream")
    stream = container.streams.video[0]
    return stream, float(stream.average_rate or stream.guessed_rate or 25)


def _stopped_early(path, error, n_frames: int, note: str = "") -> None:
    """A decoding error after ``n_frames`` frames: a warning, and the frames so far are used; before any frame,
    the input is invalid."""
    if not n_frames:
        raise InvalidInput(f"cannot decode video {path}: {error}") from None
    log.warning(f"{path}: decoding stopped early ({error}){note}")


def decode_video(path: str | os.PathLike, size: tuple[int, int] | None = None, start: float | None = None,
                 end: float | None = None) -> tuple[np.ndarray, float]:
    """All frames in [start, end) seconds as uint8 (N, H, W, 3) RGB, resized to ``size=(h, w)``; and the fps."""
    import av

    container = _open_video(path)
    from av.video.reformatter import VideoReformatter

    # one reformatter per video: its scaler is set up once, not per frame (20x faster on small frames)
    reformatter = VideoReformatter()
    frames = []
    with container:
        stream, fps = _video_stream(container, path)
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else len(frames) / fps
                if start is not None and t < start - 1e-6:
                    continue
                if end is not None and t >= end - 1e-6:
                    break
                frames.append(_rgb(reformatter, frame, size))
        except av.FFmpegError as e:
            _stopped_early(path, e, len(frames), f"; using {len(frames)} frames")
    if not frames:
        raise _no_frames(path, start, end)
    return np.stack(frames), fps


SEEK_GAP_S = 2.0  # a clip further than this past the decoder's position is reached by a seek


def _frame_times(container, stream, start: float | None, end: float | None) -> list[int] | None:
    """Presentation timestamps (stream time base) of the frames in [start, end), in order, read from the
    packets alone (no decoding); None when the container does not give every packet a timestamp."""
    tb = float(stream.time_base)
    pts = []
    for packet in container.demux(stream):
        if packet.size == 0:
            continue  # a flush packet
        if packet.pts is None:
            return None
        t = packet.pts * tb
        if start is not None and t < start - 1e-6:
            continue
        if end is not None and t >= end - 1e-6:
            continue
        pts.append(int(packet.pts))
    return sorted(pts)


def decode_clips(path: str | os.PathLike, size: tuple[int, int] | None, start: float | None, end: float | None,
                 clip_len: int, clips: int) -> tuple[np.ndarray, int, float]:
    """The frames of :func:`clip_indices`'s clips, (clips, clip_len, H, W, 3) uint8 RGB, the number of frames
    in [start, end) and the fps, equal to ``decode_video(...)[0][clip_indices(...)]`` without holding the
    video: the frame count and timestamps come from the packets, the decoder seeks to each clip (from the
    keyframe before it) and only the sampled frames are converted and kept, so memory does not grow with the
    video's length. Containers without packet timestamps fall back to :func:`decode_video`."""
    import av

    container = _open_video(path)
    with container:
        stream, fps = _video_stream(container, path)
        try:
            pts = _frame_times(container, stream, start, end)
        except av.FFmpegError:
            pts = None
    if not pts:
        frames, fps = decode_video(path, size, start, end)
        return frames[clip_indices(len(frames), clip_len, clips)], len(frames), fps
    idx = clip_indices(len(pts), clip_len, clips)
    need = sorted(set(idx.ravel().tolist()))
    ordinal = {p: k for k, p in enumerate(pts)}
    from av.video.reformatter import VideoReformatter

    reformatter = VideoReformatter()
    got: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base)
        gap = max(1, int(SEEK_GAP_S * fps))
        runs: list[list[int]] = []
        for k in need:  # runs of needed frames close enough to decode through
            if runs and k - runs[-1][-1] <= gap:
                runs[-1].append(k)
            else:
                runs.append([k])
        try:
            for run in runs:
                want, last = set(run), run[-1]
                container.seek(pts[run[0]], stream=stream, backward=True, any_frame=False)
                for frame in container.decode(stream):
                    k = ordinal.get(frame.pts) if frame.pts is not None else None
                    if k is None:  # outside the window, or a timestamp the packets did not give
                        if frame.pts is not None and frame.pts * tb >= (end if end is not None else float("inf")):
                            break
                        continue
                    if k in want and k not in got:
                        got[k] = _rgb(reformatter, frame, size)
                    if k >= last:
                        break
        except av.FFmpegError as e:
            _stopped_early(path, e, len(got))
    if not got:
        raise _no_frames(path, start, end)
    if len(got) < len(need):  # frames the decoder did not return: the nearest earlier one (or the first)
        have = sorted(got)
        log.warning(f"{path}: {len(need) - len(got)} sampled frames could not be decoded; using neighbours")
        import bisect

        for k in need:
            if k not in got:
                j = bisect.bisect_right(have, k) - 1
                got[k] = got[have[max(j, 0)]]
    return np.stack([got[k] for k in idx.ravel()]).reshape(*idx.shape, *got[need[0]].shape), len(pts), fps


def extract_audio_track(path: str | os.PathLike, wav_path: str | os.PathLike, start: float | None = None,
                        end: float | None = None) -> dict:
    """Write the first audio stream of ``path`` (in [start, end) s) to a 16-bit WAV at its own rate, atomically.

    Returns ``{"sample_rate", "channels", "samples"}``; raises InvalidInput when there is no audio.
    """
    import av
    import soundfile as sf

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise InvalidInput(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        rate = int(stream.rate or stream.codec_context.sample_rate)
        chunks = []
        resampler = av.AudioResampler(format="flt", layout=None, rate=rate)
        for frame in itertools.chain(container.decode(stream), [None]):  # None: flush the resampler
            for f in resampler.resample(frame):
                chunks.append(f.to_ndarray().reshape(-1, len(f.layout.channels)))
    if not chunks:
        raise InvalidInput(f"{path}: the audio stream is empty")
    audio = np.concatenate(chunks).astype(np.float32)
    a = int(round((start or 0.0) * rate))
    b = audio.shape[0] if end is None else int(round(end * rate))
    audio = audio[a:b]
    if not audio.size:
        raise InvalidInput(f"{path}: no audio in [{start}, {end}) s")
    tmp = temp_path_for(wav_path)
    try:
        sf.write(str(tmp), audio, rate, subtype="PCM_16", format="WAV")
        os.replace(tmp, wav_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"sample_rate": rate, "channels": int(audio.shape[1]), "samples": int(audio.shape[0])}
