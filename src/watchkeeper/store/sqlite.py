"""The first embedded store: one SQLite row per sample, in WAL mode.

Zero-setup and transactional; WAL lets ``watchkeeper query`` read from another
process while ``watchkeeper run`` writes. It is deliberately plain: the
time-series engine issue replaces the row table with compressed chunks behind
the same interface.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from watchkeeper.model import NAME_LABEL, Labels, MatchOp, Matcher, Sample
from watchkeeper.store.base import Series, SeriesData, Store, StoreStats

__all__ = ["SQLiteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL,
    labels TEXT NOT NULL,
    UNIQUE (name, labels)
);
CREATE TABLE IF NOT EXISTS samples (
    series_id INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    value     REAL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
"""


class SQLiteStore(Store):
    """Series and samples in one SQLite file.

    One connection, guarded by a lock, serves the writer thread and readers in
    the same process; other processes open their own connection (WAL mode).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no store at {self.path}")
            uri = f"file:{self.path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        self._db.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, Labels], int] = {}

    # -- writing -----------------------------------------------------------
    def append(self, samples: Sequence[Sample]) -> int:
        if not samples:
            return 0
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = []
                for s in samples:
                    sid = self._series_id(s.name, s.labels)
                    rows.append((sid, s.timestamp_ms, s.value))
                db.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?)", rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                self._ids.clear()  # ids created in the rolled-back transaction are gone
                raise
        return len(samples)

    def _series_id(self, name: str, labels: Labels) -> int:
        key = (name, labels)
        sid = self._ids.get(key)
        if sid is None:
            text = json.dumps(labels.as_dict(), sort_keys=True, separators=(",", ":"))
            row = self._db.execute(
                "SELECT id FROM series WHERE name = ? AND labels = ?", (name, text)
            ).fetchone()
            if row is None:
                cur = self._db.execute(
                    "INSERT INTO series (name, labels) VALUES (?, ?)", (name, text)
                )
                sid = int(cur.lastrowid or 0)
            else:
                sid = int(row[0])
            self._ids[key] = sid
        return sid

    # -- reading -----------------------------------------------------------
    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        name_eq = [m.value for m in matchers if m.name == NAME_LABEL and m.op is MatchOp.EQ]
        with self._lock:
            if name_eq:
                rows = self._db.execute(
                    "SELECT id, name, labels FROM series WHERE name = ?", (name_eq[0],)
                ).fetchall()
            else:
                rows = self._db.execute("SELECT id, name, labels FROM series").fetchall()
        found = []
        for sid, name, text in rows:
            labels = Labels(json.loads(text))
            if all(_matches(m, name, labels) for m in matchers):
                found.append(Series(int(sid), name, labels))
        found.sort(key=lambda s: (s.name, s.labels))
        return found

    def read_range(
        self,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        *,
        min_step_ms: int = 0,
    ) -> list[SeriesData]:
        out = []
        for series in self.select(matchers):
            with self._lock:
                rows = self._db.execute(
                    "SELECT ts, value FROM samples WHERE series_id = ? AND ts BETWEEN ? AND ?"
                    " ORDER BY ts",
                    (series.id, start_ms, end_ms),
                ).fetchall()
            if not rows:
                continue
            arr = np.array(rows, dtype=np.float64).reshape(-1, 2)
            # Timestamps go through float64 exactly (ms values are far below 2**53).
            out.append(SeriesData(series, arr[:, 0].astype(np.int64), arr[:, 1].copy()))
        return out

    # -- housekeeping ------------------------------------------------------
    def delete_before(self, ts_ms: int) -> int:
        with self._lock:
            cur = self._db.execute("DELETE FROM samples WHERE ts < ?", (ts_ms,))
            deleted = cur.rowcount
            # Series left without samples go too, so `select` stays honest.
            self._db.execute(
                "DELETE FROM series WHERE id NOT IN (SELECT DISTINCT series_id FROM samples)"
            )
            self._ids.clear()
        return max(deleted, 0)

    def stats(self) -> StoreStats:
        with self._lock:
            series = self._db.execute("SELECT count(*) FROM series").fetchone()[0]
            samples, oldest, newest = self._db.execute(
                "SELECT count(*), min(ts), max(ts) FROM samples"
            ).fetchone()
        size = sum(
            p.stat().st_size
            for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))
            if p.exists()
        )
        return StoreStats(
            path=str(self.path),
            series=int(series),
            samples=int(samples),
            bytes=size,
            oldest_ms=oldest,
            newest_ms=newest,
            extra={"engine": "sqlite-rows"},
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _matches(m: Matcher, name: str, labels: Labels) -> bool:
    value = name if m.name == NAME_LABEL else (labels.get(m.name) or "")
    return m.matches(value)
