"""Write-ahead log records: one appended batch as three compressed columns.

Why a record per batch inside SQLite (table ``wal``) rather than a separate
log file: the record, any new series it introduces, and later the chunks
that replace it all commit in SQLite transactions, so a ``kill -9`` can never
leave a batch half-written or a series id without its definition, and a
reader in another process sees exactly the committed records.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt
import zstandard

__all__ = ["WalCorruptError", "decode_record", "encode_record"]

_HEAD = struct.Struct("<BI")  # version, n
_VERSION = 1


class WalCorruptError(ValueError):
    """A WAL record that does not decode."""


def encode_record(
    refs: npt.NDArray[np.int32], ts: npt.NDArray[np.int64], vals: npt.NDArray[np.float64]
) -> bytes:
    n = int(ts.shape[0])
    body = b"".join(
        (
            refs.astype("<i4", copy=False).tobytes(),
            ts.astype("<i8", copy=False).tobytes(),
            vals.astype("<f8", copy=False).tobytes(),
        )
    )
    data = _HEAD.pack(_VERSION, n) + zstandard.ZstdCompressor(level=1).compress(body)
    return data + struct.pack("<I", zlib.crc32(data))


def decode_record(
    blob: bytes,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    if len(blob) < _HEAD.size + 4:
        raise WalCorruptError("record too short")
    data, (crc,) = blob[:-4], struct.unpack("<I", blob[-4:])
    if zlib.crc32(data) != crc:
        raise WalCorruptError("checksum mismatch")
    version, n = _HEAD.unpack_from(data)
    if version != _VERSION:
        raise WalCorruptError(f"unknown record version {version}")
    try:
        body = zstandard.ZstdDecompressor().decompress(data[_HEAD.size :])
    except zstandard.ZstdError as exc:
        raise WalCorruptError(f"record does not decompress: {exc}") from None
    if len(body) != n * 20:
        raise WalCorruptError("record length does not match its header")
    refs = np.frombuffer(body, "<i4", n, 0).astype(np.int32)
    ts = np.frombuffer(body, "<i8", n, 4 * n).astype(np.int64)
    vals = np.frombuffer(body, "<f8", n, 12 * n).astype(np.float64)
    return refs, ts, vals
