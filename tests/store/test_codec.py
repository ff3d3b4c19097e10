"""The chunk codec round-trips every float64 and int64 bit for bit."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.store.tsdb.blocks import (
    FrameReader,
    decode_series,
    encode_raw_block,
    encode_rollup_block,
    parse_dir,
)
from watchkeeper.store.tsdb.codec import ChunkCorruptError, decode_chunk, encode_chunk
from watchkeeper.store.tsdb.wal import WalCorruptError, decode_record, encode_record

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]

special = st.sampled_from(
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        -0.0,
        0.0,
        STALE_NAN,
        5e-324,
        1.7976931348623157e308,
        -1.7976931348623157e308,
        2.2250738585072014e-308,
        0.1,
        37.42,
        1e15 + 0.5,
    ]
)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    special,
    st.integers(-(10**6), 10**6).map(lambda i: i / 100),  # decimals
    st.integers(-(2**60), 2**60).map(float),
)


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.int64)


@st.composite
def series(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 300))
    start = draw(st.integers(-(2**50), 2**50))
    gaps = draw(st.lists(st.integers(0, 10**9), min_size=n - 1, max_size=n - 1))
    ts = np.array([start, *gaps], dtype=np.int64).cumsum()
    kind = draw(st.sampled_from(["any", "decimal", "const"]))
    if kind == "any":
        vals = draw(st.lists(floats, min_size=n, max_size=n))
    elif kind == "decimal":
        k = draw(st.integers(0, 6))
        ints = draw(st.lists(st.integers(-(10**9), 10**9), min_size=n, max_size=n))
        vals = [i / 10**k for i in ints]
    else:
        vals = [draw(floats)] * n
    return ts, np.array(vals, dtype=np.float64)


@settings(max_examples=300, deadline=None)
@given(series(), st.sampled_from([1, 3, 9]))
def test_raw_chunk_round_trip_is_bit_exact(data: tuple[np.ndarray, np.ndarray], level: int) -> None:
    ts, vals = data
    got_ts, got_vals = decode_chunk(encode_chunk(0, [ts, vals], level=level), 0)
    assert np.array_equal(got_ts, ts)
    assert np.array_equal(_bits(got_vals), _bits(vals))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=200))
def test_extreme_timestamps_round_trip(stamps: list[int]) -> None:
    ts = np.array(stamps, dtype=np.int64)  # irregular, even unsorted and wrapping deltas
    vals = np.zeros(ts.size)
    got_ts, _ = decode_chunk(encode_chunk(0, [ts, vals]), 0)
    assert np.array_equal(got_ts, ts)


@settings(max_examples=100, deadline=None)
@given(series())
def test_rollup_chunk_round_trip(data: tuple[np.ndarray, np.ndarray]) -> None:
    ts, vals = data
    count = np.arange(ts.size, dtype=np.int64) % 7
    cols = [ts, count, vals, vals[::-1].copy(), np.full(ts.size, 0.5), vals]
    got = decode_chunk(encode_chunk(1, cols), 1)
    for want, have in zip(cols, got, strict=True):
        assert np.array_equal(want.view(np.int64), have.view(np.int64))


def test_decimal_values_compress_well() -> None:
    rng = np.random.default_rng(0)
    n = 8640
    ts = (np.arange(n) * 10_000 + rng.integers(0, 20, n)).astype(np.int64)
    vals = np.round(50 + np.cumsum(rng.normal(0, 0.3, n)), 2)
    blob = encode_chunk(0, [ts, vals])
    assert len(blob) / n < 2.5  # a raw float64 pair is 16 bytes


@pytest.mark.parametrize("where", [0, 5, 20, -3, -1])
def test_damaged_chunk_is_reported_not_decoded(where: int) -> None:
    ts = np.arange(100, dtype=np.int64) * 1000
    blob = bytearray(encode_chunk(0, [ts, np.sin(ts.astype(float))]))
    blob[where] ^= 0x40
    with pytest.raises(ChunkCorruptError):
        decode_chunk(bytes(blob))
    with pytest.raises(ChunkCorruptError):
        decode_chunk(bytes(blob[:10]))


def test_wal_record_round_trip_and_damage() -> None:
    refs = np.array([1, 2, 3], np.int32)
    ts = np.array([10, 20, 30], np.int64)
    vals = np.array([STALE_NAN, -0.0, 1.5])
    blob = encode_record(refs, ts, vals)
    r, t, v = decode_record(blob)
    assert np.array_equal(r, refs)
    assert np.array_equal(t, ts)
    assert np.array_equal(_bits(v), _bits(vals))
    with pytest.raises(WalCorruptError):
        decode_record(blob[:-1] + bytes([blob[-1] ^ 1]))


# -- block rows: many series coded together (what the engine stores) --------------------
def _block_input(
    parts: list[tuple[np.ndarray, np.ndarray]], shared: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if shared:  # every series stamped like the first (one scrape): one timestamp column
        n = parts[0][0].size
        parts = [(parts[0][0], np.resize(v, n)) for _, v in parts]
    refs = np.concatenate([np.full(p[0].size, 3 * i + 1, np.int32) for i, p in enumerate(parts)])
    ts = np.concatenate([p[0] for p in parts])
    vals = np.concatenate([p[1] for p in parts])
    return refs, ts, vals


@settings(max_examples=100, deadline=None)
@given(
    st.lists(series(), min_size=1, max_size=6),
    st.booleans(),
    st.sampled_from([None, 1, 64, 4096]),
)
def test_raw_block_round_trip_is_bit_exact(
    parts: list[tuple[np.ndarray, np.ndarray]], shared: bool, frame_bytes: int | None
) -> None:
    refs, ts, vals = _block_input(parts, shared)
    d, data = encode_raw_block(refs, ts, vals, frame_bytes=frame_bytes)
    blk = parse_dir(d)
    got = decode_series(FrameReader(blk, data), np.arange(blk.sids.size, dtype=np.int64))
    if shared:
        assert blk.n_ts == 1
    for i, sid in enumerate(blk.sids.tolist()):
        keep = refs == sid
        assert np.array_equal(got[i][0], ts[keep])
        assert np.array_equal(_bits(got[i][1]), _bits(vals[keep]))
        # One series alone decodes the same (a reader's path).
        alone = decode_series(FrameReader(blk, data), np.array([i], np.int64))[0]
        assert np.array_equal(_bits(alone[1]), _bits(vals[keep]))


@settings(max_examples=40, deadline=None)
@given(st.lists(series(), min_size=1, max_size=4), st.sampled_from([None, 32]))
def test_rollup_block_round_trip(
    parts: list[tuple[np.ndarray, np.ndarray]], frame_bytes: int | None
) -> None:
    refs, ts, vals = _block_input(parts, False)
    count = (np.arange(ts.size, dtype=np.int64) % 7) + 1
    with np.errstate(all="ignore"):
        cols = [ts, count, vals, vals[::-1].copy(), np.round(vals * 3, 2), vals]
    d, data = encode_rollup_block(refs, *cols, frame_bytes=frame_bytes)  # type: ignore[arg-type]
    blk = parse_dir(d)
    got = decode_series(FrameReader(blk, data), np.arange(blk.sids.size, dtype=np.int64))
    for i, sid in enumerate(blk.sids.tolist()):
        keep = refs == sid
        for k, (want, have) in enumerate(zip(cols, got[i], strict=True)):
            if k == 4:  # sums: the nearest decimal within 1e-12, else exact bits
                w = want[keep]
                close = np.isclose(have, w, rtol=1e-12, atol=0) | (_bits(have) == _bits(w))
                assert close.all()
            else:
                assert np.array_equal(_bits(want[keep]), _bits(have))


def test_block_shares_timestamps_and_compresses_jittered_scrapes() -> None:
    rng = np.random.default_rng(0)
    n, s = 2160, 100
    ts = (np.arange(n) * 10_000 + rng.integers(0, 20, n)).astype(np.int64)  # one host's jitter
    vals = np.round(50 + rng.normal(0, 0.5, (s, n)), 2)
    refs = np.repeat(np.arange(1, s + 1, dtype=np.int32), n)
    d, data = encode_raw_block(refs, np.tile(ts, s), vals.ravel(), level=9, frame_bytes=16_384)
    assert parse_dir(d).n_ts == 1
    assert (len(d) + len(data)) / (n * s) < 1.2  # timestamps stored once for the host


@pytest.mark.parametrize("where", [0, 5, -3, -1])
def test_damaged_block_is_reported_not_decoded(where: int) -> None:
    ts = np.arange(100, dtype=np.int64) * 1000
    refs = np.repeat(np.array([1, 2], np.int32), 100)
    d, data = encode_raw_block(refs, np.tile(ts, 2), np.sin(np.arange(200.0)))
    bad = bytearray(data)
    bad[where] ^= 0x40
    with pytest.raises(ChunkCorruptError):
        decode_series(FrameReader(parse_dir(d), bytes(bad)), np.array([0], np.int64))
    bad_dir = bytearray(d)
    bad_dir[where] ^= 0x40
    with pytest.raises(ChunkCorruptError):
        parse_dir(bytes(bad_dir))
