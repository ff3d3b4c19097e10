"""Block rows: the chunks of many series in one SQLite row, coded in whole-array steps.

Why blocks rather than a row per series and cut: a cut of a 10,000-series
head into per-series chunks costs 30,000 rows and as many encoder calls
(~0.5 ms of Python each), which starved ``append`` of the GIL; and 30,000
small rows cost more in SQLite page overhead than the compressed data
itself. A block row holds one resolution of one *group* of series ids
(``sid >> GROUP_BITS``) over part of one span, and everything in it is
computed on the concatenated arrays of all its series at once (decimal
detection, delta / delta-of-delta / XOR, zigzag, byte widths, byte-plane
shuffling), so the Python cost of a cut no longer depends on the number of
series.

Layout. ``dir`` (small, separate column, cached by readers) lists the
series, the *entries* (raw: each distinct timestamp column once, then one
value column per series; rollups: six columns per series), each column's
codec header, and the *frames*. ``data`` is the frames back to back: each a
zstd frame of a run of consecutive entries plus a CRC32, so a reader
decompresses only the frame(s) of the series it wants, and damage stays
confined to one frame. Series collected together share one timestamp
column (a scrape stamps all its samples alike): storing it once per block
instead of once per series is most of the gain over per-series chunks.

The column codecs are those of ``codec.py`` (same numbers, same bit-exact
round trip: decimal scaling only where decoding gives back the same bits).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import zstandard

from watchkeeper.arraysets import runs_of_sorted, union
from watchkeeper.store.tsdb.codec import (
    FLOAT_DEC_DELTA,
    FLOAT_DEC_DOD,
    FLOAT_XOR,
    INT_DELTA,
    MAX_DECIMALS,
    TS_DOD,
    ChunkCorruptError,
    _compressor,
    _decode_column,
    _decompressor,
    _Encoded,
    _unshuffle,
)

__all__ = [
    "GROUP_BITS",
    "Block",
    "encode_raw_block",
    "encode_rollup_block",
    "parse_dir",
    "segment_decimals",
]

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U64 = npt.NDArray[np.uint64]
BOOL = npt.NDArray[np.bool_]

#: Series ids ``g << GROUP_BITS`` .. ``(g + 1 << GROUP_BITS) - 1`` share block rows.
GROUP_BITS = 10
RAW_KIND = 0
ROLLUP_KIND = 1
_MAGIC = b"WB"
_VERSION = 1
_HEAD = struct.Struct("<2sBBIIII")  # magic, version, kind, series, entries, columns, frames
_CRC = struct.Struct("<I")
_TWO53 = float(2**53)
_POW10 = np.array([10.0**k for k in range(MAX_DECIMALS + 1)])
SUM_REL_TOL = 1e-12
_CODECS = np.array([TS_DOD, INT_DELTA, FLOAT_DEC_DELTA, FLOAT_DEC_DOD, FLOAT_XOR], np.uint8)
_CODECS_SET = frozenset(_CODECS.tolist())


# -- whole-array helpers -----------------------------------------------------------
def _exclusive(x: npt.NDArray[np.int64]) -> I64:
    out = np.zeros(x.size, np.int64)
    if x.size > 1:
        np.cumsum(x[:-1], out=out[1:])
    return out


def _zigzag(x: I64) -> U64:
    return ((x << 1) ^ (x >> 63)).view(np.uint64)


def _unzigzag(u: U64) -> I64:
    return ((u >> np.uint64(1)).view(np.int64)) ^ -((u & np.uint64(1)).view(np.int64))


def _byte_widths(maxima: U64) -> npt.NDArray[np.uint8]:
    w = (maxima > 0).astype(np.uint8)
    for k in range(1, 8):
        w += maxima >= np.uint64(1 << (8 * k))
    return w


def segment_decimals(
    x: F64,
    starts: I64,
    lengths: I64,
    *,
    rel_tol: float = 0.0,
    hint: npt.NDArray[np.int8] | None = None,
) -> tuple[npt.NDArray[np.int8], I64]:
    """Per segment, the fewest decimals ``k`` making its values exact scaled ints.

    Returns ``(k, ints)``: ``k`` is -1 where no ``k <= MAX_DECIMALS`` is exact
    (bit for bit, or within ``rel_tol`` for rollup sums); ``ints`` holds the
    scaled integers of the segments that have a ``k``.
    """
    s = lengths.size
    k = np.full(s, -1, np.int8)
    ints = np.zeros(x.size, np.int64)
    if not s:
        return k, ints
    seg_of = np.repeat(np.arange(s), lengths)
    finite = np.isfinite(x)
    pending = np.logical_and.reduceat(finite, starts)
    peak = np.maximum.reduceat(np.where(finite, np.abs(x), 0.0), starts)
    if hint is not None:
        # One pass at each segment's likely scale (rollups of decimal samples are decimals).
        h = hint[starts].astype(np.int64)
        try_h = pending & (h >= 0)
        if try_h.any():
            sel = np.flatnonzero(try_h[seg_of])
            xe = x[sel]
            scale_e = _POW10[np.maximum(h, 0)][seg_of[sel]]
            ie = np.rint(xe * scale_e).astype(np.int64)
            back = ie.astype(np.float64)
            back = np.where(h[seg_of[sel]] > 0, back / scale_e, back)
            if rel_tol:
                ok = np.abs(back - xe) <= rel_tol * np.abs(xe)
            else:
                ok = back.view(np.int64) == xe.view(np.int64)
            bad = np.zeros(s, bool)
            bad[seg_of[sel[~ok]]] = True
            good = try_h & ~bad & (peak * _POW10[np.maximum(h, 0)] < _TWO53)
            if good.any():
                k[good] = h[good]
                hit = good[seg_of[sel]]
                ints[sel[hit]] = ie[hit]
                pending &= ~good
    for kk in range(MAX_DECIMALS + 1):
        scale = float(_POW10[kk])
        with np.errstate(over="ignore"):
            pending &= peak * scale < _TWO53
        if not pending.any():
            break
        sel = np.flatnonzero(pending[seg_of])
        xe = x[sel]
        ie = np.rint(xe * scale).astype(np.int64)
        back = ie.astype(np.float64) / scale if kk else ie.astype(np.float64)
        if rel_tol:
            ok = np.abs(back - xe) <= rel_tol * np.abs(xe)
        else:
            ok = back.view(np.int64) == xe.view(np.int64)
        bad = np.zeros(s, bool)
        bad[seg_of[sel[~ok]]] = True
        good = pending & ~bad
        if good.any():
            k[good] = kk
            hit = good[seg_of[sel]]
            ints[sel[hit]] = ie[hit]
        pending &= bad
    return k, ints


@dataclass(slots=True)
class _Columns:
    """Encoded columns (one per entry column), streams concatenated in order."""

    n: I64  # points per column
    codec: npt.NDArray[np.uint8]
    scale: npt.NDArray[np.uint8]
    base: I64
    width: npt.NDArray[np.uint8] = field(default_factory=lambda: np.zeros(0, np.uint8))
    stream: U64 = field(default_factory=lambda: np.zeros(0, np.uint64))


def _int_streams(x: I64, starts: I64, lengths: I64, dod: BOOL) -> tuple[U64, I64]:
    """Zigzagged delta (or delta-of-delta where ``dod``) of each segment after its first value."""
    d = np.diff(x)
    if dod.any() and d.size:
        prev = np.empty_like(d)
        prev[0] = 0
        prev[1:] = d[:-1]
        inner = starts[starts < d.size]
        prev[inner] = 0
        seg_of = np.repeat(np.arange(lengths.size), lengths)[:-1]
        d = np.where(dod[seg_of], d - prev, d)
    keep = np.ones(d.size, bool)
    keep[(starts[1:] - 1)] = False
    return _zigzag(d[keep]), x[starts]


def _float_columns(
    x: F64,
    starts: I64,
    lengths: I64,
    *,
    rel_tol: float = 0.0,
    hint: npt.NDArray[np.int8] | None = None,
) -> tuple[U64, npt.NDArray[np.uint8], npt.NDArray[np.uint8], I64]:
    """(stream, codec, scale, base) per segment: exact decimals (delta or dod), else XOR."""
    k, ints = segment_decimals(x, starts, lengths, rel_tol=rel_tol, hint=hint)
    dec = k >= 0
    bits = x.view(np.int64)
    src = np.where(np.repeat(dec, lengths), ints, bits)
    # Delta suits noisy gauges, delta-of-delta steady counters; L1 is a cheap size proxy.
    d = np.diff(src)
    seg_d = np.repeat(np.arange(lengths.size), lengths)[:-1]
    inner = np.ones(d.size, bool)
    inner[starts[1:] - 1] = False
    prev = np.zeros_like(d)
    prev[1:] = d[:-1]
    prev[starts[starts < d.size]] = 0
    dd = d - prev
    second = inner & np.repeat(dec, lengths)[:-1]
    second[starts[starts < d.size]] = False
    l1_dd = np.bincount(seg_d[second], np.abs(dd[second]).astype(np.float64), lengths.size)
    l1_d1 = np.bincount(seg_d[second], np.abs(d[second]).astype(np.float64), lengths.size)
    use_dod = dec & (lengths > 2) & (l1_dd < l1_d1)
    stream_int, base = _int_streams(src, starts, lengths, use_dod)
    xor = ~dec
    if xor.any():
        ub = x.view(np.uint64)
        xs = ub[1:] ^ ub[:-1]
        xs = xs[inner]
        mask = np.repeat(xor, lengths - 1)
        stream = np.where(mask, xs, stream_int)
    else:
        stream = stream_int
    codec = np.where(xor, FLOAT_XOR, np.where(use_dod, FLOAT_DEC_DOD, FLOAT_DEC_DELTA))
    scale = np.where(dec, k, 0).astype(np.uint8)
    return stream, codec.astype(np.uint8), scale, base


def _concat_columns(parts: list[tuple[U64, np.ndarray, np.ndarray, I64, I64]]) -> _Columns:
    """Interleave per-kind column sets into entry order (all columns of an entry together).

    ``parts`` are (stream, codec, scale, base, n) for each column kind, each
    with one column per entry; the result orders columns entry-major.
    """
    ncols = len(parts)
    entries = parts[0][4].size
    n = np.stack([p[4] for p in parts], 1).reshape(-1)
    codec = np.stack([p[1] for p in parts], 1).reshape(-1).astype(np.uint8)
    scale = np.stack([p[2] for p in parts], 1).reshape(-1).astype(np.uint8)
    base = np.stack([p[3] for p in parts], 1).reshape(-1).astype(np.int64)
    if ncols == 1:
        stream = parts[0][0]
    else:
        # Streams are per kind, segment after segment; reorder to entry-major.
        m = np.stack([p[4] - 1 for p in parts], 1).reshape(-1)
        src_start = np.stack(
            [
                _exclusive(p[4] - 1) + off
                for p, off in zip(parts, _kind_offsets(parts), strict=True)
            ],
            1,
        ).reshape(-1)
        allstreams = np.concatenate([p[0] for p in parts])
        idx = np.repeat(src_start - _exclusive(m), m) + np.arange(int(m.sum()))
        stream = allstreams[idx]
    del entries
    return _Columns(n, codec, scale, base, stream=stream)


def _kind_offsets(parts: list[tuple[U64, np.ndarray, np.ndarray, I64, I64]]) -> list[int]:
    offs, pos = [], 0
    for p in parts:
        offs.append(pos)
        pos += int(p[0].size)
    return offs


def _widths(cols: _Columns) -> None:
    m = cols.n - 1
    w = np.zeros(m.size, np.uint8)
    nz = m > 0
    if nz.any():
        starts = _exclusive(m)[nz]
        w[nz] = _byte_widths(np.maximum.reduceat(cols.stream, starts))
    cols.width = w


def _plane_index(m: I64, w: npt.NDArray[np.uint8], row0: I64) -> tuple[I64, I64]:
    """(row, plane) of every payload byte: column-major, then plane, then element."""
    wi = w.astype(np.int64)
    g_col = np.repeat(np.arange(m.size), wi)
    g_plane = np.arange(g_col.size) - np.repeat(_exclusive(wi), wi)
    g_len = m[g_col]
    total = int(g_len.sum())
    rows = np.repeat(row0[g_col] - _exclusive(g_len), g_len) + np.arange(total)
    return rows, np.repeat(g_plane, g_len)


def _shuffle(cols: _Columns) -> npt.NDArray[np.uint8]:
    m = cols.n - 1
    planes = cols.stream.astype("<u8", copy=False).view(np.uint8).reshape(-1, 8)
    rows, plane = _plane_index(m, cols.width, _exclusive(m))
    return planes[rows, plane]


# -- encoding ------------------------------------------------------------------------
def _frames(entry_bytes: I64, frame_bytes: int | None) -> npt.NDArray[np.int32]:
    """Frame of each entry: consecutive entries until about ``frame_bytes`` of payload."""
    if frame_bytes is None or entry_bytes.size == 0:
        return np.zeros(entry_bytes.size, np.int32)
    start = _exclusive(entry_bytes)
    f = start // max(frame_bytes, 1)
    return runs_of_sorted(f).astype(np.int32)  # f never decreases


def _assemble(
    kind: int,
    sids: I32,
    tsref: I32,
    entry_n: I64,
    ncols: npt.NDArray[np.int32],
    cols: _Columns,
    *,
    level: int,
    frame_bytes: int | None,
) -> tuple[bytes, bytes]:
    _widths(cols)
    payload = _shuffle(cols)
    col_bytes = (cols.n - 1) * cols.width.astype(np.int64)
    col_entry = np.repeat(np.arange(entry_n.size), ncols)
    entry_bytes = np.bincount(col_entry, col_bytes, entry_n.size).astype(np.int64)
    frame = _frames(entry_bytes, frame_bytes)
    nframes = int(frame[-1]) + 1 if frame.size else 0
    frame_raw = np.bincount(frame, entry_bytes, nframes).astype(np.int64)
    bounds = np.concatenate(([0], np.cumsum(frame_raw)))
    comp = _compressor(level)
    blobs = []
    for f in range(nframes):
        z = comp.compress(payload[bounds[f] : bounds[f + 1]].tobytes())
        blobs.append(z + _CRC.pack(zlib.crc32(z)))
    frame_off = np.concatenate(([0], np.cumsum([len(b) for b in blobs]))).astype(np.int64)
    arrays = b"".join(
        a.astype(dt, copy=False).tobytes()
        for a, dt in (
            (sids, "<i4"),
            (tsref, "<i4"),
            (entry_n, "<i4"),
            (frame, "<i4"),
            (cols.codec, "u1"),
            (cols.scale, "u1"),
            (cols.width, "u1"),
            (cols.base, "<i8"),
            (frame_off, "<i8"),
            (frame_raw, "<i8"),
        )
    )
    head = _HEAD.pack(_MAGIC, _VERSION, kind, sids.size, entry_n.size, cols.n.size, nframes)
    body = head + comp.compress(arrays)
    return body + _CRC.pack(zlib.crc32(body)), b"".join(blobs)


def _segments(refs: I32) -> tuple[I64, I64]:
    n = refs.size
    starts = np.flatnonzero(np.concatenate(([True], refs[1:] != refs[:-1]))).astype(np.int64)
    lengths = np.diff(np.append(starts, n)).astype(np.int64)
    return starts, lengths


def encode_raw_block(
    refs: I32,
    ts: I64,
    vals: F64,
    *,
    level: int = 3,
    frame_bytes: int | None = None,
    hint: npt.NDArray[np.int8] | None = None,
) -> tuple[bytes, bytes]:
    """(dir, data) for samples sorted by (ref, ts) without duplicate (ref, ts).

    Series with identical timestamp columns store them once. ``hint`` (per
    sample) is the likely decimal scale of the values, tried first.
    """
    starts, lengths = _segments(refs)
    sids = refs[starts].astype(np.int32)
    # Distinct timestamp columns: keyed by their bytes (one Python step per series).
    seen: dict[bytes, int] = {}
    tsref = np.empty(sids.size, np.int32)
    firsts: list[int] = []
    tsb = ts.astype("<i8", copy=False)
    for i, (a, n) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        key = tsb[a : a + n].tobytes()
        j = seen.get(key)
        if j is None:
            j = seen[key] = len(firsts)
            firsts.append(i)
        tsref[i] = j
    uniq = np.array(firsts, np.int64)
    u_len = lengths[uniq]
    u_src = np.repeat(starts[uniq] - _exclusive(u_len), u_len) + np.arange(int(u_len.sum()))
    u_ts = ts[u_src]
    u_starts = _exclusive(u_len)
    ts_stream, ts_base = _int_streams(u_ts, u_starts, u_len, np.ones(u_len.size, bool))
    v_stream, v_codec, v_scale, v_base = _float_columns(vals, starts, lengths, hint=hint)
    cols = _Columns(
        n=np.concatenate((u_len, lengths)),
        codec=np.concatenate((np.full(u_len.size, TS_DOD, np.uint8), v_codec)),
        scale=np.concatenate((np.zeros(u_len.size, np.uint8), v_scale)),
        base=np.concatenate((ts_base, v_base)),
        stream=np.concatenate((ts_stream, v_stream)),
    )
    entry_n = cols.n
    ncols = np.ones(entry_n.size, np.int32)
    return _assemble(
        RAW_KIND, sids, tsref, entry_n, ncols, cols, level=level, frame_bytes=frame_bytes
    )


def encode_rollup_block(
    refs: I32,
    t: I64,
    count: I64,
    mn: F64,
    mx: F64,
    sm: F64,
    last: F64,
    *,
    level: int = 3,
    frame_bytes: int | None = None,
    hint: npt.NDArray[np.int8] | None = None,
) -> tuple[bytes, bytes]:
    """(dir, data) for rollup rows sorted by (ref, t) without duplicate (ref, t).

    ``hint`` (per row) is the likely decimal scale of the values, tried first.
    """
    starts, lengths = _segments(refs)
    sids = refs[starts].astype(np.int32)
    s = sids.size
    parts: list[tuple[U64, np.ndarray, np.ndarray, I64, I64]] = []
    t_stream, t_base = _int_streams(t, starts, lengths, np.ones(s, bool))
    parts.append((t_stream, np.full(s, TS_DOD), np.zeros(s), t_base, lengths))
    c_stream, c_base = _int_streams(count, starts, lengths, np.zeros(s, bool))
    parts.append((c_stream, np.full(s, INT_DELTA), np.zeros(s), c_base, lengths))
    for col, tol in ((mn, 0.0), (mx, 0.0), (sm, SUM_REL_TOL), (last, 0.0)):
        st_, codec, scale, base = _float_columns(col, starts, lengths, rel_tol=tol, hint=hint)
        parts.append((st_, codec, scale, base, lengths))
    cols = _concat_columns(parts)
    ncols = np.full(s, 6, np.int32)
    return _assemble(
        ROLLUP_KIND,
        sids,
        np.full(s, -1, np.int32),
        lengths,
        ncols,
        cols,
        level=level,
        frame_bytes=frame_bytes,
    )


# -- decoding ------------------------------------------------------------------------
@dataclass(slots=True)
class Block:
    """A parsed ``dir``: where every series' columns are, and how they are coded."""

    kind: int
    sids: I32
    tsref: I32
    entry_n: I64
    entry_frame: I32
    codec: npt.NDArray[np.uint8]
    scale: npt.NDArray[np.uint8]
    width: npt.NDArray[np.uint8]
    base: I64
    frame_off: I64
    frame_raw: I64
    entry_col0: I64  # first column of each entry
    col_off: I64  # byte offset of each column inside its frame's payload

    @property
    def ncols(self) -> int:
        return 1 if self.kind == RAW_KIND else 6

    @property
    def n_ts(self) -> int:
        return int(self.entry_n.size - self.sids.size)

    def find(self, sid: int) -> int:
        """Index of ``sid`` among the block's series, or -1."""
        i = int(np.searchsorted(self.sids, sid))
        return i if i < self.sids.size and int(self.sids[i]) == sid else -1

    def entries_of(self, series: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Entries holding the given series indexes (and, for raw, their timestamps)."""
        ent = series + self.n_ts
        if self.kind == RAW_KIND:
            ent = union(ent, self.tsref[series].astype(np.int64))
        return np.asarray(ent, np.int64)


def parse_dir(blob: bytes | memoryview) -> Block:
    view = memoryview(blob)
    if len(view) < _HEAD.size + _CRC.size:
        raise ChunkCorruptError("block directory too short")
    body = view[: -_CRC.size]
    if zlib.crc32(body) != _CRC.unpack(view[-_CRC.size :])[0]:
        raise ChunkCorruptError("block directory checksum mismatch")
    magic, version, kind, s, e, c, f = _HEAD.unpack_from(body)
    if magic != _MAGIC or version != _VERSION or kind not in (RAW_KIND, ROLLUP_KIND):
        raise ChunkCorruptError(f"unknown block format {bytes(magic)!r} v{version} kind {kind}")
    try:
        arrays = _decompressor().decompress(body[_HEAD.size :])
    except zstandard.ZstdError as exc:
        raise ChunkCorruptError(f"block directory does not decompress: {exc}") from None
    sizes = [(s, "<i4"), (s, "<i4"), (e, "<i4"), (e, "<i4")]
    sizes += [(c, "u1"), (c, "u1"), (c, "u1"), (c, "<i8"), (f + 1, "<i8"), (f, "<i8")]
    if len(arrays) != sum(n * np.dtype(dt).itemsize for n, dt in sizes):
        raise ChunkCorruptError("block directory length does not match its header")
    out: list[np.ndarray] = []
    pos = 0
    for n, dt in sizes:
        a = np.frombuffer(arrays, dt, n, pos)
        pos += n * np.dtype(dt).itemsize
        out.append(a)
    sids, tsref, entry_n, entry_frame, codec, scale, width, base, frame_off, frame_raw = out
    ncols = 1 if kind == RAW_KIND else 6
    if c != e * ncols or e < s or (e and int(entry_n.min()) < 1):
        raise ChunkCorruptError("block directory shape is inconsistent")
    entry_n = entry_n.astype(np.int64)
    col_n = np.repeat(entry_n, ncols)
    col_bytes = (col_n - 1).clip(0) * width.astype(np.int64)
    col_frame = np.repeat(entry_frame, ncols)
    col_off = _exclusive(col_bytes)
    if c:
        first_of_frame = np.concatenate(([True], col_frame[1:] != col_frame[:-1]))
        frame_start = np.maximum.accumulate(np.where(first_of_frame, col_off, 0))
        col_off = col_off - frame_start
    return Block(
        kind=kind,
        sids=sids.astype(np.int32),
        tsref=tsref.astype(np.int32),
        entry_n=entry_n,
        entry_frame=entry_frame.astype(np.int32),
        codec=codec.copy(),
        scale=scale.copy(),
        width=width.copy(),
        base=base.astype(np.int64),
        frame_off=frame_off.astype(np.int64),
        frame_raw=frame_raw.astype(np.int64),
        entry_col0=np.arange(e, dtype=np.int64) * ncols,
        col_off=col_off,
    )


class FrameReader:
    """Reads and checks a block's frames from ``data`` (bytes or an open SQLite blob)."""

    def __init__(self, block: Block, data: object) -> None:
        self.block = block
        self.data = data
        self.cache: dict[int, bytes] = {}

    def frame(self, f: int) -> bytes:
        got = self.cache.get(f)
        if got is not None:
            return got
        a, b = int(self.block.frame_off[f]), int(self.block.frame_off[f + 1])
        raw = self.data[a:b]  # type: ignore[index]
        if len(raw) != b - a or b - a < _CRC.size:
            raise ChunkCorruptError(f"frame {f} is truncated")
        z = raw[: -_CRC.size]
        if zlib.crc32(z) != _CRC.unpack(raw[-_CRC.size :])[0]:
            raise ChunkCorruptError(f"frame {f} checksum mismatch")
        try:
            payload = _decompressor().decompress(z) if len(z) else b""
        except zstandard.ZstdError as exc:
            raise ChunkCorruptError(f"frame {f} does not decompress: {exc}") from None
        if len(payload) != int(self.block.frame_raw[f]):
            raise ChunkCorruptError(f"frame {f} length does not match the directory")
        self.cache[f] = payload
        return payload


@dataclass(slots=True)
class Flat:
    """Decoded columns back to back: ``n`` points each; ints, and floats where floats."""

    n: I64
    ints: I64
    floats: F64
    is_int: BOOL  # per column: an integer column (timestamps, counts)
    hint: npt.NDArray[np.int8]  # per point: its column's decimal scale, -1 if not decimal


def decode_flat(reader: FrameReader, entries: npt.NDArray[np.int64]) -> Flat:
    """The columns of the given entries, in that order, decoded in whole-array steps."""
    blk = reader.block
    nc = blk.ncols if blk.kind == ROLLUP_KIND else 1
    cols = (blk.entry_col0[entries][:, None] + np.arange(nc)).reshape(-1)
    n = np.repeat(blk.entry_n[entries], nc)
    m = (n - 1).clip(0)
    w = blk.width[cols]
    nbytes = m * w.astype(np.int64)
    frames = np.repeat(blk.entry_frame[entries], nc)
    if entries.size == blk.entry_n.size and bool(np.all(entries == np.arange(entries.size))):
        # Everything, in order (compaction): the frames back to back are the payload.
        joined = b"".join(reader.frame(f) for f in range(blk.frame_raw.size))
    else:
        pieces = []
        for f, off, size in zip(
            frames.tolist(), blk.col_off[cols].tolist(), nbytes.tolist(), strict=True
        ):
            if size:
                pieces.append(reader.frame(f)[off : off + size])
        joined = b"".join(pieces)
    buf = np.frombuffer(joined, np.uint8)
    planes = np.zeros((int(m.sum()), 8), np.uint8)
    if buf.size:
        rows, plane = _plane_index(m, w, _exclusive(m))
        planes[rows, plane] = buf
    u = planes.view("<u8").reshape(-1).astype(np.uint64, copy=False)
    codec = blk.codec[cols]
    base = blk.base[cols]
    scale = blk.scale[cols]
    # Rebuild each column: its base, then its stream (entries have >= 1 point).
    o = _exclusive(n)
    col_of = np.repeat(np.arange(n.size), n)
    is_base = np.zeros(int(n.sum()), bool)
    is_base[o] = True
    d = _unzigzag(u)
    dod = (codec == TS_DOD) | (codec == FLOAT_DEC_DOD)
    if dod.any() and d.size:
        sm = np.repeat(np.arange(m.size), m)
        cs = np.cumsum(d)
        first = np.minimum(_exclusive(m), d.size - 1)
        d = np.where(dod[sm], cs - (cs[first] - d[first])[sm], d)
    y = np.empty(is_base.size, np.int64)
    y[o] = base
    y[~is_base] = d
    cs_y = np.cumsum(y)
    out = cs_y - (cs_y[o] - y[o])[col_of]
    xv = out
    if (codec == FLOAT_XOR).any():
        ub = y.view(np.uint64).copy()
        ub[~is_base] = u
        acc = np.bitwise_xor.accumulate(ub)
        xv = (acc ^ (acc[o] ^ ub[o])[col_of]).view(np.int64)
    if not (np.isin(codec, _CODECS)).all():
        raise ChunkCorruptError(f"unknown column codec in {sorted(set(codec.tolist()))}")
    if int(scale.max(initial=0)) > MAX_DECIMALS:
        raise ChunkCorruptError("bad decimal scale")
    is_int = (codec == TS_DOD) | (codec == INT_DELTA)
    floats = out.astype(np.float64) / _POW10[scale.astype(np.int64)][col_of]
    if (codec == FLOAT_XOR).any():
        floats = np.where((codec == FLOAT_XOR)[col_of], xv.view(np.float64), floats)
    dec = (codec == FLOAT_DEC_DELTA) | (codec == FLOAT_DEC_DOD)
    hint = np.where(dec, scale.astype(np.int8), np.int8(-1)).astype(np.int8)[col_of]
    return Flat(n, out, floats, is_int, hint)


def decode_entries(reader: FrameReader, entries: npt.NDArray[np.int64]) -> list[list[np.ndarray]]:
    """The decoded columns of each entry (in the order given)."""
    if entries.size <= _FEW:
        return _decode_few(reader, entries)
    flat = decode_flat(reader, entries)
    nc = reader.block.ncols if reader.block.kind == ROLLUP_KIND else 1
    bounds = np.concatenate(([0], np.cumsum(flat.n))).tolist()
    result: list[list[np.ndarray]] = []
    for j in range(len(entries)):
        row: list[np.ndarray] = []
        for k in range(nc):
            c = j * nc + k
            a, b = bounds[c], bounds[c + 1]
            row.append(flat.ints[a:b] if flat.is_int[c] else flat.floats[a:b])
        result.append(row)
    return result


#: Up to this many entries (a reader's few series), columns are decoded one by one:
#: fewer numpy calls than the whole-array path, which pays off for many series.
_FEW = 4


def _decode_few(reader: FrameReader, entries: npt.NDArray[np.int64]) -> list[list[np.ndarray]]:
    blk = reader.block
    nc = blk.ncols if blk.kind == ROLLUP_KIND else 1
    out: list[list[np.ndarray]] = []
    for e in entries.tolist():
        n = int(blk.entry_n[e])
        f = int(blk.entry_frame[e])
        row: list[np.ndarray] = []
        for c in range(int(blk.entry_col0[e]), int(blk.entry_col0[e]) + nc):
            codec, scale, width = int(blk.codec[c]), int(blk.scale[c]), int(blk.width[c])
            if codec not in _CODECS_SET or scale > MAX_DECIMALS or width > 8:
                raise ChunkCorruptError(f"bad column header (codec {codec}, scale {scale})")
            off = int(blk.col_off[c])
            size = (n - 1) * width
            buf = memoryview(reader.frame(f))[off : off + size] if size else memoryview(b"")
            if len(buf) != size:
                raise ChunkCorruptError("column runs past its frame")
            stream = _unshuffle(buf, n - 1, width)
            row.append(_decode_column(_Encoded(codec, scale, width, int(blk.base[c]), stream), n))
        out.append(row)
    return out


def gather(n: I64, cols: I64) -> npt.NDArray[np.intp]:
    """Flat indexes of the given columns' points (columns of lengths ``n``, back to back)."""
    start = _exclusive(n)
    ln = n[cols]
    return np.repeat(start[cols] - _exclusive(ln), ln) + np.arange(int(ln.sum()))


def decode_series(reader: FrameReader, series: npt.NDArray[np.int64]) -> list[list[np.ndarray]]:
    """Columns of the given series indexes: raw ``[ts, vals]``, rollups the six columns."""
    blk = reader.block
    if blk.kind == ROLLUP_KIND:
        return decode_entries(reader, series + blk.n_ts)
    ents = blk.entries_of(series)
    cols = decode_entries(reader, ents)
    by_entry = {int(e): c[0] for e, c in zip(ents.tolist(), cols, strict=True)}
    return [[by_entry[int(blk.tsref[i])], by_entry[int(i) + blk.n_ts]] for i in series.tolist()]


def decode_series_flat(reader: FrameReader, series: npt.NDArray[np.int64]) -> tuple[I64, I64, F64]:
    """A raw block's given series indexes as ``(lengths, ts, vals)``, back to back.

    ``decode_series`` without the per-series lists: the store's many-series
    read (``read_columns``) wants flat arrays, and building two array views
    per series is most of the cost of a read of thousands of them.
    """
    blk = reader.block
    if blk.kind != RAW_KIND:
        raise ValueError("decode_series_flat reads raw blocks only")
    ents = blk.entries_of(series)  # sorted, distinct
    flat = decode_flat(reader, ents)
    at_ts = np.searchsorted(ents, blk.tsref[series].astype(np.int64))
    at_val = np.searchsorted(ents, series + blk.n_ts)
    lengths = flat.n[at_val]
    if not np.array_equal(lengths, flat.n[at_ts]):
        raise ChunkCorruptError("a series' value and timestamp columns differ in length")
    ts = flat.ints[gather(flat.n, at_ts)]
    vals = flat.floats[gather(flat.n, at_val)]
    return lengths.astype(np.int64, copy=False), ts, vals
