"""MySQL and MariaDB: connections, threads, queries, InnoDB buffer pool, replication.

One PyMySQL connection kept across cycles (reopened after an error); a cycle
is ``SHOW GLOBAL STATUS``, two variables and the replica status.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from watchkeeper.collect.base import SampleBuilder, SyncCollector, counter, gauge
from watchkeeper.collect.service_errors import CollectionError, reason
from watchkeeper.config.services import MySQLConnection
from watchkeeper.model import Sample

if TYPE_CHECKING:
    import pymysql.connections

__all__ = ["MySQLCollector", "connect_mysql"]

log = logging.getLogger(__name__)

#: SHOW GLOBAL STATUS variable -> counter name.
_COUNTERS = {
    "Questions": "mysql_questions_total",
    "Queries": "mysql_queries_total",
    "Slow_queries": "mysql_slow_queries_total",
    "Connections": "mysql_connections_total",
    "Aborted_connects": "mysql_aborted_connects_total",
    "Aborted_clients": "mysql_aborted_clients_total",
    "Innodb_buffer_pool_read_requests": "mysql_innodb_buffer_pool_read_requests_total",
    "Innodb_buffer_pool_reads": "mysql_innodb_buffer_pool_reads_total",
    "Innodb_row_lock_waits": "mysql_innodb_row_lock_waits_total",
    "Bytes_received": "mysql_received_bytes_total",
    "Bytes_sent": "mysql_sent_bytes_total",
}
_GAUGES = {
    "Threads_connected": "mysql_connections",
    "Threads_running": "mysql_threads_running",
    "Uptime": "mysql_uptime_seconds",
    "Innodb_buffer_pool_pages_total": "mysql_innodb_buffer_pool_pages",
    "Innodb_buffer_pool_pages_free": "mysql_innodb_buffer_pool_pages_free",
}


def connect_mysql(
    cfg: MySQLConnection, *, read_timeout: float | None = None, read_only: bool = False
) -> pymysql.connections.Connection[Any]:
    """An autocommit connection to ``cfg``; raise CollectionError with a clear reason."""
    import pymysql

    kwargs: dict[str, Any] = {
        "user": cfg.user,
        "password": cfg.password.get_secret_value() if cfg.password is not None else "",
        "database": cfg.database,
        "connect_timeout": cfg.connect_timeout,
        "autocommit": True,
        "program_name": "watchkeeper",
    }
    if read_timeout:
        kwargs["read_timeout"] = read_timeout
        kwargs["write_timeout"] = read_timeout
    if cfg.unix_socket:
        kwargs["unix_socket"] = cfg.unix_socket
    else:
        kwargs.update(host=cfg.host, port=cfg.port)
    try:
        conn = pymysql.connect(**kwargs)
        if read_only:
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
    except Exception as exc:
        raise CollectionError(reason(exc, cfg.target())) from None
    return conn


class MySQLCollector(SyncCollector):
    metrics = (
        gauge("mysql_ping_duration_seconds", "Round-trip time of SELECT 1.", "seconds"),
        gauge("mysql_connections", "Open client connections (Threads_connected)."),
        gauge("mysql_connections_max", "The max_connections setting."),
        gauge("mysql_connections_used_ratio", "Open connections as a share of max_connections."),
        gauge("mysql_threads_running", "Threads executing a statement."),
        gauge("mysql_uptime_seconds", "Seconds since the server started.", "seconds"),
        gauge("mysql_innodb_buffer_pool_hit_ratio", "Read requests served from the pool."),
        gauge("mysql_innodb_buffer_pool_pages", "Pages in the InnoDB buffer pool."),
        gauge("mysql_innodb_buffer_pool_pages_free", "Free pages in the InnoDB buffer pool."),
        gauge("mysql_replication_is_replica", "1 when this server replicates from a source."),
        gauge("mysql_replication_lag_seconds", "Seconds_Behind_Master of the replica."),
        gauge("mysql_replication_io_running", "1 when the replica I/O thread runs."),
        gauge("mysql_replication_sql_running", "1 when the replica SQL thread runs."),
        *(counter(name, f"{var} from SHOW GLOBAL STATUS.") for var, name in _COUNTERS.items()),
    )

    def __init__(
        self,
        name: str,
        connection: MySQLConnection,
        *,
        interval: float = 10.0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(name, interval=interval, timeout=timeout)
        self.connection = connection
        self._conn: pymysql.connections.Connection[Any] | None = None
        self._replica_sql: str | None = "SHOW REPLICA STATUS"
        self._labels = {"server": name.partition(":")[2] or name}

    def _connect(self) -> pymysql.connections.Connection[Any]:
        if self._conn is None or not self._conn.open:
            self._conn = connect_mysql(self.connection, read_timeout=self.timeout)
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

    def _collect(self, conn: pymysql.connections.Connection[Any], b: SampleBuilder) -> None:
        lab = self._labels
        with conn.cursor() as cur:
            started = time.perf_counter()
            cur.execute("SELECT 1")
            cur.fetchone()
            b.add("mysql_ping_duration_seconds", time.perf_counter() - started, lab)
            cur.execute("SHOW GLOBAL STATUS")
            status = {str(k): v for k, v in cur.fetchall()}
            cur.execute("SELECT @@max_connections")
            max_conn = float(cur.fetchone()[0])
            replica = self._replica_status(cur)
        for var, metric in _GAUGES.items():
            if var in status:
                b.add(metric, float(status[var]), lab)
        for var, metric in _COUNTERS.items():
            if var in status:
                b.add(metric, float(status[var]), lab)
        connected = float(status.get("Threads_connected", 0))
        b.add("mysql_connections_max", max_conn, lab)
        b.add("mysql_connections_used_ratio", connected / max_conn if max_conn else 0.0, lab)
        requests = float(status.get("Innodb_buffer_pool_read_requests", 0))
        reads = float(status.get("Innodb_buffer_pool_reads", 0))
        b.add("mysql_innodb_buffer_pool_hit_ratio", 1 - reads / requests if requests else 1.0, lab)
        b.add("mysql_replication_is_replica", 1.0 if replica else 0.0, lab)
        if replica:
            lag = replica.get("Seconds_Behind_Master", replica.get("Seconds_Behind_Source"))
            io = replica.get("Slave_IO_Running", replica.get("Replica_IO_Running"))
            sql = replica.get("Slave_SQL_Running", replica.get("Replica_SQL_Running"))
            # NULL lag means replication is broken: report it as NaN, not 0.
            b.add(
                "mysql_replication_lag_seconds",
                float(lag) if lag is not None else float("nan"),
                lab,
            )
            b.add("mysql_replication_io_running", 1.0 if io == "Yes" else 0.0, lab)
            b.add("mysql_replication_sql_running", 1.0 if sql == "Yes" else 0.0, lab)

    def _replica_status(self, cur: Any) -> dict[str, Any] | None:
        import pymysql

        while self._replica_sql is not None:
            try:
                cur.execute(self._replica_sql)
            except pymysql.err.ProgrammingError:
                # Older servers only know SHOW SLAVE STATUS.
                self._replica_sql = (
                    "SHOW SLAVE STATUS" if self._replica_sql == "SHOW REPLICA STATUS" else None
                )
                continue
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] == 1227:  # needs REPLICATION CLIENT: skip quietly
                    log.info("%s: no privilege for replica status, skipping", self.name)
                    self._replica_sql = None
                    return None
                raise
            row = cur.fetchone()
            if not row:
                return None
            names = [d[0] for d in cur.description]
            return dict(zip(names, row, strict=False))
        return None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("%s: error closing connection", self.name, exc_info=True)
