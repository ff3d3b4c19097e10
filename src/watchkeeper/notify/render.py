"""Text shared by the channels: titles, one-line summaries, severity colours."""

from __future__ import annotations

from typing import Any

from watchkeeper.links import absolute_link
from watchkeeper.notify.payload import Notification

__all__ = [
    "SEVERITY_COLOURS",
    "runbook_link",
    "safe_link",
    "severity_colour",
    "summary_line",
    "title",
    "worst_severity",
]

SEVERITY_COLOURS = {
    "critical": "#d32f2f",
    "error": "#e64a19",
    "warning": "#f9a825",
    "info": "#1976d2",
    "resolved": "#2e7d32",
}
_RANK = ["critical", "error", "warning", "info"]


def worst_severity(alerts: list[dict[str, Any]]) -> str:
    found = {
        str(a["labels"].get("severity", "")).lower() for a in alerts if a["status"] == "firing"
    }
    for sev in _RANK:
        if sev in found:
            return sev
    return "warning" if found else "resolved"


def severity_colour(n: Notification) -> str:
    if n.status == "resolved":
        return SEVERITY_COLOURS["resolved"]
    return SEVERITY_COLOURS.get(worst_severity(n.alerts), SEVERITY_COLOURS["warning"])


def title(n: Notification) -> str:
    """``[FIRING:2] HighCPU web-1`` as Alertmanager's default title, ``[TEST]`` for tests."""
    p = n.payload
    firing = sum(1 for a in n.alerts if a["status"] == "firing")
    head = f"[FIRING:{firing}]" if n.status == "firing" else "[RESOLVED]"
    if n.kind == "escalation":
        head = "[ESCALATED]" + head
    if n.is_test:
        head = "[TEST]" + head
    labels = " ".join(str(v) for _, v in sorted(p.get("groupLabels", {}).items()))
    return f"{head} {labels}".strip()


def summary_line(alert: dict[str, Any]) -> str:
    ann = alert.get("annotations", {})
    name = alert["labels"].get("alertname", "alert")
    text = ann.get("summary") or ann.get("description") or ""
    where = alert["labels"].get("instance", "")
    parts = [alert["status"].upper(), name]
    if where:
        parts.append(f"on {where}")
    line = " ".join(parts)
    return f"{line}: {text}" if text else line


def runbook_link(alert: dict[str, Any], external_url: str) -> str | None:
    """The alert's runbook as a link a message can carry, or None.

    ``runbook_url`` (the usual annotation; ``runbook`` is accepted too) is
    joined to the dashboard's external URL when it is a path such as the
    default pack's ``/runbooks#hosthighcpuusage``.
    """
    ann = alert.get("annotations", {})
    value = ann.get("runbook_url") or ann.get("runbook")
    return absolute_link(str(value), external_url) if value else None


def safe_link(value: object) -> str | None:
    """``value`` if it may be an ``href`` (an http(s) URL), else None."""
    return absolute_link(value, "") if isinstance(value, str) else None
