"""Chunk codec: columns of timestamps and floats in a few bytes per sample.

Why this shape: pure-Python bit packing (Gorilla's delta-of-delta + XOR, one
sample at a time) costs microseconds per sample, far too slow for a store that
must ingest a million samples a second. Every step here is a whole-array numpy
operation instead:

* timestamps -> delta-of-delta, zigzag (small signed -> small unsigned);
* floats that are decimals in disguise (``37.42``, counters, constants) ->
  exact scaled integers, then delta or delta-of-delta, zigzag; other floats
  -> XOR with the previous value (Gorilla's idea, without the bit packing);
* every column is *byte-shuffled* (all low bytes, then all next bytes, ...)
  and only the bytes that are ever non-zero are kept, so zstd sees long runs
  of near-identical bytes and entropy-codes the rest.

The round trip is bit-exact for every float64 (NaN payloads, -0.0, +-Inf,
Prometheus's stale marker 0x7ff0000000000002) and every int64: decimal
scaling is used only when decoding reproduces the very same bits. A chunk
carries a CRC32 so that a damaged chunk is reported, never decoded into
wrong numbers.
"""

from __future__ import annotations

import struct
import threading
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import zstandard

__all__ = [
    "ChunkCorruptError",
    "DecimalScale",
    "decimal_scale",
    "decode_chunk",
    "encode_chunk",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U64 = npt.NDArray[np.uint64]

_VERSION = 1
_HEADER = struct.Struct("<2sBBIB")  # magic, version, kind, n, ncols
_COLUMN = struct.Struct("<BBBq")  # codec, scale, width, base
_CRC = struct.Struct("<I")
_MAGIC = b"WK"

# Column codecs.
TS_DOD = 1  # int64, delta-of-delta
INT_DELTA = 2  # int64, delta
FLOAT_DEC_DELTA = 3  # float64 as exact decimal integers, delta
FLOAT_DEC_DOD = 4  # float64 as exact decimal integers, delta-of-delta
FLOAT_XOR = 5  # float64 bits XOR previous

#: Largest number of decimal digits tried before falling back to XOR.
MAX_DECIMALS = 9
_TWO53 = float(2**53)
_POW10 = [10.0**k for k in range(MAX_DECIMALS + 1)]

# Column kinds in a chunk's schema, checked when decoding.
TS = "ts"
INT = "int"
FLOAT = "float"


class ChunkCorruptError(ValueError):
    """A chunk whose bytes do not decode (bad CRC, truncated, unknown codec)."""


@dataclass(frozen=True, slots=True)
class DecimalScale:
    """Values that are exactly ``ints / 10**decimals``."""

    decimals: int
    ints: I64


def decimal_scale(values: F64, *, rel_tol: float = 0.0) -> DecimalScale | None:
    """The fewest decimals ``k`` with ``values == round(values * 10**k) / 10**k``.

    Exact (bit for bit) unless ``rel_tol`` is given: rollup sums accept the
    nearest decimal, which is closer to the true sum than float addition is.
    """
    if values.size == 0:
        return DecimalScale(0, np.zeros(0, np.int64))
    if not np.isfinite(values).all():
        return None
    bits = values.view(np.int64)
    peak = float(np.abs(values).max())
    for k, scale in enumerate(_POW10):
        if peak * scale >= _TWO53:
            return None
        ints = np.rint(values * scale).astype(np.int64)
        back = ints.astype(np.float64) / scale if k else ints.astype(np.float64)
        if rel_tol:
            if np.all(np.abs(back - values) <= rel_tol * np.abs(values)):
                return DecimalScale(k, ints)
        elif np.array_equal(back.view(np.int64), bits):
            return DecimalScale(k, ints)
    return None


# -- integer streams ---------------------------------------------------------
def _zigzag(x: I64) -> U64:
    return ((x << 1) ^ (x >> 63)).view(np.uint64)


def _unzigzag(u: U64) -> I64:
    return ((u >> np.uint64(1)).view(np.int64)) ^ -((u & np.uint64(1)).view(np.int64))


def _width(u: U64) -> int:
    if u.size == 0:
        return 0
    return (int(u.max()).bit_length() + 7) // 8


def _shuffle(u: U64, width: int) -> bytes:
    if width == 0 or u.size == 0:
        return b""
    planes = u.view(np.uint8).reshape(-1, 8)[:, :width]
    return planes.T.tobytes()


def _unshuffle(buf: memoryview, n: int, width: int) -> U64:
    out = np.zeros((n, 8), np.uint8)
    if width and n:
        out[:, :width] = np.frombuffer(buf, np.uint8, n * width).reshape(width, n).T
    return out.view(np.uint64).reshape(n)


@dataclass(frozen=True, slots=True)
class _Encoded:
    codec: int
    scale: int
    width: int
    base: int
    stream: U64


def _int_stream(x: I64, codec: int, scale: int = 0) -> _Encoded:
    """Delta (or delta-of-delta) of ``x`` after its first value, zigzagged."""
    base = int(x[0]) if x.size else 0
    d = np.diff(x)
    if codec in (TS_DOD, FLOAT_DEC_DOD) and d.size:
        d = np.diff(d, prepend=np.int64(0))
    u = _zigzag(d)
    return _Encoded(codec, scale, _width(u), base, u)


def _encode_ts(x: I64) -> _Encoded:
    return _int_stream(x, TS_DOD)


def _encode_int(x: I64) -> _Encoded:
    return _int_stream(x, INT_DELTA)


_UNKNOWN = DecimalScale(-1, np.zeros(0, np.int64))


def _encode_float(
    x: F64, *, rel_tol: float = 0.0, known: DecimalScale | None = _UNKNOWN
) -> _Encoded:
    dec = decimal_scale(x, rel_tol=rel_tol) if known is _UNKNOWN else known
    if dec is not None and x.size > 2:
        d = np.diff(dec.ints)
        dd = np.diff(d)
        # Delta suits noisy gauges, delta-of-delta steady counters; L1 is a cheap size proxy.
        codec = FLOAT_DEC_DOD if np.abs(dd).sum() < np.abs(d[1:]).sum() else FLOAT_DEC_DELTA
        return _int_stream(dec.ints, codec, dec.decimals)
    if dec is not None:
        return _int_stream(dec.ints, FLOAT_DEC_DELTA, dec.decimals)
    bits = x.view(np.uint64)
    base = int(bits[0].view(np.int64)) if x.size else 0
    u = bits[1:] ^ bits[:-1]
    return _Encoded(FLOAT_XOR, 0, _width(u), base, u)


def _decode_column(col: _Encoded, n: int) -> I64 | F64:
    u = col.stream
    if col.codec == FLOAT_XOR:
        out = np.empty(n, np.uint64)
        if n:
            out[0] = np.int64(col.base).view(np.uint64)
            out[1:] = u
            np.bitwise_xor.accumulate(out, out=out)
        return out.view(np.float64)
    d = _unzigzag(u)
    if col.codec in (TS_DOD, FLOAT_DEC_DOD):
        d = np.cumsum(d)
    ints = np.empty(n, np.int64)
    if n:
        ints[0] = col.base
        ints[1:] = d
        np.cumsum(ints, out=ints)
    if col.codec in (TS_DOD, INT_DELTA):
        return ints
    if col.codec in (FLOAT_DEC_DELTA, FLOAT_DEC_DOD):
        floats = ints.astype(np.float64)
        return floats / _POW10[col.scale] if col.scale else floats
    raise ChunkCorruptError(f"unknown column codec {col.codec}")


# -- chunks -----------------------------------------------------------------
_local = threading.local()


#: Compression tables are sized for inputs up to this (frames are ~16 KB).
#: Left to itself a level-9 context sizes them for any input and keeps
#: ~10 MB resident per thread; sized like this it keeps ~1.5 MB for the
#: same output on our frames.
_SOURCE_SIZE_HINT = 128 * 1024


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache: dict[int, zstandard.ZstdCompressor] = _local.__dict__.setdefault("c", {})
    comp = cache.get(level)
    if comp is None:
        params = zstandard.ZstdCompressionParameters.from_level(
            level, source_size=_SOURCE_SIZE_HINT
        )
        comp = cache[level] = zstandard.ZstdCompressor(compression_params=params)
    return comp


def _decompressor() -> zstandard.ZstdDecompressor:
    dec = _local.__dict__.get("d")
    if dec is None:
        dec = _local.d = zstandard.ZstdDecompressor()
    return dec


#: Column kinds per chunk kind (0 = raw samples, 1 = rollup).
SCHEMAS: dict[int, tuple[str, ...]] = {
    0: (TS, FLOAT),
    1: (TS, INT, FLOAT, FLOAT, FLOAT, FLOAT),  # t, count, min, max, sum, last
}
#: Rollup sums are stored as the nearest decimal within this relative error.
SUM_REL_TOL = 1e-12


def encode_chunk(
    kind: int,
    columns: list[I64 | F64],
    *,
    level: int = 3,
    value_scale: DecimalScale | None = _UNKNOWN,
) -> bytes:
    """Encode equally long columns (first: timestamps) into one self-checking blob.

    ``value_scale`` is ``decimal_scale`` of a raw chunk's values when the
    caller already computed it (the cut does, for the rollups' exact sums).
    """
    schema = SCHEMAS[kind]
    n = int(columns[0].shape[0])
    encoded: list[_Encoded] = []
    for i, (col_kind, col) in enumerate(zip(schema, columns, strict=True)):
        if col.shape[0] != n:
            raise ValueError(f"column {i} has {col.shape[0]} values, expected {n}")
        if col_kind == TS:
            encoded.append(_encode_ts(np.ascontiguousarray(col, np.int64)))
        elif col_kind == INT:
            encoded.append(_encode_int(np.ascontiguousarray(col, np.int64)))
        else:
            tol = SUM_REL_TOL if kind == 1 and i == 4 else 0.0
            known = value_scale if kind == 0 else _UNKNOWN
            encoded.append(
                _encode_float(np.ascontiguousarray(col, np.float64), rel_tol=tol, known=known)
            )
    parts = [_HEADER.pack(_MAGIC, _VERSION, kind, n, len(encoded))]
    parts += [_COLUMN.pack(c.codec, c.scale, c.width, c.base) for c in encoded]
    payload = b"".join(_shuffle(c.stream, c.width) for c in encoded)
    parts.append(_compressor(level).compress(payload))
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def decode_chunk(blob: bytes | memoryview, kind: int | None = None) -> list[I64 | F64]:
    """The columns of a chunk; raises ChunkCorruptError on any damage."""
    view = memoryview(blob)
    if len(view) < _HEADER.size + _CRC.size:
        raise ChunkCorruptError(f"chunk too short ({len(view)} bytes)")
    body = view[: -_CRC.size]
    (crc,) = _CRC.unpack(view[-_CRC.size :])
    if zlib.crc32(body) != crc:
        raise ChunkCorruptError("checksum mismatch")
    magic, version, got_kind, n, ncols = _HEADER.unpack_from(body)
    if magic != _MAGIC or version != _VERSION:
        raise ChunkCorruptError(f"unknown chunk format {bytes(magic)!r} v{version}")
    schema = SCHEMAS.get(got_kind)
    if schema is None or len(schema) != ncols or (kind is not None and kind != got_kind):
        raise ChunkCorruptError(f"unexpected chunk kind {got_kind} with {ncols} columns")
    off = _HEADER.size
    cols: list[_Encoded] = []
    for _ in range(ncols):
        codec, scale, width, base = _COLUMN.unpack_from(body, off)
        off += _COLUMN.size
        if width > 8 or scale > MAX_DECIMALS:
            raise ChunkCorruptError(f"bad column header (width {width}, scale {scale})")
        cols.append(_Encoded(codec, scale, width, base, np.zeros(0, np.uint64)))
    try:
        payload = memoryview(_decompressor().decompress(body[off:]))
    except zstandard.ZstdError as exc:
        raise ChunkCorruptError(f"payload does not decompress: {exc}") from None
    m = max(n - 1, 0)
    if len(payload) != sum(c.width for c in cols) * m:
        raise ChunkCorruptError("payload length does not match its header")
    out: list[I64 | F64] = []
    pos = 0
    for c in cols:
        size = c.width * m
        stream = _unshuffle(payload[pos : pos + size], m, c.width)
        pos += size
        out.append(_decode_column(_Encoded(c.codec, c.scale, c.width, c.base, stream), n))
    return out
