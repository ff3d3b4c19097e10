"""What a channel is, and how HTTP answers become retry decisions."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from watchkeeper.notify.payload import Notification

if TYPE_CHECKING:  # httpx (and the rich/pygments it drags in) loads only for HTTP channels
    import httpx

__all__ = ["Channel", "DeliveryError", "check_http", "check_status", "http_client", "post_json"]

USER_AGENT = "watchkeeper-notifier"


class DeliveryError(Exception):
    """A send that failed; ``retryable`` False dead-letters at once (e.g. HTTP 400)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(abc.ABC):
    """Delivers notifications to one integration (one entry of a receiver)."""

    #: ``<receiver>/<type>/<index>``: the outbox's integration key.
    key: str
    receiver: str
    send_resolved: bool = True
    rate_limit: float = 0.0

    @abc.abstractmethod
    async def send(self, n: Notification) -> None:
        """Return when the receiver has accepted ``n``; raise DeliveryError otherwise."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def http_client(timeout: float) -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(
        timeout=timeout,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
    )


def check_http(response: httpx.Response, what: str) -> None:
    check_status(response.status_code, response.text, what)


def check_status(code: int, text: str, what: str) -> None:
    """2xx is success; 429, 408 and 5xx are retried; other 4xx are permanent."""
    if 200 <= code < 300:
        return
    retryable = code >= 500 or code in (408, 425, 429)
    raise DeliveryError(f"{what} answered HTTP {code}: {text[:200].strip()}", retryable=retryable)


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    what: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    import httpx

    try:
        response = await client.post(
            url, content=body, headers={"Content-Type": "application/json", **(headers or {})}
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{what}: {type(exc).__name__}: {exc}") from None
    check_http(response, what)
    return response
