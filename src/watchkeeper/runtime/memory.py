"""Keeping the run process's resident memory down on glibc.

Why: a monitor that runs on every host should cost little memory, and two
glibc defaults make a long-running Python process hold more than it uses:
a malloc arena per thread that touched malloc (the run loop's collection,
writer, maintenance and web threads), and freed memory in the middle of an
arena, which ``free`` never hands back. ``bench/collect.py`` measures the
effect (docs/benchmarks.md). On other C libraries both are no-ops.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Callable
from functools import cache

__all__ = ["limit_malloc_arenas", "trim_heap"]

log = logging.getLogger("watchkeeper.runtime")

#: glibc's mallopt parameter for the number of malloc arenas.
_M_ARENA_MAX = -8


@cache
def _libc_function(name: str) -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn: Callable[..., int] | None = getattr(ctypes.CDLL(None), name, None)
    except OSError:
        return None
    return fn


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas, as MALLOC_ARENA_MAX would (which, if set, wins).

    Two arenas cost nothing measurable here and save about 5 MB.
    """
    mallopt = _libc_function("mallopt")
    if mallopt is not None and not os.environ.get("MALLOC_ARENA_MAX"):
        mallopt(_M_ARENA_MAX, arenas)


def trim_heap() -> bool:
    """Give the C heap's free pages back to the system (``malloc_trim(0)``).

    Start-up (imports, configuration, the first store reads) frees more than
    it keeps; without this the process holds ~4 MB it no longer uses.
    Returns whether anything was released.
    """
    malloc_trim = _libc_function("malloc_trim")
    if malloc_trim is None:
        return False
    return bool(malloc_trim(0))
