"""The PostgreSQL collector against the machine's real server."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest

from watchkeeper.collect.postgres import PostgresCollector
from watchkeeper.collect.service_errors import CollectionError
from watchkeeper.config.services import PostgresConfig
from wk_testing import free_port, require_service

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.services


@pytest.fixture
def pg() -> PostgresConfig:
    require_service("postgresql", port=5432)
    return PostgresConfig(database="test")


def by_name(samples: list) -> dict[str, list]:  # type: ignore[type-arg]
    out: dict[str, list] = {}  # type: ignore[type-arg]
    for s in samples:
        out.setdefault(s.name, []).append(s)
    return out


def test_collects_activity_databases_and_ratios(pg: PostgresConfig) -> None:
    c = PostgresCollector("postgres:main", pg)
    try:
        series = by_name(c.collect(1000))
    finally:
        c.close()
    assert series["pg_connections_max"][0].value > 0
    states = {s.labels.get("state") for s in series["pg_connections"]}
    assert {"active", "idle", "idle in transaction"} <= states
    sizes = {s.labels.get("datname"): s.value for s in series["pg_database_size_bytes"]}
    assert sizes["test"] > 1_000_000
    for s in series["pg_database_cache_hit_ratio"]:
        assert 0.0 <= s.value <= 1.0
    assert series["pg_database_xact_commit_total"][0].value > 0
    assert series["pg_replication_is_replica"][0].value == 0.0
    assert series["pg_ping_duration_seconds"][0].value > 0
    assert series["pg_statements_available"][0].value in (0.0, 1.0)
    assert all(s.labels.get("server") == "main" for s in series["pg_connections_max"])
    assert all(s.timestamp_ms == 1000 for v in series.values() for s in v)


def test_keeps_one_connection_across_cycles(pg: PostgresConfig) -> None:
    c = PostgresCollector("postgres:main", pg)
    try:
        c.collect(0)
        pid = c._conn.info.backend_pid  # type: ignore[union-attr]
        c.collect(1)
        assert c._conn.info.backend_pid == pid  # type: ignore[union-attr]
    finally:
        c.close()


def test_reconnects_after_the_server_drops_the_connection(pg: PostgresConfig) -> None:
    c = PostgresCollector("postgres:main", pg)
    try:
        c.collect(0)
        pid = c._conn.info.backend_pid  # type: ignore[union-attr]
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="test", autocommit=True
        ) as a:
            a.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(CollectionError, match=r"127\.0\.0\.1:5432/test"):
            c.collect(1)
        assert c.collect(2)  # the next cycle reconnects
        assert c._conn.info.backend_pid != pid  # type: ignore[union-attr]
    finally:
        c.close()


def test_sees_a_long_running_query(pg: PostgresConfig) -> None:
    c = PostgresCollector("postgres:main", pg, long_query_threshold=0.2)
    started = threading.Event()
    other = psycopg.connect(host="127.0.0.1", user="postgres", dbname="test", autocommit=True)

    def run() -> None:
        started.set()
        with contextlib.suppress(psycopg.Error):  # canceled below
            other.execute("SELECT pg_sleep(30)")

    t = threading.Thread(target=run)
    t.start()
    try:
        assert started.wait(5)
        for _ in range(200):
            series = by_name(c.collect(0))
            if series["pg_long_running_queries"][0].value >= 1:
                break
            threading.Event().wait(0.05)
        assert series["pg_long_running_queries"][0].value >= 1
        assert series["pg_longest_query_seconds"][0].value >= 0.2
    finally:
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="test", autocommit=True
        ) as a:
            a.execute("SELECT pg_cancel_backend(%s)", (other.info.backend_pid,))
        t.join()
        other.close()
        c.close()


def test_nothing_listening_gives_a_clear_reason() -> None:
    port = free_port()
    c = PostgresCollector("postgres:gone", PostgresConfig(port=port, connect_timeout=2))
    with pytest.raises(CollectionError, match=f"connection refused to 127.0.0.1:{port}"):
        c.collect(0)


@pytest.fixture
def user_without_rights(pg: PostgresConfig) -> Iterator[str]:
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="test", autocommit=True)
    admin.execute("DROP DATABASE IF EXISTS wk_private")
    admin.execute("DROP ROLE IF EXISTS wk_norights")
    admin.execute("CREATE DATABASE wk_private")
    admin.execute("REVOKE CONNECT ON DATABASE wk_private FROM PUBLIC")
    admin.execute("CREATE ROLE wk_norights LOGIN")
    try:
        yield "wk_norights"
    finally:
        admin.execute("DROP DATABASE IF EXISTS wk_private")
        admin.execute("DROP ROLE IF EXISTS wk_norights")
        admin.close()


def test_user_without_rights_gives_permission_denied(user_without_rights: str) -> None:
    cfg = PostgresConfig(user=user_without_rights, database="wk_private")
    c = PostgresCollector("postgres:private", cfg)
    with pytest.raises(CollectionError, match='permission denied for database "wk_private"'):
        c.collect(0)
