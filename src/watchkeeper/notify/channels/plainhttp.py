"""A small keep-alive HTTP/1.1 POST client for plain ``http://`` receivers.

httpx costs about a millisecond of CPU per request, which caps a webhook
near 400 messages/s on this class of machine; a webhook on the local
network (an Alertmanager-compatible bridge, a ticket system) is where
bursts of thousands of notifications go. This client keeps a few
connections open and does nothing else; ``https://`` goes through httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from watchkeeper.notify.channels.base import USER_AGENT, DeliveryError

__all__ = ["PlainHttpPool"]

MAX_BODY = 1 << 20


class PlainHttpPool:
    def __init__(self, url: str, timeout: float, size: int = 8) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not a plain http URL: {parts.scheme}://")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.host_header = parts.netloc.rsplit("@", 1)[-1]
        self.timeout = timeout
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.size = size

    async def post(self, body: bytes, headers: dict[str, str], what: str) -> tuple[int, bytes]:
        try:
            return await asyncio.wait_for(self._post(body, headers), self.timeout)
        except TimeoutError:
            raise DeliveryError(f"{what}: timed out after {self.timeout:g}s") from None
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise DeliveryError(f"{what}: {type(exc).__name__}: {exc}") from None

    async def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        head = [
            f"POST {self.target} HTTP/1.1",
            f"Host: {self.host_header}",
            f"User-Agent: {USER_AGENT}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ]
        head += [f"{k}: {v}" for k, v in headers.items() if "\n" not in v and "\r" not in v]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        reused = bool(self.idle)
        reader, writer = self.idle.pop() if reused else await self._connect()
        try:
            writer.write(request)
            await writer.drain()
            status, keep, payload = await self._response(reader)
        except (OSError, asyncio.IncompleteReadError):
            writer.close()
            if not reused:
                raise
            # A kept-alive connection the server had closed: one fresh try.
            reader, writer = await self._connect()
            writer.write(request)
            await writer.drain()
            status, keep, payload = await self._response(reader)
        if keep and len(self.idle) < self.size:
            self.idle.append((reader, writer))
        else:
            writer.close()
        return status, payload

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
        line = await reader.readuntil(b"\r\n")
        parts = line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ValueError("not an HTTP/1.x response")
        status = int(parts[1])
        keep = parts[0] == "HTTP/1.1"
        length: int | None = None
        chunked = False
        while True:
            h = await reader.readuntil(b"\r\n")
            if h == b"\r\n":
                break
            name, _, value = h.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection":
                keep = value != "close" and (keep or value == "keep-alive")
        if chunked:
            data = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                data += (await reader.readexactly(size + 2))[:-2]
                if len(data) > MAX_BODY:
                    raise ValueError("response too large")
            return status, keep, data
        if length is None:
            return status, False, await reader.read(MAX_BODY)  # until close
        if length > MAX_BODY:
            raise ValueError("response too large")
        return status, keep, await reader.readexactly(length)

    async def aclose(self) -> None:
        for _, writer in self.idle:
            with contextlib.suppress(Exception):
                writer.close()
        self.idle.clear()
