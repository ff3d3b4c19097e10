"""Which annotation values may become links (dashboard, e-mail, Slack).

Annotations come from rule files and from whoever posts alerts, so a value
is a link only if it is a page of the dashboard (``/runbooks#x``) or an
``http(s)`` URL: never ``javascript:``, ``data:`` or another scheme.
"""

from __future__ import annotations

import re

__all__ = ["absolute_link", "is_safe_link"]

#: A path of this site (not ``//host`` nor ``/\\host``, which browsers read as
#: another host), or an http(s) URL.
_SAFE = re.compile(r"^(/(?![/\\])|https?://)", re.IGNORECASE)


def is_safe_link(value: object) -> bool:
    """A dashboard path or an http(s) URL, without spaces or control characters."""
    return (
        isinstance(value, str)
        and bool(_SAFE.match(value))
        and not any(c.isspace() or ord(c) < 32 for c in value)
    )


def absolute_link(value: str, base: str) -> str | None:
    """``value`` as a link a notification can carry: paths joined to ``base`` (the
    dashboard's external URL); None if it may not be a link or has no base."""
    if not is_safe_link(value):
        return None
    if value.startswith("/"):
        return base.rstrip("/") + value if base else None
    return value
