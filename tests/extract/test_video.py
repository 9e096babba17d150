"""extract-video: a short MP4 made with PyAV (moving colour pattern + a 440 Hz audio track), the tiny3d model."""

import json

import numpy as np
import pytest
import torch

from zsltool.classes.manifest import read_clip_manifest
from zsltool.errors import ZslError
from zsltool.extract.pipeline import extract_video
from zsltool.extract.video import TinyVideoNet
from zsltool.extract.video_decode import clip_indices, decode_video
from zsltool.store import read_embeddings

N_FRAMES, FPS, SR = 24, 8, 16000


def make_mp4(path, n_frames=N_FRAMES, audio=True, seconds=3.0):
    from zsltool.testing.video import write_mp4

    frames = np.zeros((n_frames, 48, 64, 3), np.uint8)
    for i in range(n_frames):
        frames[i, ..., 0] = i * 10  # frame number in the red channel
        frames[i, :, (i * 2) % 56:(i * 2) % 56 + 8, 1] = 255  # a moving green bar
    t = np.arange(int(seconds * SR)) / SR
    sig = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32) if audio else None
    write_mp4(path, frames, fps=FPS, audio=sig, sample_rate=SR, bit_rate=4_000_000)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("vid")
    (d / "v").mkdir()
    make_mp4(d / "v" / "clip1.mp4")
    make_mp4(d / "v" / "silent.mp4", n_frames=5, audio=False)
    torch.manual_seed(0)
    model = TinyVideoNet().eval()
    torch.save(model.state_dict(), d / "tiny.pt")
    return d, model


def test_clip_indices():
    np.testing.assert_array_equal(clip_indices(24, 8, 3), [np.arange(0, 8), np.arange(8, 16), np.arange(16, 24)])
    np.testing.assert_array_equal(clip_indices(20, 4, 3), [[0, 1, 2, 3], [8, 9, 10, 11], [16, 17, 18, 19]])
    np.testing.assert_array_equal(clip_indices(5, 8, 2), [[0, 1, 2, 3, 4, 4, 4, 4]] * 2)  # short: repeat last
    np.testing.assert_array_equal(clip_indices(30, 4, 1), [[13, 14, 15, 16]])  # one clip: the middle


def test_decode_keeps_frame_order(videos):
    d, _ = videos
    frames, fps = decode_video(d / "v" / "clip1.mp4")
    assert frames.shape == (N_FRAMES, 48, 64, 3) and fps == FPS
    red = frames[..., 0].reshape(N_FRAMES, -1).mean(1)
    assert np.abs(red - 10 * np.arange(N_FRAMES)).max() < 5
    half, _ = decode_video(d / "v" / "clip1.mp4", size=(24, 32), start=1.0, end=2.0)  # frames 8..15
    assert half.shape == (8, 24, 32, 3)
    assert np.abs(half[..., 0].reshape(8, -1).mean(1) - 10 * np.arange(8, 16)).max() < 5


def test_extract_video_and_audio(videos, tmp_path):
    d, model = videos
    out, wavs = tmp_path / "video.h5", tmp_path / "wavs"
    res = extract_video([d / "v"], out, model="tiny3d", weights=str(d / "tiny.pt"), clip_len=8, clips=3,
                        crop_size=32, extract_audio=wavs, device="cpu", progress=False)
    assert res["written"] == 2 and res["valid"] == 2 and res["dim"] == 8
    emb = read_embeddings(out)
    assert emb.ids == ["clip1", "silent"] and emb.meta.modality == "video"
    m = emb.meta.extractor_meta
    assert m["crop"] == [32, 32] and m["resize"] == [37, 49] and m["clip_len"] == 8
    # direct computation: same decode, clips 0-7, 8-15, 16-23, centre crop, Kinetics mean/std, mean of clips
    frames, _ = decode_video(d / "v" / "clip1.mp4", size=(37, 49))
    x = torch.from_numpy(frames[clip_indices(N_FRAMES, 8, 3)]).float() / 255.0
    x = x[:, :, 2:34, 8:40, :]
    # Kinetics-400 normalisation as published with torchvision's video models (VideoClassification preset of
    # R3D_18_Weights.KINETICS400_V1), written here independently of zsl's own constants
    kin_mean, kin_std = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)
    assert m["mean"] == pytest.approx(list(kin_mean)) and m["std"] == pytest.approx(list(kin_std))
    x = (x - torch.tensor(kin_mean)) / torch.tensor(kin_std)
    with torch.no_grad():
        feats = model.features(x.permute(0, 4, 1, 2, 3)).flatten(1).numpy()
    np.testing.assert_allclose(emb.row_frames(0), feats, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(emb.X[0], feats.mean(0), rtol=1e-5, atol=1e-6)
    assert emb.row_frames(1).shape == (3, 8)
    # audio: clip1.wav holds ~3 s of a 440 Hz tone; the silent video has none
    import soundfile as sf

    audio, sr = sf.read(str(wavs / "clip1.wav"))
    assert sr == SR and audio.ndim == 1 and abs(len(audio) - 3 * SR) < 2048
    spec = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spec) * SR / len(audio) - 440) < 5
    assert not (wavs / "silent.wav").exists() and res["audio"]["without_audio"] == ["silent"]
    rows = read_clip_manifest(wavs / "clips.csv")
    assert [r["id"] for r in rows] == ["clip1"] and rows[0]["path"].endswith("clip1.wav")


def test_video_errors(videos, tmp_path):
    d, _ = videos
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    res = extract_video([bad, d / "v" / "clip1.mp4"], tmp_path / "o.h5", model="tiny3d", clip_len=4, clips=1,
                        crop_size=16, device="cpu", progress=False)
    assert res["invalid"] == 1 and "cannot open video" in res["invalid_rows"][0]["reason"]
    with pytest.raises(ZslError, match="at least 224x224"):
        extract_video([d / "v"], tmp_path / "s.h5", model="s3d", weights="random", crop_size=64, device="cpu")


def test_cli_extract_video(videos, tmp_path, cli):
    d, _ = videos
    out = tmp_path / "c.h5"
    r = cli("extract-video", d / "v" / "clip1.mp4", "-o", out, "--model", "tiny3d",
            "--clip-len", "4", "--clips", "2", "--crop-size", "16", "--device", "cpu", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["valid"] == 1 and read_embeddings(out).row_frames(0).shape == (2, 8)
    r = cli("extract-video", d / "v", "-o", out, "--model", "i3d", "--overwrite")
    assert r.exit_code == 2 and "'i3d' is not one of" in r.stderr


def test_extract_audio_manifest_is_not_replaced_without_overwrite(videos, tmp_path, cli):
    """--extract-audio DIR/clips.csv is an output: an existing one (another run's) is refused before any work."""
    d, _ = videos
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    (wavs / "clips.csv").write_text("id,path,labels,start,end\nold,/x/old.wav,,,\n")
    args = ["extract-video", str(d / "v" / "clip1.mp4"), "--model", "tiny3d", "--weights", str(d / "tiny.pt"),
            "--clip-len", "4", "--clips", "1", "--crop-size", "16", "--device", "cpu", "--extract-audio", str(wavs)]
    r = cli(*args, "-o", tmp_path / "a.h5")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith(f"Error: output already exists: {wavs / 'clips.csv'} (--extract-audio)")
    assert not (tmp_path / "a.h5").exists() and not (wavs / "clip1.wav").exists()  # nothing done
    assert [x["id"] for x in read_clip_manifest(wavs / "clips.csv")] == ["old"]
    r = cli(*args, "-o", tmp_path / "a.h5", "--overwrite")
    assert r.exit_code == 0, r.output
    assert [x["id"] for x in read_clip_manifest(wavs / "clips.csv")] == ["clip1"]
    assert (wavs / "clip1.wav").is_file()


def test_extract_audio_with_shards_writes_each_shards_own_manifest(videos, tmp_path):
    # was: every shard wrote DIR/clips.csv for all videos (other shards' videos reported "without audio"),
    # and the second shard was refused because clips.csv existed
    import shutil

    from zsltool.extract.runner import select_items
    from zsltool.extract.inputs import collect_video

    d, _ = videos
    (tmp_path / "v").mkdir()
    for i in range(6):
        shutil.copy(d / "v" / "clip1.mp4", tmp_path / "v" / f"a{i}.mp4")
    shutil.copy(d / "v" / "silent.mp4", tmp_path / "v" / "silent.mp4")
    items = collect_video([tmp_path / "v"])[0]
    parts = [{it.id for it in select_items(items, (k, 2))} for k in range(2)]
    assert all(parts)  # both shards have videos
    wavs = tmp_path / "wavs"
    for k in range(2):
        res = extract_video([tmp_path / "v"], tmp_path / f"v{k + 1}.h5", model="tiny3d", clip_len=4, clips=1,
                            crop_size=16, device="cpu", extract_audio=wavs, shard=(k, 2), progress=False)
        a = res["audio"]
        assert a["manifest"] == str(wavs / f"clips.{k + 1}-of-2.csv")
        listed = {r["id"] for r in read_clip_manifest(a["manifest"])}
        assert listed == parts[k] - {"silent"} and a["wavs"] == len(listed)
        assert a["without_audio"] == (["silent"] if "silent" in parts[k] else [])
    assert not (wavs / "clips.csv").exists()
    assert sorted(p.name for p in wavs.glob("*.wav")) == [f"a{i}.wav" for i in range(6)]


def test_decode_clips_seeks_to_the_sampled_frames(tmp_path):
    """decode_clips gives decode_video's frames at clip_indices (same pixels) on a 240-frame video with a
    keyframe every 12 frames, whole and in a [start, end) window, without decoding the gaps between clips."""
    import av

    from zsltool.extract import video as V

    p = tmp_path / "long.mp4"
    c = av.open(str(p), "w")
    v = c.add_stream("mpeg4", rate=FPS)
    v.width, v.height, v.pix_fmt, v.bit_rate = 64, 48, "yuv420p", 4_000_000
    for i in range(240):
        arr = np.zeros((48, 64, 3), np.uint8)
        arr[..., 0] = i  # frame number in the red channel
        arr[..., 2] = 255 - i
        for pk in v.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
            c.mux(pk)
    for pk in v.encode():
        c.mux(pk)
    c.close()
    for size, start, end in ((None, None, None), ((24, 32), 4.0, 25.0)):
        frames, fps = decode_video(p, size, start, end)
        idx = clip_indices(len(frames), 8, 3)
        got, n, fps2 = V.decode_clips(p, size, start, end, 8, 3)
        assert n == len(frames) and fps2 == fps and got.shape == (3, 8, *frames.shape[1:])
        np.testing.assert_array_equal(got, frames[idx])
        first = 0 if start is None else int(start * FPS)
        assert np.abs(got[..., 0].reshape(24, -1).mean(1) - (first + idx.ravel())).max() <= 4  # YUV rounding
    # the gaps are skipped: far fewer frames decoded than the video has
    decoded = []
    real = av.container.InputContainer.decode

    def counting(self, *a, **k):
        for f in real(self, *a, **k):
            decoded.append(f.pts)
            yield f

    av.container.InputContainer.decode = counting
    try:
        V.decode_clips(p, None, None, None, 8, 3)
    finally:
        av.container.InputContainer.decode = real
    assert len(decoded) < 80
