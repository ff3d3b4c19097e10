"""Live updates over Server-Sent Events: new samples and alert changes.

The hub is fed on the event loop by the batch writer (``on_written``) and by
the alert board. Each browser subscribes to the metric names its panels
show and gets a bounded queue; a client that does not keep up is dropped
(its browser reconnects and refetches), so a slow phone can never hold up
the writer or the other clients. Frames are encoded once per batch and
shared by every client that wants the same metric.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from watchkeeper.model import Labels, Sample
from watchkeeper.web.alert_board import AlertChange

__all__ = ["LiveClient", "LiveHub", "labels_key"]

log = logging.getLogger("watchkeeper.web.live")

HEARTBEAT_S = 15.0


def labels_key(labels: Labels) -> str:
    """The series key the page also builds from a query result's ``metric`` (sans name)."""
    return ",".join(f"{k}={v}" for k, v in labels if k != "__name__")


class LiveClient:
    def __init__(self, names: frozenset[str], queue_size: int) -> None:
        self.names = names
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(queue_size)
        self.dropped = False

    def offer(self, frame: bytes | None) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            # Never wait for a slow reader: drop it; EventSource reconnects.
            self.dropped = True


class LiveHub:
    def __init__(self, *, max_clients: int = 200, queue_size: int = 256) -> None:
        self.max_clients = max_clients
        self.queue_size = queue_size
        self.clients: set[LiveClient] = set()
        self.dropped_clients = 0
        self.frames_sent = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # -- feeding -------------------------------------------------------------

    def on_written(self, batch: Sequence[Sample]) -> None:
        """Writer callback (event loop thread): fan the batch out to subscribers."""
        if not self.clients:
            return
        wanted: set[str] = set()
        for c in self.clients:
            wanted |= c.names
        by_name: dict[str, list[list[Any]]] = {}
        for s in batch:
            if s.name in wanted:
                v = s.value
                by_name.setdefault(s.name, []).append(
                    [labels_key(s.labels), s.timestamp_ms, v if math.isfinite(v) else None]
                )
        if not by_name:
            return
        written_ms = time.time() * 1000
        encoded = {name: json.dumps(rows, separators=(",", ":")) for name, rows in by_name.items()}
        cache: dict[frozenset[str], bytes] = {}
        for client in list(self.clients):
            names = client.names & encoded.keys()
            if not names:
                continue
            key = frozenset(names)
            frame = cache.get(key)
            if frame is None:
                body = ",".join(f'"{n}":{encoded[n]}' for n in sorted(names))
                frame = cache[key] = (
                    f'event: samples\ndata: {{"w":{written_ms:.1f},"s":{{{body}}}}}\n\n'.encode()
                )
            self._offer(client, frame)

    def on_alert_changes(self, changes: list[AlertChange]) -> None:
        """Alert board callback; may come from any thread."""
        payload = [
            {"fingerprint": c.fingerprint, "name": c.name, "from": c.old, "to": c.new, "at": c.at}
            for c in changes
        ]
        self.notify("alerts", {"changes": payload})

    def notify(self, event: str, data: object) -> None:
        """Send ``event`` to every client (thread-safe)."""
        frame = f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._broadcast(frame)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._broadcast, frame)

    def _broadcast(self, frame: bytes) -> None:
        for client in list(self.clients):
            self._offer(client, frame)

    def _offer(self, client: LiveClient, frame: bytes) -> None:
        client.offer(frame)
        if client.dropped:
            self.clients.discard(client)
            self.dropped_clients += 1
            log.info("live client dropped: it fell %d frames behind", self.queue_size)
        else:
            self.frames_sent += 1

    # -- serving -------------------------------------------------------------

    def subscribe(self, names: Iterable[str]) -> LiveClient | None:
        """A new client, or None when the hub is full."""
        if len(self.clients) >= self.max_clients:
            return None
        client = LiveClient(frozenset(names), self.queue_size)
        self.clients.add(client)
        return client

    def unsubscribe(self, client: LiveClient) -> None:
        self.clients.discard(client)

    def close(self) -> None:
        """End every stream (shutdown)."""
        for client in list(self.clients):
            client.offer(None)
            if client.dropped:  # queue full: the stream ends on its own check
                client.queue = asyncio.Queue(1)
                client.queue.put_nowait(None)
        self.clients.clear()

    async def stream(self, client: LiveClient) -> AsyncIterator[bytes]:
        """The SSE body for ``client``: frames, heartbeats, until dropped or closed."""
        try:
            yield b"retry: 2000\nevent: hello\ndata: {}\n\n"
            while not client.dropped:
                try:
                    frame = await asyncio.wait_for(client.queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if frame is None:
                    return
                yield frame
        finally:
            self.unsubscribe(client)
