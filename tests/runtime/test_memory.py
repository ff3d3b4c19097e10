"""Heap trimming hands freed memory back to the system (glibc)."""

from __future__ import annotations

import ctypes
import sys

import pytest

from watchkeeper.runtime.memory import limit_malloc_arenas, trim_heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_trim_releases_memory_freed_below_a_live_block() -> None:
    """Blocks freed under one still in use stay with the process until trimmed."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    trim_heap()  # start from a trimmed heap
    blocks = [libc.malloc(4096) for _ in range(8192)]  # 32 MB, below mmap's threshold
    pinned = libc.malloc(4096)  # keeps the heap's top from shrinking on free
    for b in blocks:
        libc.free(b)
    assert trim_heap() is True
    libc.free(pinned)
    limit_malloc_arenas()  # callable more than once, no error
