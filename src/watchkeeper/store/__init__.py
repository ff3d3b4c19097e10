"""The embedded store: ``open_store`` is how every room gets one.

The engine behind it is ``watchkeeper.store.tsdb.TSDBStore`` (head + WAL +
compressed chunks + rollups inside one SQLite file); everything above the
store speaks only the ``Store`` interface from ``watchkeeper.store.base``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from watchkeeper.store.base import Series, SeriesColumns, SeriesData, Store, StoreStats
from watchkeeper.store.tsdb import DEFAULT_RETENTION_MS, StoreBusyError, TSDBStore

__all__ = [
    "DEFAULT_RETENTION_MS",
    "Series",
    "SeriesColumns",
    "SeriesData",
    "Store",
    "StoreBusyError",
    "StoreStats",
    "TSDBStore",
    "open_store",
]


def open_store(path: str | Path, *, readonly: bool = False, **options: Any) -> TSDBStore:
    """Open (or create) the store at ``path``, a single SQLite file.

    One process writes (a second writer gets ``StoreBusyError``); any number
    of ``readonly=True`` stores read alongside it, seeing every acknowledged
    batch. ``options`` go to ``TSDBStore`` (e.g. ``retention_ms={0: ...}``).
    """
    return TSDBStore(path, readonly=readonly, **options)
