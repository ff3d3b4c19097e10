"""Service collectors and /health under load, against the machine's real services.

Prints one JSON object on its last line:
  postgres_ms, redis_ms, mysql_ms   median cost of one collection cycle
  health_p99_ms, health_p50_ms      latency of GET /health at 200 requests/s (cache on)
  health_db_queries                 PostgreSQL round trips those requests caused,
                                    counted by the server (pg_stat_database.xact_commit
                                    of a database only the health check uses)
  health_db_queries_nocache, health_p99_ms_nocache
                                    the same load with the cache off (the baseline)

Usage: python bench/collectors.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from watchkeeper.collect.mysql import MySQLCollector
from watchkeeper.collect.postgres import PostgresCollector
from watchkeeper.collect.redis import RedisCollector
from watchkeeper.config.services import MySQLConfig, PostgresConfig, RedisConfig

BENCH_DB = "wk_bench_health"
ADMIN = {"host": "127.0.0.1", "user": "postgres", "dbname": "test", "autocommit": True}

SERVER = """
import sys, uvicorn
from watchkeeper.config.health import HealthConfig
from watchkeeper.web.health import create_health_app
cfg = HealthConfig.model_validate({
    "cache": float(sys.argv[2]),
    "checks": [
        {"name": "database", "type": "postgres", "database": sys.argv[3]},
        {"name": "cache", "type": "redis"},
        {"name": "disk", "type": "disk"},
    ],
})
uvicorn.run(create_health_app(cfg), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", access_log=False)
"""


def cycle_ms(collector: object, cycles: int) -> float:
    """Median wall time of one collect() call, after a warm-up cycle that connects."""
    collect = collector.collect  # type: ignore[attr-defined]
    collect(0)
    times = []
    for i in range(cycles):
        started = time.perf_counter()
        collect(i)
        times.append((time.perf_counter() - started) * 1000)
    collector.close()  # type: ignore[attr-defined]
    return round(statistics.median(times), 3)


def xact_commits() -> int:
    with psycopg.connect(**ADMIN) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (BENCH_DB,)
        ).fetchone()
    return int(row[0]) if row else 0


def ensure_db() -> None:
    with psycopg.connect(**ADMIN) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)).fetchone():
            conn.execute(f"CREATE DATABASE {BENCH_DB}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    writer.write(b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def load(port: int, rate: float, seconds: float, seed: int) -> list[float]:
    """Open-loop load: requests are due on a Poisson schedule at ``rate``/s.

    A lean raw-HTTP client over 16 keep-alive connections, so that the load
    generator costs little CPU on a 2-core machine. Latency is measured from
    when a request was *due*, so time spent waiting for a free connection
    counts (no coordinated omission).
    """
    rng = random.Random(seed)
    due: asyncio.Queue[float | None] = asyncio.Queue()
    latencies: list[float] = []
    start = time.perf_counter() + 0.2
    t = 0.0
    while t < seconds:
        due.put_nowait(start + t)
        t += rng.expovariate(rate)  # Poisson arrivals: bursts, like real traffic
    connections = 16
    for _ in range(connections):
        due.put_nowait(None)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (when := await due.get()) is not None:
                delay = when - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                status = await _get(reader, writer)
                latencies.append((time.perf_counter() - when) * 1000)
                if status != 200:
                    raise SystemExit(f"/health answered {status}")
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies


def health_run(cache: float, seconds: float, seed: int) -> tuple[float, float, int, int]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "server.py"
        script.write_text(SERVER)
        before = xact_commits()
        proc = subprocess.Popen([sys.executable, str(script), str(port), str(cache), BENCH_DB])
        try:
            deadline = time.monotonic() + 30
            while True:  # wait until it serves
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/livez").status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit("health server did not start") from None
                    time.sleep(0.05)
            latencies = asyncio.run(load(port, 200.0, seconds, seed))
        finally:
            proc.terminate()
            proc.wait()
        # The server's backend flushes its statistics when it exits.
        deadline = time.monotonic() + 5
        after = xact_commits()
        while after == before and time.monotonic() < deadline:
            time.sleep(0.1)
            after = xact_commits()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return round(p99, 3), round(statistics.median(latencies), 3), after - before, len(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, under a minute")
    args = parser.parse_args()
    cycles = 30 if args.quick else 200
    seconds = 8.0 if args.quick else 20.0

    result: dict[str, float | int | str] = {"mode": "quick" if args.quick else "full"}
    result["postgres_ms"] = cycle_ms(PostgresCollector("postgres:main", PostgresConfig()), cycles)
    result["redis_ms"] = cycle_ms(RedisCollector("redis:main", RedisConfig()), cycles)
    result["mysql_ms"] = cycle_ms(MySQLCollector("mysql:main", MySQLConfig()), cycles)

    ensure_db()
    p99, p50, queries, requests = health_run(5.0, seconds, seed=6)
    result.update(
        health_p99_ms=p99,
        health_p50_ms=p50,
        health_requests=requests,
        health_db_queries=queries,
        health_cache_seconds=5.0,
        health_load_seconds=seconds,
        health_rate=200,
    )
    p99n, p50n, queries_n, requests_n = health_run(0.0, seconds / 2, seed=7)
    result.update(
        health_p99_ms_nocache=p99n,
        health_p50_ms_nocache=p50n,
        health_requests_nocache=requests_n,
        health_db_queries_nocache=queries_n,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
