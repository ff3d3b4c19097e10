"""PostgreSQL: activity, databases, locks, replication and slow statements.

One connection is opened on the first cycle and kept (autocommit, with a
``statement_timeout`` just under the collector's timeout); it is dropped and
reopened after any error. A cycle is six small queries over that connection,
a few milliseconds on loopback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from watchkeeper.collect.base import SampleBuilder, SyncCollector, counter, gauge
from watchkeeper.collect.service_errors import CollectionError, reason
from watchkeeper.config.services import PostgresConnection
from watchkeeper.model import Sample

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresCollector", "connect_postgres"]

log = logging.getLogger(__name__)

#: States of pg_stat_activity, always reported (0 when absent) so series stay stable.
STATES = (
    "active",
    "idle",
    "idle in transaction",
    "idle in transaction (aborted)",
    "fastpath function call",
    "disabled",
)

_ACTIVITY = """
SELECT
  (SELECT setting::int FROM pg_settings WHERE name = 'max_connections'),
  extract(epoch FROM pg_postmaster_start_time()),
  pg_is_in_recovery(),
  coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0),
  (SELECT count(*) FROM pg_locks WHERE NOT granted),
  coalesce(json_object_agg(state, n), '{}'::json),
  max(longest_query), max(longest_xact), sum(long_queries)
FROM (
  SELECT coalesce(state, 'disabled') AS state, count(*) AS n,
         max(extract(epoch FROM now() - query_start))
           FILTER (WHERE state = 'active') AS longest_query,
         max(extract(epoch FROM now() - xact_start)) AS longest_xact,
         count(*) FILTER (WHERE state = 'active'
                          AND now() - query_start > %(long)s * interval '1 second')
           AS long_queries
  FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
  GROUP BY 1
) s
"""

_DATABASES = """
SELECT d.datname,
       CASE WHEN has_database_privilege(d.datname, 'CONNECT') THEN pg_database_size(d.datname) END,
       s.numbackends, s.xact_commit, s.xact_rollback, s.deadlocks, s.temp_files, s.temp_bytes,
       s.blks_hit, s.blks_read, s.tup_returned, s.tup_fetched, s.tup_inserted, s.tup_updated,
       s.tup_deleted, s.conflicts
FROM pg_database d JOIN pg_stat_database s ON s.datid = d.oid
WHERE NOT d.datistemplate AND d.datallowconn
"""

_REPLICATION = """
SELECT coalesce(application_name, '') || '@' || coalesce(host(client_addr), 'local'),
       coalesce(extract(epoch FROM replay_lag), 0),
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)
FROM pg_stat_replication
"""

_STATEMENTS = """
SELECT queryid::text, left(regexp_replace(query, '\\s+', ' ', 'g'), 80),
       calls, total_exec_time / 1000.0, mean_exec_time / 1000.0, rows
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY mean_exec_time DESC
LIMIT %(top)s
"""


def connect_postgres(
    cfg: PostgresConnection,
    *,
    statement_timeout: float | None = None,
    read_only: bool = False,
    application_name: str = "watchkeeper",
) -> psycopg.Connection[Any]:
    """An autocommit connection to ``cfg``; raise CollectionError with a clear reason."""
    import psycopg

    kwargs: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": max(1, round(cfg.connect_timeout)),
        "application_name": application_name,
    }
    if statement_timeout:
        kwargs["options"] = f"-c statement_timeout={int(statement_timeout * 1000)}"
    if cfg.dsn is not None:
        conninfo = cfg.dsn.get_secret_value()
    else:
        conninfo = ""
        kwargs.update(host=cfg.host, port=cfg.port, user=cfg.user, dbname=cfg.database)
        if cfg.password is not None:
            kwargs["password"] = cfg.password.get_secret_value()
    try:
        conn = psycopg.connect(conninfo, **kwargs)
    except Exception as exc:
        raise CollectionError(reason(exc, cfg.target())) from None
    if read_only:
        # Business queries must never write, even if someone puts an UPDATE in the config.
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    return conn


class PostgresCollector(SyncCollector):
    metrics = (
        gauge("pg_ping_duration_seconds", "Round-trip time of SELECT 1.", "seconds"),
        gauge("pg_connections", "Client connections by state.", labels=("state",)),
        gauge("pg_connections_max", "The max_connections setting."),
        gauge("pg_connections_used_ratio", "Client connections as a share of max_connections."),
        gauge("pg_start_time_seconds", "When the server started (Unix time).", "seconds"),
        gauge("pg_long_running_queries", "Active queries running longer than the threshold."),
        gauge("pg_longest_query_seconds", "Age of the longest-running active query.", "seconds"),
        gauge("pg_longest_transaction_seconds", "Age of the oldest open transaction.", "seconds"),
        gauge("pg_locks_waiting", "Lock requests not yet granted."),
        gauge("pg_replication_is_replica", "1 when this server is a replica (in recovery)."),
        gauge("pg_replication_lag_seconds", "Replica: time since the last replayed transaction."),
        gauge("pg_replication_replica_lag_seconds", "Primary: replay lag per replica.", "seconds"),
        gauge("pg_replication_replica_lag_bytes", "Primary: WAL not yet replayed per replica."),
        gauge("pg_database_size_bytes", "Size of each database.", "bytes", ("datname",)),
        gauge("pg_database_backends", "Connections per database.", labels=("datname",)),
        counter("pg_database_xact_commit_total", "Committed transactions.", labels=("datname",)),
        counter(
            "pg_database_xact_rollback_total", "Rolled back transactions.", labels=("datname",)
        ),
        counter("pg_database_deadlocks_total", "Deadlocks detected.", labels=("datname",)),
        counter("pg_database_temp_files_total", "Temporary files created.", labels=("datname",)),
        counter("pg_database_temp_bytes_total", "Bytes written to temporary files."),
        counter("pg_database_conflicts_total", "Queries canceled by recovery conflicts."),
        counter("pg_database_blocks_hit_total", "Buffer cache hits.", labels=("datname",)),
        counter("pg_database_blocks_read_total", "Blocks read from disk.", labels=("datname",)),
        gauge("pg_database_cache_hit_ratio", "Buffer hits / (hits + reads) since stats reset."),
        counter("pg_database_rows_returned_total", "Rows returned by queries."),
        counter("pg_database_rows_fetched_total", "Rows fetched by queries."),
        counter("pg_database_rows_inserted_total", "Rows inserted."),
        counter("pg_database_rows_updated_total", "Rows updated."),
        counter("pg_database_rows_deleted_total", "Rows deleted."),
        gauge("pg_statements_available", "1 when pg_stat_statements can be read."),
        counter("pg_statement_calls_total", "Calls of a top statement.", labels=("queryid",)),
        counter("pg_statement_seconds_total", "Execution time of a top statement.", "seconds"),
        gauge("pg_statement_mean_seconds", "Mean execution time of a top statement.", "seconds"),
        counter("pg_statement_rows_total", "Rows returned or affected by a top statement."),
    )

    def __init__(
        self,
        name: str,
        connection: PostgresConnection,
        *,
        interval: float = 10.0,
        timeout: float | None = None,
        databases: Iterable[str] = (),
        long_query_threshold: float = 60.0,
        statements_top: int = 10,
    ) -> None:
        super().__init__(name, interval=interval, timeout=timeout)
        self.connection = connection
        self.databases = frozenset(databases)
        self.long_query_threshold = long_query_threshold
        self.statements_top = statements_top
        self._conn: psycopg.Connection[Any] | None = None
        self._statements: bool | None = None  # unknown until tried on this connection
        self._labels = {"server": name.partition(":")[2] or name}

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect_postgres(self.connection, statement_timeout=self.timeout * 0.9)
            self._statements = None
        return self._conn

    def collect(self, now_ms: int) -> list[Sample]:
        conn = self._connect()
        b = SampleBuilder(now_ms)
        try:
            self._collect(conn, b)
        except Exception as exc:
            self.close()
            raise CollectionError(reason(exc, self.connection.target())) from None
        return b.samples

    def _collect(self, conn: psycopg.Connection[Any], b: SampleBuilder) -> None:
        lab = self._labels
        started = time.perf_counter()
        conn.execute("SELECT 1").fetchone()
        b.add("pg_ping_duration_seconds", time.perf_counter() - started, lab)

        row = conn.execute(_ACTIVITY, {"long": self.long_query_threshold}).fetchone()
        assert row is not None
        max_conn, start_time, replica, replay_lag, waiting, states, longest, xact, long_n = row
        total = 0
        for state in STATES:
            n = int(states.get(state, 0))
            total += n
            b.add("pg_connections", n, {**lab, "state": state})
        b.add("pg_connections_max", max_conn, lab)
        b.add("pg_connections_used_ratio", total / max_conn if max_conn else 0.0, lab)
        b.add("pg_start_time_seconds", float(start_time), lab)
        b.add("pg_long_running_queries", float(long_n or 0), lab)
        b.add("pg_longest_query_seconds", float(longest or 0), lab)
        b.add("pg_longest_transaction_seconds", float(xact or 0), lab)
        b.add("pg_locks_waiting", float(waiting), lab)
        b.add("pg_replication_is_replica", 1.0 if replica else 0.0, lab)
        b.add("pg_replication_lag_seconds", float(replay_lag) if replica else 0.0, lab)

        for client, lag_s, lag_b in conn.execute(_REPLICATION).fetchall():
            rl = {**lab, "replica": client}
            b.add("pg_replication_replica_lag_seconds", float(lag_s), rl)
            b.add("pg_replication_replica_lag_bytes", float(lag_b), rl)

        for row in conn.execute(_DATABASES).fetchall():
            self._database(b, row)

        if self.statements_top:
            self._top_statements(conn, b)

    def _database(self, b: SampleBuilder, row: tuple[Any, ...]) -> None:
        datname, size, backends, commit, rollback, deadlocks, tfiles, tbytes = row[:8]
        hit, read, returned, fetched, inserted, updated, deleted, conflicts = row[8:]
        if self.databases and datname not in self.databases:
            return
        dl = {**self._labels, "datname": datname}
        if size is not None:
            b.add("pg_database_size_bytes", size, dl)
        b.add("pg_database_backends", backends, dl)
        b.add("pg_database_xact_commit_total", commit, dl)
        b.add("pg_database_xact_rollback_total", rollback, dl)
        b.add("pg_database_deadlocks_total", deadlocks, dl)
        b.add("pg_database_temp_files_total", tfiles, dl)
        b.add("pg_database_temp_bytes_total", tbytes, dl)
        b.add("pg_database_conflicts_total", conflicts, dl)
        b.add("pg_database_blocks_hit_total", hit, dl)
        b.add("pg_database_blocks_read_total", read, dl)
        b.add("pg_database_cache_hit_ratio", hit / (hit + read) if hit + read else 1.0, dl)
        b.add("pg_database_rows_returned_total", returned, dl)
        b.add("pg_database_rows_fetched_total", fetched, dl)
        b.add("pg_database_rows_inserted_total", inserted, dl)
        b.add("pg_database_rows_updated_total", updated, dl)
        b.add("pg_database_rows_deleted_total", deleted, dl)

    def _top_statements(self, conn: psycopg.Connection[Any], b: SampleBuilder) -> None:
        import psycopg

        if self._statements is None:
            row = conn.execute(
                "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
            ).fetchone()
            self._statements = bool(row and row[0])
        if self._statements:
            try:
                rows = conn.execute(_STATEMENTS, {"top": self.statements_top}).fetchall()
            except psycopg.Error as exc:
                # Installed but not preloaded, or no rights: report unavailable, keep the rest.
                log.warning("%s: pg_stat_statements unavailable: %s", self.name, reason(exc, ""))
                self._statements = False
                rows = []
            for queryid, query, calls, total_s, mean_s, nrows in rows:
                sl = {**self._labels, "queryid": queryid, "query": query}
                b.add("pg_statement_calls_total", calls, sl)
                b.add("pg_statement_seconds_total", total_s, sl)
                b.add("pg_statement_mean_seconds", mean_s, sl)
                b.add("pg_statement_rows_total", nrows, sl)
        b.add("pg_statements_available", 1.0 if self._statements else 0.0, self._labels)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken: nothing more to release
                log.debug("%s: error closing connection", self.name, exc_info=True)
