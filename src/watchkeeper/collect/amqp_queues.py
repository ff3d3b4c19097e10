"""Queue depth and consumers over AMQP 0-9-1 (RabbitMQ), by passive declare.

Shared by the RabbitMQ and Celery collectors and the RabbitMQ health check.
A passive ``queue.declare`` answers with the message and consumer counts
without creating anything; the connection is kept and reopened on failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from watchkeeper.collect.service_errors import CollectionError, reason

__all__ = ["AmqpQueueInspector", "QueueDepth", "amqp_target"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueueDepth:
    messages: int
    consumers: int


def amqp_target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}"


class AmqpQueueInspector:
    """Asks a broker about queues; one kept connection, not thread-safe (one caller at a time)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self._url = url
        self.target = amqp_target(url)
        self.timeout = timeout
        self._conn: Any = None
        self._channel: Any = None

    def _connect(self) -> Any:
        import amqp

        if self._conn is not None and self._conn.connected:
            return self._conn
        parts = urlsplit(self._url)
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        vhost = unquote(path) or "/"
        conn = amqp.Connection(
            host=self.target,
            userid=unquote(parts.username or "guest"),
            password=unquote(parts.password or "guest"),
            virtual_host=vhost,
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            write_timeout=self.timeout,
            ssl=parts.scheme == "amqps",
        )
        try:
            conn.connect()
        except Exception as exc:
            raise CollectionError(reason(exc, self.target)) from None
        self._conn, self._channel = conn, None
        return conn

    def depths(self, queues: list[str]) -> dict[str, QueueDepth | None]:
        """Depth of each queue; ``None`` for a queue that does not exist."""
        import amqp

        conn = self._connect()
        out: dict[str, QueueDepth | None] = {}
        try:
            for queue in queues:
                if self._channel is None or not self._channel.is_open:
                    self._channel = conn.channel()
                try:
                    ok = self._channel.queue_declare(queue=queue, passive=True)
                except amqp.exceptions.NotFound:
                    # The broker closes the channel on a missing queue; open another next time.
                    self._channel = None
                    out[queue] = None
                    continue
                out[queue] = QueueDepth(int(ok.message_count), int(ok.consumer_count))
        except Exception as exc:
            self.close()
            raise CollectionError(reason(exc, self.target)) from None
        return out

    def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                # Broken already: drop the socket without the closing handshake.
                log.debug("error closing AMQP connection to %s", self.target, exc_info=True)
                conn.collect()
