"""The MySQL/MariaDB collector against the machine's real MariaDB."""

from __future__ import annotations

import pytest

from watchkeeper.collect.mysql import MySQLCollector
from watchkeeper.collect.service_errors import CollectionError
from watchkeeper.config.services import MySQLConfig
from wk_testing import free_port, require_service

pytest.importorskip("pymysql")
pytestmark = pytest.mark.services


def test_collects_connections_queries_and_innodb() -> None:
    require_service("mariadb", port=3306)
    c = MySQLCollector("mysql:main", MySQLConfig())
    try:
        first = {s.name: s.value for s in c.collect(0)}
        second = {s.name: s.value for s in c.collect(1)}
    finally:
        c.close()
    assert first["mysql_connections"] >= 1
    assert first["mysql_connections_max"] > 0
    assert 0 < first["mysql_connections_used_ratio"] <= 1
    assert 0 <= first["mysql_innodb_buffer_pool_hit_ratio"] <= 1
    assert first["mysql_replication_is_replica"] == 0
    # Our own statements count as queries: the counter moves between cycles.
    assert second["mysql_questions_total"] > first["mysql_questions_total"]


def test_wrong_password_is_reported() -> None:
    require_service("mariadb", port=3306)
    cfg = MySQLConfig(user="wk_nobody", password="wrong")  # type: ignore[arg-type]
    c = MySQLCollector("mysql:bad", cfg)
    with pytest.raises(CollectionError, match="Access denied for user 'wk_nobody'"):
        c.collect(0)


def test_nothing_listening() -> None:
    port = free_port()
    c = MySQLCollector("mysql:gone", MySQLConfig(port=port, connect_timeout=2))
    with pytest.raises(CollectionError, match=f"127.0.0.1:{port}"):
        c.collect(0)
