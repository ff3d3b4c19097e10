"""Business metrics from SQL: user queries whose rows become series.

Each query runs on its own interval under its own statement timeout, on a
read-only session, so a slow or broken query is reported
(``sql_query_up{query="..."} 0`` and a log line with the reason) without
holding up the others or ever writing. Between runs the last good rows are
re-emitted, so an hourly query does not go stale in the store.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from watchkeeper.collect.base import SampleBuilder, SyncCollector, gauge
from watchkeeper.collect.mysql import connect_mysql
from watchkeeper.collect.postgres import connect_postgres
from watchkeeper.collect.service_errors import CollectionError, reason
from watchkeeper.config.services import (
    MySQLConnection,
    PostgresConnection,
    SQLiteConnection,
    SqlMetricsConfig,
    SqlQueryConfig,
)
from watchkeeper.model import Sample

__all__ = ["SqlMetricsCollector"]

log = logging.getLogger(__name__)

#: Rows a query may return: more is a configuration mistake that would flood the store.
MAX_ROWS = 1000


@dataclass
class _QueryState:
    cfg: SqlQueryConfig
    interval: float
    next_run: float = 0.0
    #: (metric, labels, value) of the last successful run.
    rows: list[tuple[str, dict[str, str], float]] = field(default_factory=list)
    up: bool = False
    duration: float = 0.0
    reason: str = ""


class SqlMetricsCollector(SyncCollector):
    metrics = (
        gauge("sql_query_up", "1 when the business query's last run succeeded.", labels=("query",)),
        gauge("sql_query_duration_seconds", "How long the last run took.", "seconds", ("query",)),
    )

    def __init__(self, name: str, cfg: SqlMetricsConfig, *, interval: float, timeout: float | None):
        super().__init__(name, interval=interval, timeout=timeout)
        self.cfg = cfg
        self.connection = cfg.connection()
        self.queries = [_QueryState(q, q.interval or interval) for q in cfg.queries]
        self._conn: Any = None
        self._mariadb = False
        self._file_id: tuple[int, int] | None = None
        self._labels = {"database": cfg.name}

    def _connect(self) -> Any:
        if self._conn is not None and not self._closed(self._conn):
            return self._conn
        longest = max((q.cfg.timeout for q in self.queries), default=5.0)
        if isinstance(self.connection, SQLiteConnection):
            self._conn = _open_sqlite(self.connection.path)
            self._file_id = _file_id(self.connection.path)
        elif isinstance(self.connection, PostgresConnection):
            self._conn = connect_postgres(
                self.connection, read_only=True, application_name="watchkeeper-sql-metrics"
            )
        else:
            assert isinstance(self.connection, MySQLConnection)
            self._conn = connect_mysql(self.connection, read_timeout=longest + 1, read_only=True)
            self._mariadb = "mariadb" in self._conn.get_server_info().lower()
        return self._conn

    def _closed(self, conn: Any) -> bool:
        if isinstance(self.connection, SQLiteConnection):
            # Replaced (a restored backup) or deleted: open the file that is there now.
            return _file_id(self.connection.path) != self._file_id
        if isinstance(self.connection, PostgresConnection):
            return bool(conn.closed)
        return not conn.open

    def collect(self, now_ms: int) -> list[Sample]:
        conn = self._connect()
        now = time.monotonic()
        for state in self.queries:
            if now >= state.next_run:
                state.next_run = now + state.interval
                self._run(conn, state)
                if self._closed(conn):
                    # The connection died under the query: the whole database is unreachable.
                    self.close()
                    raise CollectionError(state.reason)
        b = SampleBuilder(now_ms)
        for state in self.queries:
            ql = {**self._labels, "query": state.cfg.name}
            b.add("sql_query_up", state.up, ql)
            b.add("sql_query_duration_seconds", state.duration, ql)
            for metric, labels, value in state.rows:
                b.add(metric, value, labels)
        return b.samples

    def _run(self, conn: Any, state: _QueryState) -> None:
        started = time.perf_counter()
        try:
            columns, rows = self._execute(conn, state.cfg)
            state.rows = self._to_series(state.cfg, columns, rows)
        except Exception as exc:
            previous = state.reason
            state.up, state.rows = False, []
            state.reason = f"query {state.cfg.name}: {reason(exc, self.connection.target())}"
            # Say it once per new reason, not every cycle of a lasting failure.
            level = logging.WARNING if state.reason != previous else logging.DEBUG
            log.log(level, "%s: %s", self.name, state.reason)
        else:
            state.up, state.reason = True, ""
        state.duration = time.perf_counter() - started

    def _execute(self, conn: Any, q: SqlQueryConfig) -> tuple[list[str], list[tuple[Any, ...]]]:
        ms = int(q.timeout * 1000)
        if isinstance(self.connection, SQLiteConnection):
            return _sqlite_execute(conn, q.sql, q.timeout)
        if isinstance(self.connection, PostgresConnection):
            with conn.transaction():
                conn.execute(f"SET LOCAL statement_timeout = {ms}")
                cur = conn.execute(q.sql)
                rows = cur.fetchmany(MAX_ROWS + 1)
                columns = [d.name for d in cur.description or ()]
        else:
            with conn.cursor() as cur:
                if self._mariadb:
                    cur.execute(f"SET STATEMENT max_statement_time={q.timeout:g} FOR {q.sql}")
                else:
                    cur.execute(f"SET SESSION max_execution_time = {ms}")
                    cur.execute(q.sql)
                rows = list(cur.fetchmany(MAX_ROWS + 1))
                columns = [d[0] for d in cur.description or ()]
        if len(rows) > MAX_ROWS:
            raise CollectionError(f"returned more than {MAX_ROWS} rows; aggregate it in SQL")
        return columns, rows

    def _to_series(
        self, q: SqlQueryConfig, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> list[tuple[str, dict[str, str], float]]:
        missing = [c for c in (*q.labels, *q.values) if c not in columns]
        if missing:
            raise CollectionError(
                f"columns {', '.join(missing)} not in the result (has {', '.join(columns)})"
            )
        label_idx = [(c, columns.index(c)) for c in q.labels]
        value_cols = q.values or [c for c in columns if c not in q.labels]
        value_idx = [(c, columns.index(c)) for c in value_cols]
        single = len(value_idx) == 1
        out = []
        for row in rows:
            labels = {
                **self._labels,
                **{c: "" if row[i] is None else str(row[i]) for c, i in label_idx},
            }
            for col, i in value_idx:
                if row[i] is None:
                    continue
                try:
                    value = float(row[i])
                except (TypeError, ValueError):
                    raise CollectionError(f"column {col} is not a number: {row[i]!r}") from None
                metric = f"sql_{q.name}" if single else f"sql_{q.name}_{col}"
                out.append((metric, labels, value))
        return out

    def last_reasons(self) -> dict[str, str]:
        """Why each failing query failed, for health checks and ``watchkeeper status``."""
        return {s.cfg.name: s.reason for s in self.queries if not s.up and s.reason}

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                if isinstance(conn, sqlite3.Connection):
                    conn.interrupt()  # a query still running in an abandoned collection
                conn.close()
            except Exception:
                log.debug("%s: error closing connection", self.name, exc_info=True)


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.expanduser().stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _open_sqlite(path: Path) -> sqlite3.Connection:
    """Read-only: the file opened ``mode=ro``, ``query_only`` on, and no ``ATTACH``
    (nor ``VACUUM INTO``), which could otherwise create or write other files.

    A database in WAL mode still needs its ``-wal``/``-shm`` files, which SQLite
    creates beside it if the site has none open: the directory must be readable
    and writable for that (as it is for the site itself).
    """
    if not path.expanduser().exists():
        raise CollectionError(f"no SQLite database at {path}")
    conn = sqlite3.connect(
        f"file:{quote(str(path.expanduser()))}?mode=ro", uri=True, check_same_thread=False
    )
    try:
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.execute("PRAGMA query_only=1")
        conn.execute("PRAGMA busy_timeout=2000")
    except BaseException:
        conn.close()
        raise
    return conn


def _sqlite_execute(
    conn: sqlite3.Connection, sql: str, timeout: float
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """SQLite has no statement timeout: a progress handler interrupts the query at it."""
    deadline = time.monotonic() + timeout
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
    try:
        cur = conn.execute(sql)
        rows = cur.fetchmany(MAX_ROWS + 1)
        columns = [d[0] for d in cur.description or ()]
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise CollectionError(f"timed out after {timeout:g}s") from None
        raise
    finally:
        conn.set_progress_handler(None, 0)
    if len(rows) > MAX_ROWS:
        raise CollectionError(f"returned more than {MAX_ROWS} rows; aggregate it in SQL")
    return columns, rows
