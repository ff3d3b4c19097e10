"""Who may see what: Django's own login decides, no second login.

Staff means ``is_staff`` (or, with ``staff_group`` set, membership of that
group); superusers always are. ``/metrics`` also takes a bearer token from
``metrics_tokens`` (for Prometheus) or is public when ``public_metrics``.
"""

from __future__ import annotations

import hmac
from typing import Any

from watchkeeper.contrib.django.state import get_instruments

__all__ = ["bearer_allowed", "is_monitoring_staff"]


def is_monitoring_staff(user: Any) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    group = get_instruments().site.options.staff_group
    if group is None:
        return bool(getattr(user, "is_staff", False))
    return bool(user.groups.filter(name=group).exists())


def bearer_allowed(request: Any) -> bool:
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    if header[:7].lower() != "bearer ":
        return False
    sent = header[7:].strip().encode()
    tokens = get_instruments().site.options.metrics_tokens
    return any(hmac.compare_digest(sent, t.encode()) for t in tokens)
