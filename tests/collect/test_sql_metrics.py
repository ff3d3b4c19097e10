"""Business metrics from SQL against the real PostgreSQL and MariaDB."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from watchkeeper.collect.sql_metrics import SqlMetricsCollector
from watchkeeper.config.services import SqlMetricsConfig
from wk_testing import require_service

pytestmark = pytest.mark.services

ORDERS = """
SELECT CASE WHEN g % 3 = 0 THEN 'failed' ELSE 'paid' END AS status,
       count(*) AS orders, sum(g) * 1.5 AS revenue
FROM generate_series(1, 30) g GROUP BY 1
"""


def make(driver: str, queries: list[dict[str, object]]) -> SqlMetricsCollector:
    conn = {"database": "test"} if driver == "postgres" else {}
    cfg = SqlMetricsConfig.model_validate(
        {"name": "shop", "driver": driver, driver: conn, "queries": queries}
    )
    return SqlMetricsCollector("sql:shop", cfg, interval=60, timeout=10)


def test_rows_become_labelled_series() -> None:
    require_service("postgresql", port=5432)
    c = make("postgres", [{"name": "orders", "sql": ORDERS, "labels": ["status"]}])
    try:
        samples = c.collect(0)
    finally:
        c.close()
    got = {(s.name, s.labels.get("status")): s.value for s in samples}
    assert got[("sql_orders_orders", "failed")] == 10
    assert got[("sql_orders_orders", "paid")] == 20
    assert got[("sql_orders_revenue", "failed")] == 165 * 1.5
    assert got[("sql_query_up", None)] == 1


def test_slow_and_writing_queries_fail_alone() -> None:
    require_service("postgresql", port=5432)
    c = make(
        "postgres",
        [
            {"name": "slow", "sql": "SELECT pg_sleep(5) AS x", "timeout": "200ms"},
            {"name": "writes", "sql": "CREATE TABLE wk_never(x int)"},
            {"name": "stock_low", "sql": "SELECT 7 AS products"},
        ],
    )
    try:
        samples = c.collect(0)
        reasons = c.last_reasons()
    finally:
        c.close()
    up = {s.labels.get("query"): s.value for s in samples if s.name == "sql_query_up"}
    assert up == {"slow": 0, "writes": 0, "stock_low": 1}
    assert [s.value for s in samples if s.name == "sql_stock_low"] == [7]
    assert "canceling statement due to statement timeout" in reasons["slow"]
    assert "read-only transaction" in reasons["writes"]
    durations = {
        s.labels.get("query"): s.value for s in samples if s.name == "sql_query_duration_seconds"
    }
    assert durations["slow"] < 2  # the timeout cut it, it did not run for 5 s


def test_cached_rows_are_reemitted_between_runs() -> None:
    require_service("postgresql", port=5432)
    c = make("postgres", [{"name": "hourly", "sql": "SELECT 3 AS v", "interval": "1h"}])
    try:
        first = [s for s in c.collect(0) if s.name == "sql_hourly"]
        second = [s for s in c.collect(5000) if s.name == "sql_hourly"]
    finally:
        c.close()
    assert [s.value for s in first] == [s.value for s in second] == [3]
    assert second[0].timestamp_ms == 5000


def test_mysql_query_and_timeout() -> None:
    require_service("mariadb", port=3306)
    c = make(
        "mysql",
        [
            {"name": "answer", "sql": "SELECT 'eu' AS region, 42 AS n", "labels": ["region"]},
            {"name": "slow", "sql": "SELECT SLEEP(5) AS s", "timeout": "200ms"},
        ],
    )
    try:
        samples = c.collect(0)
    finally:
        c.close()
    assert [(s.labels.get("region"), s.value) for s in samples if s.name == "sql_answer"] == [
        ("eu", 42)
    ]
    up = {s.labels.get("query"): s.value for s in samples if s.name == "sql_query_up"}
    assert up == {"answer": 1, "slow": 0}


def test_sqlite_file_read_only_with_a_timeout(tmp_path: Path) -> None:
    # A small Django site's db.sqlite3 (no service needed: SQLite is a file).
    db = tmp_path / "db.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE shop_order(id INTEGER PRIMARY KEY, status TEXT, total REAL)")
        conn.executemany(
            "INSERT INTO shop_order(status, total) VALUES(?, ?)",
            [("failed" if i % 3 == 0 else "paid", i * 1.5) for i in range(1, 31)],
        )
    cfg = SqlMetricsConfig.model_validate(
        {
            "name": "shop",
            "driver": "sqlite",
            "sqlite": {"path": str(db)},
            "queries": [
                {
                    "name": "orders",
                    "sql": "SELECT status, count(*) AS orders FROM shop_order GROUP BY status",
                    "labels": ["status"],
                },
                {"name": "writes", "sql": "DELETE FROM shop_order"},
                {
                    "name": "slow",
                    "sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                    "SELECT count(*) AS c FROM n",
                    "timeout": "200ms",
                },
            ],
        }
    )
    c = SqlMetricsCollector("sql:shop", cfg, interval=60, timeout=10)
    try:
        samples = c.collect(0)
        reasons = c.last_reasons()
    finally:
        c.close()
    got = {(s.name, s.labels.get("status")): s.value for s in samples}
    assert got[("sql_orders", "failed")] == 10
    assert got[("sql_orders", "paid")] == 20
    up = {s.labels.get("query"): s.value for s in samples if s.name == "sql_query_up"}
    assert up == {"orders": 1, "writes": 0, "slow": 0}
    assert "readonly" in reasons["writes"].replace("-", "").replace(" ", "")
    assert "timed out after 0.2s" in reasons["slow"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM shop_order").fetchone() == (30,)


def test_sqlite_without_a_file_says_so(tmp_path: Path) -> None:
    from watchkeeper.collect.service_errors import CollectionError

    cfg = SqlMetricsConfig.model_validate(
        {"driver": "sqlite", "sqlite": {"path": str(tmp_path / "gone.sqlite3")}, "queries": []}
    )
    c = SqlMetricsCollector("sql:main", cfg, interval=60, timeout=10)
    with pytest.raises(CollectionError, match="no SQLite database at"):
        c.collect(0)
    with pytest.raises(ValueError, match="driver sqlite needs sqlite"):
        SqlMetricsConfig.model_validate({"driver": "sqlite"})


def test_sqlite_cannot_attach_and_follows_a_replaced_file(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t(x)")
        conn.execute("INSERT INTO t VALUES (1)")
    other = tmp_path / "other.db"
    cfg = SqlMetricsConfig.model_validate(
        {
            "name": "shop",
            "driver": "sqlite",
            "sqlite": {"path": str(db)},
            "queries": [
                {"name": "rows", "sql": "SELECT count(*) AS n FROM t"},
                {"name": "attach", "sql": f"ATTACH DATABASE '{other}' AS o"},
            ],
        }
    )
    c = SqlMetricsCollector("sql:shop", cfg, interval=60, timeout=10)
    try:
        first = {s.name: s.value for s in c.collect(0) if s.name == "sql_rows"}
        assert first == {"sql_rows": 1}
        assert not other.exists()  # ATTACH refused: it would have created the file
        # A restored backup replaces the file: the next collection reads the new one.
        fresh = tmp_path / "restored.sqlite3"
        with sqlite3.connect(fresh) as conn:
            conn.execute("CREATE TABLE t(x)")
            conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5)])
        fresh.replace(db)
        for q in c.queries:
            q.next_run = 0.0  # due again now
        second = {s.name: s.value for s in c.collect(1000) if s.name == "sql_rows"}
    finally:
        c.close()
    assert second == {"sql_rows": 5}
    with pytest.raises(ValueError, match="sqlite: is set but driver is 'postgres'"):
        SqlMetricsConfig.model_validate({"sqlite": {"path": str(db)}})
