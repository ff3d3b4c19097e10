"""Security signals from ``django.contrib.auth``: failed logins and staff logins.

``auth_failed_logins_total`` is what the default rule pack's
ManyFailedLogins alert reads; the client address goes to the bounded
tracker (``contrib.security``), never into a label.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from watchkeeper.contrib.django.state import get_instruments

__all__ = ["client_address", "install"]


def client_address(request: Any, trusted_proxies: Sequence[str]) -> str:
    """REMOTE_ADDR, or the first X-Forwarded-For hop when REMOTE_ADDR is a trusted proxy."""
    if request is None:
        return "unknown"
    meta = getattr(request, "META", {})
    peer = str(meta.get("REMOTE_ADDR") or "unknown")
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if forwarded and _trusted(peer, trusted_proxies):
        first = str(forwarded).split(",")[0].strip()
        if first:
            return first[:64]
    return peer[:64]


def _trusted(peer: str, proxies: Sequence[str]) -> bool:
    try:
        addr = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for proxy in proxies:
        try:
            if addr in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def on_login_failed(sender: Any, credentials: Any = None, request: Any = None, **kw: Any) -> None:
    inst = get_instruments()
    inst.failed_logins.inc()
    inst.logins.failed(client_address(request, inst.site.options.trusted_proxies))


def on_logged_in(sender: Any, request: Any = None, user: Any = None, **kw: Any) -> None:
    if user is not None and getattr(user, "is_staff", False):
        get_instruments().staff_logins.inc()


def install() -> None:
    from django.contrib.auth.signals import user_logged_in, user_login_failed

    user_login_failed.connect(on_login_failed, dispatch_uid="watchkeeper.login_failed")
    user_logged_in.connect(on_logged_in, dispatch_uid="watchkeeper.logged_in")
