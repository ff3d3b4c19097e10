"""The store room: where samples live. Callers use ``open_store`` and the Store interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from watchkeeper.store.base import Series, SeriesData, Store, StoreStats

__all__ = ["Series", "SeriesData", "Store", "StoreStats", "open_store"]


def open_store(path: str | Path, *, readonly: bool = False, **options: Any) -> Store:
    """Open (or create) the embedded store at ``path``."""
    from watchkeeper.store.sqlite import SQLiteStore

    return SQLiteStore(path, readonly=readonly)
