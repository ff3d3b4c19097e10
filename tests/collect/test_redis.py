"""The Redis collector against real redis-servers (the machine's and throwaway ones)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from watchkeeper.collect.redis import RedisCollector
from watchkeeper.collect.service_errors import CollectionError
from watchkeeper.config.services import RedisConfig
from wk_testing import free_port, require_service, require_tool

redis_py = pytest.importorskip("redis")
pytestmark = pytest.mark.services


def values(samples: list) -> dict[tuple[str, str | None], float]:  # type: ignore[type-arg]
    return {(s.name, s.labels.get("db") or s.labels.get("replica")): s.value for s in samples}


def test_collects_memory_clients_and_keys(spare_redis: tuple[subprocess.Popen[bytes], int]) -> None:
    _, port = spare_redis
    client = redis_py.Redis(port=port, db=3)
    client.mset({f"k{i}": i for i in range(5)})
    client.expire("k0", 300)
    client.get("k1")
    client.get("missing")
    c = RedisCollector("redis:spare", RedisConfig(port=port))
    try:
        v = values(c.collect(0))
    finally:
        c.close()
        client.close()
    assert v[("redis_db_keys", "3")] == 5
    assert v[("redis_db_keys_expiring", "3")] == 1
    assert v[("redis_memory_used_bytes", None)] > 0
    assert v[("redis_connected_clients", None)] >= 2
    assert v[("redis_keyspace_hits_total", None)] == 1
    assert v[("redis_keyspace_misses_total", None)] == 1
    assert v[("redis_keyspace_hit_ratio", None)] == 0.5
    assert v[("redis_replication_is_replica", None)] == 0
    assert v[("redis_rdb_last_bgsave_ok", None)] == 1


def test_machine_redis() -> None:
    require_service("redis", port=6379)
    c = RedisCollector("redis:main", RedisConfig())
    try:
        names = {s.name for s in c.collect(0)}
    finally:
        c.close()
    assert {"redis_memory_fragmentation_ratio", "redis_commands_processed_total"} <= names


def test_killed_server_gives_connection_refused(
    spare_redis: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = spare_redis
    c = RedisCollector("redis:spare", RedisConfig(port=port), timeout=2)
    assert c.collect(0)
    proc.kill()
    proc.wait()
    with pytest.raises(CollectionError, match=f"connection refused to 127.0.0.1:{port}"):
        c.collect(1)


def test_nothing_listening() -> None:
    port = free_port()
    c = RedisCollector("redis:gone", RedisConfig(port=port), timeout=2)
    with pytest.raises(CollectionError, match=f"connection refused to 127.0.0.1:{port}"):
        c.collect(0)


def test_replica_and_primary_report_replication(
    spare_redis: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    _, primary_port = spare_redis
    port = free_port()
    replica_dir = tmp_path / "replica"
    replica_dir.mkdir()
    proc = subprocess.Popen(
        [
            require_tool("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(replica_dir),
            "--replicaof",
            "127.0.0.1",
            str(primary_port),
        ],
        stdout=subprocess.DEVNULL,
    )
    replica = RedisCollector("redis:replica", RedisConfig(port=port), timeout=2)
    primary = RedisCollector("redis:primary", RedisConfig(port=primary_port), timeout=2)
    try:
        deadline = time.monotonic() + 15
        v: dict[tuple[str, str | None], float] = {}
        while time.monotonic() < deadline:  # wait for the initial sync to finish
            try:
                v = values(replica.collect(0))
            except CollectionError:
                v = {}
            if v.get(("redis_replication_link_up", None)) == 1:
                break
            time.sleep(0.05)
        assert v[("redis_replication_is_replica", None)] == 1
        assert v[("redis_replication_link_up", None)] == 1
        pv = values(primary.collect(0))
        assert pv[("redis_connected_replicas", None)] == 1
        assert ("redis_replication_lag_bytes", f"127.0.0.1:{port}") in pv
    finally:
        replica.close()
        primary.close()
        proc.kill()
        proc.wait()
