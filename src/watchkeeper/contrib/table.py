"""A per-process table of float64 counters in prometheus_client's mmap file layout.

Why this and not ``prometheus_client.values.MultiProcessValue``: that class
takes a lock and packs two doubles with ``struct`` for every single update,
and a histogram observation is several updates. Here each process owns its
file alone (one writer), the values are reached through a ``memoryview``
cast to doubles, so an update is one indexed ``+=`` on shared memory: it is
in the page cache the moment it is made, so a worker that is SIGKILLed or
recycled (``--max-requests``) loses nothing it already counted.

Layout (identical to ``prometheus_client.mmap_dict``): a 4-byte ``used``
length, 4 bytes of padding, then entries of a 4-byte key length, the UTF-8
key padded to 8-byte alignment, the value double and a timestamp double.
Values therefore sit on 8-byte boundaries and slot ``i`` of the double view
is byte offset ``8 * i``. Without a file (single-process mode) the same
layout lives in a ``bytearray``, so one reader serves both.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Table", "owner_alive", "read_entries"]

_INITIAL = 1 << 16
_INT = struct.Struct("i")
_DOUBLE = struct.Struct("d")


def _entry(key: str) -> bytes:
    encoded = key.encode("utf-8")
    # prometheus_client's padding rule: always 1..8 spaces, never 0.
    padded = encoded + b" " * (8 - (len(encoded) + 4) % 8)
    return _INT.pack(len(encoded)) + padded + b"\0" * 16


def read_entries(data: bytes | bytearray | memoryview | mmap.mmap) -> Iterator[tuple[str, float]]:
    """(key, value) for every entry in a table's bytes; stops at a torn tail."""
    if len(data) < 8:
        return
    used = _INT.unpack_from(data, 0)[0]
    used = min(used, len(data))
    pos = 8
    while pos + 4 <= used:
        length = _INT.unpack_from(data, pos)[0]
        padded = length + (8 - (length + 4) % 8)
        if length <= 0 or pos + 4 + padded + 16 > used:
            return  # a writer was mid-append when we read: the rest is not there yet
        key = bytes(data[pos + 4 : pos + 4 + length]).decode("utf-8")
        pos += 4 + padded
        yield key, _DOUBLE.unpack_from(data, pos)[0]
        pos += 16


def _open_owned(path: Path) -> int:
    """Open (or create) ``path`` holding a shared lock for as long as the process lives.

    The lock is how others tell a live owner from a dead one: it vanishes
    with the process, even on SIGKILL, and unlike a pid it cannot be reused
    or be invisible from another pid namespace. The inode check closes the
    race with a compaction that renamed the file just before we locked it.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def owner_alive(path: Path) -> bool:
    """Whether a process still holds ``path`` open as its table (see ``_open_owned``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the lock if we got it
    return False


class Table:
    """Keys (JSON strings) mapped to slots of ``values``, a memoryview of doubles.

    Single writer: the owning process, under its registry's lock. Readers in
    other processes parse the file with ``read_entries``; an entry becomes
    visible only once its bytes are complete (``used`` is written last).
    """

    def __init__(self, path: Path | None = None, *, reset: bool = False) -> None:
        self.path = path
        self._keep: list[object] = []  # old mappings stay alive: views may still point at them
        self.slots: dict[str, int] = {}
        if path is None:
            self._buf: bytearray | mmap.mmap = bytearray(_INITIAL)
            self._capacity = _INITIAL
            self._fd = -1
        else:
            self._fd = _open_owned(path)
            size = os.fstat(self._fd).st_size
            if size < _INITIAL:
                os.ftruncate(self._fd, _INITIAL)
                size = _INITIAL
            self._capacity = size
            self._buf = mmap.mmap(self._fd, size)
        self.values = memoryview(self._buf).cast("d")
        used = _INT.unpack_from(self._buf, 0)[0]
        if used < 8:
            self._used = 8
            _INT.pack_into(self._buf, 0, 8)
        else:
            # A file left by an earlier process with our pid: keep appending to it.
            self._used = used
            pos = 8
            for key, _ in read_entries(self._buf):
                length = len(key.encode("utf-8"))
                pos += 4 + length + (8 - (length + 4) % 8)
                self.slots[key] = pos // 8
                pos += 16
            self._used = pos
            if reset:  # live gauges of a dead process mean nothing now
                for slot in self.slots.values():
                    self.values[slot] = 0.0

    @property
    def used(self) -> int:
        return self._used

    def slot(self, key: str) -> int:
        """The slot of ``key``, appending a zeroed entry the first time."""
        found = self.slots.get(key)
        if found is not None:
            return found
        entry = _entry(key)
        end = self._used + len(entry)
        if end > self._capacity:
            self._grow(end)
        self._buf[self._used : end] = entry
        slot = (end - 16) // 8
        self._used = end
        _INT.pack_into(self._buf, 0, end)  # publish last: readers never see a half entry
        self.slots[key] = slot
        return slot

    def _grow(self, needed: int) -> None:
        capacity = self._capacity
        while capacity < needed:
            capacity *= 2
        self._keep.append((self._buf, self.values))
        if self._fd < 0:
            buf = bytearray(capacity)
            buf[: self._used] = self._buf[: self._used]
            self._buf = buf
        else:
            os.ftruncate(self._fd, capacity)
            self._buf = mmap.mmap(self._fd, capacity)
        self._capacity = capacity
        self.values = memoryview(self._buf).cast("d")

    def snapshot(self) -> bytes:
        """The used bytes (what a reader of the file would see)."""
        return bytes(self._buf[: self._used])

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
