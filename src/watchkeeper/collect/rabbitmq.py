"""RabbitMQ queue depth and consumers.

With a management URL, one HTTP call lists every queue (the deepest
``max_queues`` are kept, to bound cardinality); without it, the configured
queues are asked over AMQP by passive declare, which needs no plugin.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from watchkeeper.collect.amqp_queues import AmqpQueueInspector
from watchkeeper.collect.base import SampleBuilder, SyncCollector, gauge
from watchkeeper.collect.service_errors import CollectionError, reason
from watchkeeper.model import Sample

__all__ = ["RabbitMQCollector"]

log = logging.getLogger(__name__)

_COLUMNS = "name,vhost,messages,messages_ready,messages_unacknowledged,consumers"


class RabbitMQCollector(SyncCollector):
    metrics = (
        gauge("rabbitmq_queue_messages", "Messages in the queue (ready + unacknowledged)."),
        gauge("rabbitmq_queue_messages_ready", "Messages ready for delivery (management API)."),
        gauge("rabbitmq_queue_messages_unacked", "Messages delivered, not yet acknowledged."),
        gauge("rabbitmq_queue_consumers", "Consumers of the queue.", labels=("queue",)),
        gauge("rabbitmq_queue_exists", "1 when the configured queue exists.", labels=("queue",)),
    )

    def __init__(
        self,
        name: str,
        url: str,
        *,
        queues: list[str],
        management_url: str | None = None,
        max_queues: int = 200,
        interval: float = 10.0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(name, interval=interval, timeout=timeout)
        self.queues = queues
        self.max_queues = max_queues
        self._amqp = AmqpQueueInspector(url, timeout=self.timeout)
        self._management = management_url
        self._http: Any = None
        self._labels = {"server": name.partition(":")[2] or name}

    def collect(self, now_ms: int) -> list[Sample]:
        b = SampleBuilder(now_ms)
        if self._management:
            self._from_management(b)
        else:
            for queue, depth in self._amqp.depths(self.queues).items():
                ql = {**self._labels, "queue": queue}
                b.add("rabbitmq_queue_exists", depth is not None, ql)
                if depth is not None:
                    b.add("rabbitmq_queue_messages", depth.messages, ql)
                    b.add("rabbitmq_queue_consumers", depth.consumers, ql)
        return b.samples

    def _from_management(self, b: SampleBuilder) -> None:
        import httpx

        assert self._management is not None
        parts = urlsplit(self._management)
        target = f"{parts.hostname}:{parts.port or 15672}"
        if self._http is None:
            auth = (parts.username or "guest", parts.password or "guest")
            base = urlunsplit(parts._replace(netloc=target))
            self._http = httpx.Client(base_url=base, auth=auth, timeout=self.timeout)
        try:
            response = self._http.get(
                "/api/queues",
                params={"columns": _COLUMNS},
            )
            response.raise_for_status()
            queues = response.json()
        except httpx.HTTPStatusError as exc:
            raise CollectionError(
                f"management API answered HTTP {exc.response.status_code} ({target})"
            ) from None
        except Exception as exc:
            raise CollectionError(reason(exc, target)) from None
        queues.sort(key=lambda q: q.get("messages") or 0, reverse=True)
        for q in queues[: self.max_queues]:
            ql = {**self._labels, "queue": q["name"], "vhost": q.get("vhost", "/")}
            b.add("rabbitmq_queue_exists", 1, ql)
            b.add("rabbitmq_queue_messages", q.get("messages") or 0, ql)
            b.add("rabbitmq_queue_messages_ready", q.get("messages_ready") or 0, ql)
            b.add("rabbitmq_queue_messages_unacked", q.get("messages_unacknowledged") or 0, ql)
            b.add("rabbitmq_queue_consumers", q.get("consumers") or 0, ql)

    def close(self) -> None:
        self._amqp.close()
        if self._http is not None:
            self._http.close()
            self._http = None
