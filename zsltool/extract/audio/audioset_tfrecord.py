"""Reading AudioSet's released embedding TFRecords without TensorFlow.

A TFRecord file is a sequence of records::

    uint64 length (little endian) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)

with ``masked(c) = ((c >> 15 | c << 17) + 0xa282ead8) mod 2**32`` over CRC-32C (Castagnoli). Each record of
the AudioSet release is a ``tf.train.SequenceExample`` for one 10-s segment:

- context features: ``video_id`` (bytes), ``start_time_seconds``, ``end_time_seconds`` (float),
  ``labels`` (int64 list of indices into class_labels_indices.csv);
- feature list ``audio_embedding``: one Feature per second, a bytes_list with one 128-byte string of
  8-bit quantized (PCA'd) VGGish values.

The protobuf wire format is decoded by a minimal reader below (varints, length-delimited fields, fixed32
floats; packed and unpacked repeated scalars). A corrupt record (bad length CRC, bad data CRC, truncated
tail, undecodable protobuf) is reported and skipped; when the length itself is corrupt, the rest of that
file cannot be framed and is skipped (reported).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Iterator

import numpy as np


# -- CRC-32C ---------------------------------------------------------------------------------------------------
_POLY = 0x82F63B78


def _table_entry(c: int) -> int:
    for _ in range(8):
        c = (c >> 1) ^ _POLY if c & 1 else c >> 1
    return c


_TABLE = [_table_entry(i) for i in range(256)]


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data`` (neither the standard library nor zsl's dependencies have it)."""
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class CorruptRecord(Exception):
    pass


def iter_records_at(path: str | os.PathLike, verify: bool = True,
                    problems: list | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, data)`` for each record of a TFRecord file (its byte offset in the file); corrupt
    records go to ``problems`` (path, byte offset, reason) and are skipped."""
    problems = problems if problems is not None else []
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        offset = 0
        while offset < size:
            head = fh.read(12)
            if len(head) < 12:
                problems.append((str(path), offset, f"truncated record header ({len(head)} bytes at the end)"))
                return
            (length,) = struct.unpack("<Q", head[:8])
            (len_crc,) = struct.unpack("<I", head[8:])
            if verify and masked_crc32c(head[:8]) != len_crc:
                problems.append((str(path), offset, "bad length CRC; the rest of the file is skipped"))
                return
            if length > size - offset - 16:
                problems.append((str(path), offset, f"truncated record: length {length} runs past the end of the file"))
                return
            data = fh.read(length)
            (data_crc,) = struct.unpack("<I", fh.read(4))
            rec_off = offset
            offset += 16 + length
            if verify and masked_crc32c(data) != data_crc:
                problems.append((str(path), rec_off, "bad data CRC; record skipped"))
                continue
            yield rec_off, data


# -- protobuf wire format ------------------------------------------------------------------------------------------
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CorruptRecord("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise CorruptRecord("varint too long")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value): varint -> int, length-delimited -> bytes, fixed32/64 -> bytes."""
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 2:
            ln, pos = _varint(buf, pos)
            if pos + ln > n:
                raise CorruptRecord("length-delimited field runs past the message")
            val, pos = buf[pos:pos + ln], pos + ln
        elif wt == 5:
            if pos + 4 > n:
                raise CorruptRecord("truncated fixed32")
            val, pos = buf[pos:pos + 4], pos + 4
        elif wt == 1:
            if pos + 8 > n:
                raise CorruptRecord("truncated fixed64")
            val, pos = buf[pos:pos + 8], pos + 8
        else:
            raise CorruptRecord(f"unsupported wire type {wt}")
        yield num, wt, val


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _expect_bytes(wt: int, what: str) -> None:
    """Only wire type 2 (length-delimited) carries bytes; anything else is a corrupt record, not a crash."""
    if wt != 2:
        raise CorruptRecord(f"{what} has wire type {wt}, expected 2 (length-delimited)")


FEATURE_KINDS = {1: "bytes", 2: "float", 3: "int64"}  # the value-list fields of a tf.train.Feature


def parse_feature(buf: bytes) -> tuple[str, list]:
    """A tf.train.Feature -> ("bytes"|"float"|"int64", values); float and int64 lists packed or not."""
    for num, wt, val in iter_fields(buf):
        if num not in FEATURE_KINDS:
            continue
        _expect_bytes(wt, "a Feature's value list")
        out: list = []
        for n, w, v in iter_fields(val):
            if n != 1:
                continue
            if num == 1:  # BytesList
                _expect_bytes(w, "a BytesList value")
                out.append(v)
            elif num == 2 and w == 2:  # packed FloatList
                if len(v) % 4:
                    raise CorruptRecord(f"packed FloatList of {len(v)} bytes (not a multiple of 4)")
                out.extend(struct.unpack(f"<{len(v) // 4}f", v))
            elif num == 2 and w == 5:
                out.append(struct.unpack("<f", v)[0])
            elif num == 3 and w == 2:  # packed Int64List
                p = 0
                while p < len(v):
                    x, p = _varint(v, p)
                    out.append(_signed64(x))
            elif num == 3 and w == 0:
                out.append(_signed64(v))
        return FEATURE_KINDS[num], out
    return "empty", []


def _parse_map(buf: bytes) -> Iterator[tuple[str, bytes]]:
    """Entries of a proto map<string, Message> (field 1 of Features / FeatureLists)."""
    for num, wt, entry in iter_fields(buf):
        if num != 1 or wt != 2:
            continue
        key, value = "", b""
        for n, w, v in iter_fields(entry):
            if n == 1:
                _expect_bytes(w, "a map key")
                key = v.decode("utf-8", "replace")
            elif n == 2:
                _expect_bytes(w, f"the map value of {key!r}")
                value = v
        yield key, value


@dataclass
class Segment:
    video_id: str
    start: float
    end: float
    labels: list[int]
    embedding: np.ndarray  # (seconds, 128) uint8

    @property
    def id(self) -> str:
        return f"{self.video_id}_{int(round(self.start * 1000))}"


def _values(features: dict, key: str, kinds: tuple[str, ...]) -> list:
    """The values of feature ``key`` (``[]`` when absent); CorruptRecord when it holds another kind."""
    kind, values = features.get(key, ("empty", []))
    if kind not in kinds + ("empty",):
        raise CorruptRecord(f"feature {key!r} is a {kind} list, expected {' or '.join(kinds)}")
    return values


def parse_sequence_example(buf: bytes) -> Segment:
    context: dict = {}
    lists: dict = {}
    for num, wt, val in iter_fields(buf):
        if num == 1 and wt == 2:
            for k, v in _parse_map(val):
                context[k] = parse_feature(v)
        elif num == 2 and wt == 2:
            for k, v in _parse_map(val):
                lists[k] = [parse_feature(f) for n, w, f in iter_fields(v) if n == 1 and w == 2]
    vids = _values(context, "video_id", ("bytes",))
    if not vids:
        raise CorruptRecord("no video_id in the context")
    rows = []
    for k, f in enumerate(lists.get("audio_embedding", [])):
        f = _values({"audio_embedding": f}, "audio_embedding", ("bytes",))
        if len(f) != 1 or len(f[0]) != 128:
            raise CorruptRecord(f"audio_embedding frame {k} has {sum(len(x) for x in f)} bytes, expected 128")
        rows.append(np.frombuffer(f[0], dtype=np.uint8))
    emb = np.stack(rows) if rows else np.zeros((0, 128), np.uint8)
    return Segment(video_id=vids[0].decode("utf-8", "replace"),
                   start=float((_values(context, "start_time_seconds", ("float",)) or [0.0])[0]),
                   end=float((_values(context, "end_time_seconds", ("float",)) or [0.0])[0]),
                   labels=[int(x) for x in _values(context, "labels", ("int64",))], embedding=emb)


def iter_segments(path, verify: bool = True, problems: list | None = None) -> Iterator[Segment]:
    """Segments of a TFRecord file; undecodable records go to ``problems`` as (path, byte offset, reason)."""
    problems = problems if problems is not None else []
    for k, (offset, data) in enumerate(iter_records_at(path, verify=verify, problems=problems)):
        try:
            yield parse_sequence_example(data)
        except CorruptRecord as e:
            problems.append((str(path), offset, f"record {k}: {e}"))


def dequantize(q: np.ndarray) -> np.ndarray:
    """AudioSet's 8-bit codes -> float32: q / 255 * 4 - 2."""
    return (np.asarray(q, dtype=np.float32) / 255.0 * 4.0 - 2.0).astype(np.float32)
