"""The embedded time-series engine (head, WAL, compressed chunks, rollups) in one SQLite file."""

from watchkeeper.store.tsdb.engine import (
    DEFAULT_RETENTION_MS,
    CheckReport,
    StoreBusyError,
    TSDBStore,
)

__all__ = ["DEFAULT_RETENTION_MS", "CheckReport", "StoreBusyError", "TSDBStore"]
