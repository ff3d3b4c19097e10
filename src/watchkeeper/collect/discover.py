"""Finding the local services worth monitoring, for ``watchkeeper init``.

Only a TCP connect to the usual ports on 127.0.0.1, in parallel and under a
short timeout: it never logs in, so it is safe to run anywhere. Each service
found comes with the collector entry (and health check entry) to write into
the generated watchkeeper.yml, credentials left as ``${ENV}`` references.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DiscoveredService", "describe_discovery", "discover_services"]


@dataclass(frozen=True)
class DiscoveredService:
    #: The key under ``collectors:`` (``postgres``, ``mysql``, ``redis``, ``rabbitmq``).
    kind: str
    label: str
    host: str
    port: int
    #: One entry for ``collectors.<kind>``.
    config: dict[str, Any]
    #: One entry for ``health.checks``.
    health_check: dict[str, Any] = field(default_factory=dict)


_CANDIDATES: tuple[tuple[str, str, int, dict[str, Any], dict[str, Any]], ...] = (
    (
        "postgres",
        "PostgreSQL",
        5432,
        {"name": "main", "user": "${PGUSER:-postgres}", "password": "${PGPASSWORD:-}"},
        {"name": "database", "type": "postgres", "user": "${PGUSER:-postgres}"},
    ),
    (
        "mysql",
        "MySQL/MariaDB",
        3306,
        {"name": "main", "user": "${MYSQL_USER:-root}", "password": "${MYSQL_PASSWORD:-}"},
        {"name": "mysql", "type": "mysql", "user": "${MYSQL_USER:-root}"},
    ),
    (
        "redis",
        "Redis",
        6379,
        {"name": "main"},
        {"name": "cache", "type": "redis"},
    ),
    (
        "rabbitmq",
        "RabbitMQ",
        5672,
        {"name": "main", "url": "${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672//}"},
        {"name": "rabbitmq", "type": "rabbitmq", "critical": False},
    ),
)


def _listening(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def discover_services(timeout: float = 0.5, host: str = "127.0.0.1") -> list[DiscoveredService]:
    """The known services listening on ``host``; takes at most about ``timeout`` seconds."""
    with ThreadPoolExecutor(max_workers=len(_CANDIDATES)) as pool:
        open_ = list(pool.map(lambda c: _listening(host, c[2], timeout), _CANDIDATES))
    found = []
    for (kind, label, port, config, check), is_open in zip(_CANDIDATES, open_, strict=True):
        if is_open:
            cfg = {**config}
            if kind != "rabbitmq":
                cfg.update(host=host, port=port)
            found.append(DiscoveredService(kind, label, host, port, cfg, {**check}))
    return found


def describe_discovery(found: list[DiscoveredService], host: str = "127.0.0.1") -> str:
    """One line for ``watchkeeper init``: what was found and what was not."""
    seen = {s.kind for s in found}
    have = ", ".join(f"{s.label} on {s.host}:{s.port}" for s in found)
    missing = ", ".join(
        f"{label} ({port})" for kind, label, port, _, _ in _CANDIDATES if kind not in seen
    )
    parts = [f"found {have}" if have else f"found no services on {host}"]
    if missing:
        parts.append(f"not found: {missing}")
    return "; ".join(parts)
