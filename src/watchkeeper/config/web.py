"""Configuration of the web application (``web:`` in watchkeeper.yml).

Secure by default: it listens on loopback only, and everything except the
liveness/readiness status needs a logged-in user or an API token. Opening
``/metrics`` or the Prometheus API to anonymous scrapers is an explicit choice.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from watchkeeper.config.base import PositiveDuration, StrictModel, field_error

__all__ = ["WebAuthConfig", "WebConfig"]


class WebAuthConfig(StrictModel):
    #: How long a login lasts without activity being required.
    session_lifetime: PositiveDuration = 12 * 3600.0
    #: Failed logins allowed per client address (and per user name) in ``login_window``.
    login_attempts: int = Field(5, ge=1, le=1000)
    login_window: PositiveDuration = 300.0
    #: Let anyone scrape ``/metrics`` (e.g. a Prometheus without a token).
    public_metrics: bool = False
    #: Let anyone read the Prometheus-compatible query API (``/api/v1/...``).
    public_prometheus_api: bool = False
    #: ``auto``: cookies are Secure when the request came over HTTPS (directly
    #: or through a trusted proxy's X-Forwarded-Proto).
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    #: The first ``watchkeeper run`` with no user creates this admin with a
    #: random password printed once on the console (stored only as a hash).
    initial_admin: str = "admin"


class WebConfig(StrictModel):
    enabled: bool = True
    #: Loopback by default: exposing the dashboard is a deliberate decision.
    listen: str = "127.0.0.1"
    port: int = Field(9750, ge=1, le=65535)
    #: Users, sessions, tokens and the audit log; defaults to ``web.db`` beside the store.
    database: Path | None = None
    #: Requests with a larger body are refused (413).
    max_request_bytes: int = Field(1 << 20, ge=1024, le=1 << 30)
    #: Proxies whose X-Forwarded-For/-Proto headers are believed (addresses).
    trusted_proxies: list[str] = Field(default_factory=list)
    #: Longest ``query``/``query_range`` evaluation before it is cancelled.
    query_timeout: PositiveDuration = 30.0
    auth: WebAuthConfig = Field(default_factory=WebAuthConfig)

    @field_validator("listen")
    @classmethod
    def _some_address(cls, value: str) -> str:
        # An empty host makes the server listen on every interface: say so instead.
        if not value.strip():
            raise ValueError(
                "the address is empty, got '': give 127.0.0.1 (this machine only) "
                "or 0.0.0.0 / :: (every interface)"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for i, proxy in enumerate(value):
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise field_error(
                    i,
                    f"expected an IP address or network such as 10.0.0.1 or 10.0.0.0/8, "
                    f"got {proxy!r}",
                ) from None
        return value

    def database_path(self, store_path: Path) -> Path:
        """``database``, else ``web.db`` in the store's directory (never the store itself)."""
        if self.database is not None:
            return self.database.expanduser()
        return store_path.expanduser().parent / "web.db"
