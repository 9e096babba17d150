"""extract-audio end to end: CLI, labels, frames, padding, bad rows, stdin, resume after a kill, shards."""

import json

import numpy as np
import soundfile as sf

from zsltool.store import read_embeddings


def base_args(tiny_weights, out):
    return ["extract-audio", "--out", str(out), "--weights", str(tiny_weights), "--workers", "0", "--json",
            "--batch-size", "2"]


def test_manifest_with_labels_frames_and_bad_rows(tmp_path, audio_dir, tiny_weights, classes_file, cli):
    d, man = audio_dir
    sf.write(d / "short.wav", np.full(4000, 0.3, np.float32), 16000)  # 0.25 s: padded, not dropped
    (d / "broken.wav").write_bytes(b"garbage")
    with open(man, "a") as fh:
        fh.write("short,audio/short.wav,low,,\nbroken,audio/broken.wav,high,,\n")
        fh.write("cut,audio/clip0.wav,low,0.2,9.0\n")  # clip0 lasts 1.2 s: the segment is cut short
    out = tmp_path / "a.h5"
    r = cli(*base_args(tiny_weights, out), man, "--classes", classes_file, "--frames")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["written"] == 9 and res["valid"] == 8 and res["invalid"] == 1
    assert res["invalid_rows"][0]["id"] == "broken" and "unreadable" in res["invalid_rows"][0]["reason"]
    assert res["padded_short_clips"] == 1 and res["padded_ids"] == ["short"]
    # was: load_waveform's truncated_segment was computed and dropped
    assert res["truncated_segments"] == 1 and res["truncated_ids"] == ["cut"]
    e = read_embeddings(out)
    assert e.ids == [f"c{i}" for i in range(6)] + ["short", "broken", "cut"]
    assert e.classes == ["low", "high", "other"]
    assert e.labels[:, 0].tolist() == [1, 0, 1, 0, 1, 0, 1, 0, 1] and e.labels[:, 2].sum() == 0
    assert e.valid.tolist() == [True] * 7 + [False, True]
    # examples per clip: floor(frames / 96) of the 16 kHz signal; clip i lasts 1.2 + 0.5 i seconds
    n_ex = np.diff(e.offsets)
    assert n_ex.tolist() == [(1 + (int(round((1.2 + 0.5 * i) * 16000)) - 400) // 160) // 96 for i in range(6)] + [1, 0, 1]
    for i in (0, 1, 2, 3, 4, 5, 6, 8):  # the clip embedding is the mean of its example embeddings
        np.testing.assert_allclose(e.X[i], e.row_frames(i).mean(axis=0), atol=1e-6)
    m = e.meta.extractor_meta
    assert m["embedding"] == "raw" and m["weights"] == str(tiny_weights) and m["weights_sha256"]
    assert m["front_end"]["sample_rate"] == 16000 and e.meta.class_set_sha256
    assert any(i["path"] == str(man) and i["sha256"] for i in e.meta.inputs)


def test_same_numbers_as_the_library_pipeline(tmp_path, audio_dir, tiny_weights, cli):
    """The CLI row equals: decode -> front end -> network -> mean, done by hand."""
    import torch

    from zsltool.extract.audio.frontend import waveform_to_examples
    from zsltool.extract.audio.io import load_waveform
    from zsltool.extract.audio.vggish import VGGish

    d, _ = audio_dir
    out = tmp_path / "f.h5"
    r = cli(*base_args(tiny_weights, out), d, "--embedding", "relu")
    assert r.exit_code == 0, r.output
    e = read_embeddings(out)
    assert e.ids[0] == "clip0.wav" and e.labels.shape == (6, 0)
    net = VGGish.from_state_dict(torch.load(tiny_weights, weights_only=True)).eval()
    wave, _ = load_waveform(d / "clip3.wav")
    with torch.inference_mode():
        want = torch.relu(net(torch.from_numpy(waveform_to_examples(wave)))).mean(0).numpy()
    np.testing.assert_allclose(e.X[e.ids.index("clip3.wav")], want, atol=1e-5)


def test_stdin_list_and_nothing_valid(tmp_path, audio_dir, tiny_weights, cli):
    d, _ = audio_dir
    out = tmp_path / "s.h5"
    r = cli(*base_args(tiny_weights, out), "-", input=f"{d / 'clip1.flac'}\n\n{d / 'clip2.ogg'}\n")
    assert r.exit_code == 0, r.output
    assert read_embeddings(out).ids == [str(d / "clip1.flac"), str(d / "clip2.ogg")]
    sf.write(tmp_path / "z.wav", np.zeros(16000, np.float32), 16000)
    r = cli(*base_args(tiny_weights, tmp_path / "none.h5"), tmp_path / "z.wav")
    assert r.exit_code == 1 and "Error: none of the 1 inputs" in r.stderr and "silent" in r.stderr
    assert not (tmp_path / "none.h5").exists()
    r = cli(*base_args(tiny_weights, out), d)
    assert r.exit_code == 1 and "--overwrite" in r.stderr


def test_resume_after_kill_gives_the_same_file(tmp_path, audio_dir, tiny_weights, monkeypatch, cli):
    from zsltool.extract.audio import extract as X

    d, man = audio_dir
    full = tmp_path / "full.h5"
    assert cli(*base_args(tiny_weights, full), man).exit_code == 0
    out = tmp_path / "killed.h5"
    calls = {"n": 0}
    orig = X.AudioExtractor.embed

    def dying(self, samples):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the run is stopped in the middle of the second batch
        return orig(self, samples)

    monkeypatch.setattr(X.AudioExtractor, "embed", dying)
    r = cli(*base_args(tiny_weights, out), man)
    assert r.exit_code == 130 and not out.exists()
    monkeypatch.setattr(X.AudioExtractor, "embed", orig)
    r = cli(*base_args(tiny_weights, out), man)
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["skipped_already_done"] == 2 and res["written"] == 4
    a, b = read_embeddings(full), read_embeddings(out)
    assert a.ids == b.ids
    np.testing.assert_allclose(a.X, b.X, atol=1e-5)


def test_shards_cover_the_inputs_once_with_the_same_rows(tmp_path, audio_dir, tiny_weights, cli):
    d, man = audio_dir
    full = tmp_path / "full.h5"
    assert cli(*base_args(tiny_weights, full), man, "--workers", "2").exit_code == 0
    parts = []
    for k in (1, 2):
        p = tmp_path / f"part{k}.h5"
        r = cli(*base_args(tiny_weights, p), man, "--shard", f"{k}/2")
        assert r.exit_code == 0, r.output
        parts.append(read_embeddings(p))
    ref = read_embeddings(full)
    ids = [i for p in parts for i in p.ids]
    assert sorted(ids) == sorted(ref.ids) and len(set(ids)) == len(ids)
    assert all(len(p.ids) > 0 for p in parts)
    for p in parts:
        np.testing.assert_allclose(p.X, ref.subset(p.ids).X, atol=1e-5)
    from zsltool.store.merge import merge_embeddings

    merge_embeddings([tmp_path / "part1.h5", tmp_path / "part2.h5"], tmp_path / "merged.h5")
    m = read_embeddings(tmp_path / "merged.h5")
    np.testing.assert_allclose(m.subset(ref.ids).X, ref.X, atol=1e-5)


def test_pca_needs_params_and_unknown_label(tmp_path, audio_dir, tiny_weights, classes_file, cli):
    d, man = audio_dir
    r = cli(*base_args(tiny_weights, tmp_path / "p.h5"), man, "--embedding", "pca", "--pca-params",
            tmp_path / "nope.pth")
    assert r.exit_code == 1 and "PCA parameters file not found" in r.stderr
    man.write_text(man.read_text() + "x,audio/clip0.wav,nosuchclass,,\n")
    r = cli(*base_args(tiny_weights, tmp_path / "q.h5"), man, "--classes", classes_file)
    assert r.exit_code == 1 and "unknown class 'nosuchclass'" in r.stderr
    r = cli(*base_args(tiny_weights, tmp_path / "q.h5"), man, "--embedding", "bogus")
    assert r.exit_code == 2


def test_an_extraction_call_leaves_malloc_alone(tmp_path, audio_dir, tiny_weights, monkeypatch, cli):
    """extract-audio run in-process (as a library call would) never retunes malloc: only the ``zsl`` entry point
    does (zsltool.runtime.env.keep_heap, docs/scaling.md; tests/test_runtime.py)."""
    import zsltool.runtime.env

    calls = []
    monkeypatch.setattr(zsltool.runtime.env, "keep_heap", lambda *a: calls.append("keep_heap") or True)
    d, _ = audio_dir
    r = cli(*base_args(tiny_weights, tmp_path / "k.h5"), d)
    assert r.exit_code == 0, r.output
    assert calls == []
