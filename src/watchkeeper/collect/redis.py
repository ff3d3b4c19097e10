"""Redis: memory, throughput, hit rate, clients, keys, persistence and replication.

Everything comes from one ``INFO all`` round trip per cycle on a kept
connection. redis-py's own retries are turned off so that a dead server
fails the cycle at once with a clear reason instead of after three backoffs.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from watchkeeper.collect.base import SampleBuilder, SyncCollector, counter, gauge
from watchkeeper.collect.service_errors import CollectionError, reason
from watchkeeper.config.services import RedisConnection
from watchkeeper.model import Sample

if TYPE_CHECKING:
    import redis

__all__ = ["RedisCollector", "connect_redis"]

log = logging.getLogger(__name__)

_GAUGES = {
    "used_memory": "redis_memory_used_bytes",
    "used_memory_rss": "redis_memory_rss_bytes",
    "used_memory_peak": "redis_memory_peak_bytes",
    "maxmemory": "redis_memory_max_bytes",
    "mem_fragmentation_ratio": "redis_memory_fragmentation_ratio",
    "instantaneous_ops_per_sec": "redis_instantaneous_ops_per_second",
    "connected_clients": "redis_connected_clients",
    "blocked_clients": "redis_blocked_clients",
    "rdb_changes_since_last_save": "redis_rdb_changes_since_last_save",
    "rdb_last_save_time": "redis_rdb_last_save_timestamp_seconds",
    "rdb_bgsave_in_progress": "redis_rdb_bgsave_in_progress",
    "aof_enabled": "redis_aof_enabled",
    "aof_rewrite_in_progress": "redis_aof_rewrite_in_progress",
    "uptime_in_seconds": "redis_uptime_seconds",
    "connected_slaves": "redis_connected_replicas",
}
_COUNTERS = {
    "total_commands_processed": "redis_commands_processed_total",
    "total_connections_received": "redis_connections_received_total",
    "rejected_connections": "redis_rejected_connections_total",
    "keyspace_hits": "redis_keyspace_hits_total",
    "keyspace_misses": "redis_keyspace_misses_total",
    "expired_keys": "redis_expired_keys_total",
    "evicted_keys": "redis_evicted_keys_total",
    "total_net_input_bytes": "redis_net_input_bytes_total",
    "total_net_output_bytes": "redis_net_output_bytes_total",
}


def connect_redis(cfg: RedisConnection, *, timeout: float) -> redis.Redis:
    """A client for ``cfg`` that fails fast (no retries) within ``timeout`` seconds."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    common: dict[str, Any] = {
        "socket_connect_timeout": min(cfg.connect_timeout, timeout),
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "client_name": "watchkeeper",
    }
    if cfg.url is not None:
        return redis.Redis.from_url(cfg.url.get_secret_value(), **common)
    return redis.Redis(
        host=cfg.host,
        port=cfg.port,
        db=cfg.db,
        username=cfg.username,
        password=cfg.password.get_secret_value() if cfg.password is not None else None,
        **common,
    )


class RedisCollector(SyncCollector):
    metrics = (
        gauge("redis_ping_duration_seconds", "Round-trip time of INFO.", "seconds"),
        *(gauge(name, f"{field} from INFO.") for field, name in _GAUGES.items()),
        *(counter(name, f"{field} from INFO.") for field, name in _COUNTERS.items()),
        gauge("redis_keyspace_hit_ratio", "Hits / (hits + misses) since the server started."),
        gauge("redis_db_keys", "Keys per database.", labels=("db",)),
        gauge("redis_db_keys_expiring", "Keys with a TTL per database.", labels=("db",)),
        gauge("redis_rdb_last_bgsave_ok", "1 when the last RDB save succeeded."),
        gauge("redis_aof_last_write_ok", "1 when the last AOF write succeeded."),
        gauge("redis_replication_is_replica", "1 when this server is a replica."),
        gauge("redis_replication_link_up", "Replica: 1 when the link to the primary is up."),
        gauge("redis_replication_lag_seconds", "Seconds since the replica heard from its peer."),
        gauge("redis_replication_lag_bytes", "Primary: replication offset not yet acknowledged."),
    )

    def __init__(
        self,
        name: str,
        connection: RedisConnection,
        *,
        interval: float = 10.0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(name, interval=interval, timeout=timeout)
        self.connection = connection
        self._client: redis.Redis | None = None
        self._labels = {"server": name.partition(":")[2] or name}

    def collect(self, now_ms: int) -> list[Sample]:
        if self._client is None:
            self._client = connect_redis(self.connection, timeout=self.timeout)
        started = time.perf_counter()
        try:
            info: dict[str, Any] = self._client.info("all")
        except Exception as exc:
            self.close()
            raise CollectionError(reason(exc, self.connection.target())) from None
        b = SampleBuilder(now_ms)
        self._samples(b, info, time.perf_counter() - started)
        return b.samples

    def _samples(self, b: SampleBuilder, info: dict[str, Any], rtt: float) -> None:
        lab = self._labels
        b.add("redis_ping_duration_seconds", rtt, lab)
        for field, metric in _GAUGES.items():
            if field in info:
                b.add(metric, float(info[field]), lab)
        for field, metric in _COUNTERS.items():
            if field in info:
                b.add(metric, float(info[field]), lab)
        hits, misses = float(info.get("keyspace_hits", 0)), float(info.get("keyspace_misses", 0))
        b.add("redis_keyspace_hit_ratio", hits / (hits + misses) if hits + misses else 1.0, lab)
        for key, value in info.items():
            if key.startswith("db") and key[2:].isdigit() and isinstance(value, dict):
                dl = {**lab, "db": key[2:]}
                b.add("redis_db_keys", float(value.get("keys", 0)), dl)
                b.add("redis_db_keys_expiring", float(value.get("expires", 0)), dl)
        b.add("redis_rdb_last_bgsave_ok", info.get("rdb_last_bgsave_status") == "ok", lab)
        b.add("redis_aof_last_write_ok", info.get("aof_last_write_status", "ok") == "ok", lab)
        replica = info.get("role") == "slave"
        b.add("redis_replication_is_replica", replica, lab)
        if replica:
            b.add("redis_replication_link_up", info.get("master_link_status") == "up", lab)
            last_io = float(info.get("master_last_io_seconds_ago", -1))
            # -1 means never connected: an unknown lag, not a zero one.
            b.add("redis_replication_lag_seconds", last_io if last_io >= 0 else float("nan"), lab)
            return
        offset = float(info.get("master_repl_offset", 0))
        for key, value in info.items():
            if key.startswith("slave") and key[5:].isdigit() and isinstance(value, dict):
                rl = {**lab, "replica": f"{value.get('ip')}:{value.get('port')}"}
                b.add("redis_replication_lag_seconds", float(value.get("lag", 0)), rl)
                b.add("redis_replication_lag_bytes", offset - float(value.get("offset", 0)), rl)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:
                log.debug("%s: error closing client", self.name, exc_info=True)
