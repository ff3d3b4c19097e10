"""The SQLite file behind the engine: schema, connections and the meta table.

Why SQLite as the container: one file, zero setup, atomic transactions for
"WAL record + new series" and for "chunks + head boundary", and snapshot
reads (SQLite's own WAL mode) for readers in other processes, for free.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

__all__ = ["FORMAT", "connect", "get_meta", "set_meta"]

#: Bumped when the layout changes incompatibly.
FORMAT = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS series (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL,
    labels TEXT NOT NULL,
    UNIQUE (name, labels)
);
CREATE TABLE IF NOT EXISTS wal (
    seq   INTEGER PRIMARY KEY,
    max_t INTEGER NOT NULL,
    data  BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    res     INTEGER NOT NULL,
    grp     INTEGER NOT NULL,
    min_t   INTEGER NOT NULL,
    max_t   INTEGER NOT NULL,
    gen     INTEGER NOT NULL,
    level   INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    nseries INTEGER NOT NULL,
    dir     BLOB NOT NULL,
    data    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_by_group ON blocks (res, grp, min_t);
CREATE TABLE IF NOT EXISTS quarantine (
    res       INTEGER NOT NULL,
    series_id INTEGER NOT NULL,
    min_t     INTEGER NOT NULL,
    gen       INTEGER NOT NULL,
    max_t     INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    data      BLOB NOT NULL,
    reason    TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);
"""


def connect(path: Path, *, readonly: bool, page_size: int = 4096) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit ``BEGIN``s)."""
    if readonly:
        if not path.exists():
            raise FileNotFoundError(f"no store at {path}")
        # Quoted: a path with "?" or "#" would otherwise end the file name early.
        db = sqlite3.connect(
            f"file:{quote(str(path))}?mode=ro",
            uri=True,
            check_same_thread=False,
            isolation_level=None,
        )
        db.execute("PRAGMA busy_timeout=10000")
        db.execute("PRAGMA query_only=1")
        return db
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists() or path.stat().st_size == 0
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA busy_timeout=10000")
    if fresh:
        # Both must precede the first table: freed pages go back to the OS on compaction.
        db.execute(f"PRAGMA page_size={int(page_size)}")
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives a process crash (kill -9); only an OS
    # crash or power cut may lose the last commits, never corrupting the file.
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    if get_meta(db, "format") is None:
        set_meta(db, "format", FORMAT)
    elif get_meta(db, "format") != FORMAT:
        raise RuntimeError(f"{path}: store format {get_meta(db, 'format')} is not {FORMAT}")
    return db


def get_meta(db: sqlite3.Connection, key: str) -> int | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def set_meta(db: sqlite3.Connection, key: str, value: int) -> None:
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, int(value)))
