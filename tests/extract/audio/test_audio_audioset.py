"""import-audioset on TFRecords written here in the real format (own protobuf + TFRecord encoder)."""

import json
import struct

import numpy as np

from zsltool.store import read_embeddings


# ---- a minimal, independent encoder: protobuf wire format + TFRecord framing ----
def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def ld(field, payload):  # length-delimited field
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def feature_bytes(values):
    return ld(1, b"".join(ld(1, v) for v in values))


def feature_float(values, packed=True):
    if packed:
        return ld(2, ld(1, struct.pack(f"<{len(values)}f", *values)))
    return ld(2, b"".join(varint(1 << 3 | 5) + struct.pack("<f", v) for v in values))


def feature_int64(values, packed=True):
    if packed:
        return ld(3, ld(1, b"".join(varint(v) for v in values)))
    return ld(3, b"".join(varint(1 << 3 | 0) + varint(v) for v in values))


def sequence_example(vid, start, end, labels, emb_rows, packed=True):
    ctx = {"video_id": feature_bytes([vid.encode()]), "start_time_seconds": feature_float([start], packed),
           "end_time_seconds": feature_float([end], packed), "labels": feature_int64(labels, packed)}
    context = b"".join(ld(1, ld(1, k.encode()) + ld(2, v)) for k, v in ctx.items())
    flist = b"".join(ld(1, feature_bytes([bytes(r)])) for r in emb_rows)
    lists = ld(1, ld(1, b"audio_embedding") + ld(2, flist))
    return ld(1, context) + ld(2, lists)


def record(data):
    n = struct.pack("<Q", len(data))
    return n + struct.pack("<I", masked(n)) + data + struct.pack("<I", masked(data))


# AudioSet class index rows used here: 0 Speech, 1 Male speech (merged into Speech), 2 Dog, 3 Cat, 4 Bird
INDEX = "index,mid,display_name\n0,/m/09x0r,Speech\n1,/m/05zppz,\"Male speech, man speaking\"\n" \
        "2,/m/0bt9lr,Dog\n3,/m/01yrx,Cat\n4,/m/015p6,Bird\n"


def setup(tmp_path):
    from zsltool.classes.classset import ClassSet

    cs = ClassSet(classes=[{"id": "/m/09x0r", "name": "Speech", "merged_ids": ["/m/05zppz"]},
                           {"id": "/m/0bt9lr", "name": "Dog"}, {"id": "/m/01yrx", "name": "Cat"}], name="t")
    cs.save(tmp_path / "classes.json")
    (tmp_path / "index.csv").write_text(INDEX)
    rng = np.random.default_rng(0)
    segs = [("vidA", 30.0, [1]), ("vidB", 0.0, [2]), ("vidC", 10.0, [2, 3]), ("vidD", 5.0, [4]),
            ("vidE", 0.0, [3]), ("vidF", 20.0, [2]), ("vidG", 0.0, [0, 1])]
    embs = {v: rng.integers(0, 256, size=(10 if v != "vidE" else 7, 128), dtype=np.uint8) for v, _, _ in segs}
    d = tmp_path / "bal_train"
    d.mkdir()
    f1 = b"".join(record(sequence_example(v, s, s + 10, lab, embs[v], packed=(i % 2 == 0)))
                  for i, (v, s, lab) in enumerate(segs[:4]))
    (d / "a.tfrecord").write_bytes(f1)
    recs = [record(sequence_example(v, s, s + 10, lab, embs[v])) for v, s, lab in segs[4:]]
    bad = bytearray(recs[1])
    bad[40] ^= 0xFF  # corrupt the data of vidF: its data CRC no longer matches
    (d / "b.tfrecord").write_bytes(recs[0] + bytes(bad) + recs[2] + recs[0][:30])  # + a truncated tail
    return embs


def test_import_dequantizes_averages_and_maps_labels(tmp_path, cli):
    embs = setup(tmp_path)
    out = tmp_path / "as.h5"
    r = cli("import-audioset", tmp_path / "bal_train", "--out", out, "--class-index",
            tmp_path / "index.csv", "--classes", tmp_path / "classes.json", "--json",
            "--frames")
    assert r.exit_code == 0, r.output + r.stderr
    res = json.loads(r.stdout)
    assert res["corrupt_records"] == 2 and res["segments"] == 6 and res["no_class"] == 1
    reasons = " ".join(c["reason"] for c in res["corrupt"])
    assert "bad data CRC" in reasons and "truncated" in reasons
    e = read_embeddings(out)
    assert e.ids == ["vidA_30000", "vidB_0", "vidC_10000", "vidE_0", "vidG_0"]
    assert e.classes == ["/m/09x0r", "/m/0bt9lr", "/m/01yrx"]
    assert e.labels.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 0]]
    for i, vid in zip(range(5), "ABCEG"):
        q = embs[f"vid{vid}"].astype(np.float64)
        np.testing.assert_allclose(e.X[i], (q / 255.0 * 4.0 - 2.0).mean(axis=0), atol=1e-5)
        assert e.row_frames(i).shape == q.shape
    assert e.meta.extractor == "audioset-release" and e.meta.extractor_meta["dequantize"] == "q / 255 * 4 - 2"
    assert e.X[0].min() >= -2.0 and e.X[0].max() <= 2.0


def test_single_label_and_per_class_cap(tmp_path, cli):
    setup(tmp_path)
    base = ["import-audioset", str(tmp_path / "bal_train"), "--class-index", str(tmp_path / "index.csv"),
            "--classes", str(tmp_path / "classes.json"), "--json"]
    r = cli(*base, "--out", tmp_path / "s.h5", "--single-label")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["multi_label_dropped"] == 1
    assert read_embeddings(tmp_path / "s.h5").ids == ["vidA_30000", "vidB_0", "vidE_0", "vidG_0"]
    counts = []
    for seed in (0, 1, 2):
        p = tmp_path / f"c{seed}.h5"
        r = cli(*base, "--out", p, "--per-class", "1", "--seed", seed)
        assert r.exit_code == 0, r.stderr
        e = read_embeddings(p)
        # every class is reached; a kept clip always had one class under the cap when it was drawn
        assert (e.labels.sum(axis=0) >= 1).all() and len(e.ids) <= 3
        counts.append(tuple(e.ids))
    r = cli(*base, "--out", tmp_path / "c9.h5", "--per-class", "1", "--seed", "0")
    assert tuple(read_embeddings(tmp_path / "c9.h5").ids) == counts[0]  # same seed, same draw


def test_bad_length_crc_skips_rest_of_file_and_parser_roundtrip(tmp_path):
    from zsltool.extract.audio.audioset_tfrecord import crc32c as zcrc
    from zsltool.extract.audio.audioset_tfrecord import iter_segments

    assert zcrc(b"123456789") == 0xE3069283 == crc32c(b"123456789")
    q = np.arange(256, dtype=np.uint8)[:128].reshape(1, 128)
    good = record(sequence_example("X", 1.5, 11.5, [7, 300], q))
    broken = bytearray(good)
    broken[9] ^= 1  # length CRC
    (tmp_path / "x.tfrecord").write_bytes(good + bytes(broken) + good)
    problems = []
    segs = list(iter_segments(tmp_path / "x.tfrecord", problems=problems))
    assert len(segs) == 1 and len(problems) == 1 and "bad length CRC" in problems[0][2]
    s = segs[0]
    assert (s.video_id, s.start, s.end, s.labels) == ("X", 1.5, 11.5, [7, 300])
    assert np.array_equal(s.embedding, q) and s.id == "X_1500"


def test_unexpected_protobuf_is_a_skipped_corrupt_record_at_its_byte_offset(tmp_path, cli):
    # was: "Error: internal error" (a map key sent as a varint; a packed float list of 5 bytes), and the
    # reported "offset" was the record's index, printed as "at byte N"
    setup(tmp_path)
    q = np.zeros((2, 128), np.uint8)
    good = record(sequence_example("vidB", 0.0, 10.0, [2], q))
    ctx = ld(1, varint(1 << 3 | 0) + varint(5) + ld(2, feature_bytes([b"vidK"])))  # map key as varint
    key_varint = record(ld(1, ctx))
    vid = ld(1, ld(1, b"video_id") + ld(2, feature_bytes([b"vidF"])))
    ctx = vid + ld(1, ld(1, b"start_time_seconds") + ld(2, ld(2, ld(1, b"\0" * 5))))  # packed, 5 bytes
    packed5 = record(ld(1, ctx))
    labels_as_bytes = record(ld(1, ld(1, ld(1, b"video_id") + ld(2, feature_bytes([b"vidL"]))) +
                                 ld(1, ld(1, b"labels") + ld(2, feature_bytes([b"2"])))))
    d = tmp_path / "odd"
    d.mkdir()
    parts = [good, key_varint, good, packed5, labels_as_bytes]
    (d / "c.tfrecord").write_bytes(b"".join(parts))
    offsets = np.cumsum([0] + [len(p) for p in parts])[:-1].tolist()
    r = cli("import-audioset", d, "--out", tmp_path / "o.h5", "--class-index",
            tmp_path / "index.csv", "--classes", tmp_path / "classes.json", "--json")
    assert r.exit_code == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)
    assert res["segments"] == 2 and res["duplicates"] == 1 and res["written"] == 1
    assert [c["offset"] for c in res["corrupt"]] == [offsets[1], offsets[3], offsets[4]]
    reasons = [c["reason"] for c in res["corrupt"]]
    assert "map key has wire type 0" in reasons[0]
    assert "5 bytes (not a multiple of 4)" in reasons[1]
    assert "'labels' is a bytes list, expected int64" in reasons[2]
    # a file of only such records: one clear error naming the first one's byte offset
    (d / "c.tfrecord").write_bytes(b"".join(parts[3:]))
    r = cli("import-audioset", d, "--out", tmp_path / "p.h5", "--class-index",
            tmp_path / "index.csv", "--classes", tmp_path / "classes.json")
    assert r.exit_code == 1 and "internal error" not in r.stderr
    assert "at byte 0: record 0: packed FloatList" in r.stderr
