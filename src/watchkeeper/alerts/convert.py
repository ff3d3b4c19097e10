"""From the rule engine's ``Alert`` to the notifier's inbound alert, as Prometheus does it.

Pending alerts are not sent. A firing alert is valid until four evaluation
intervals from now (Prometheus's ``endsAt``), so if the rule engine stops,
the alert resolves by itself instead of firing forever. A resolved alert
carries its resolution time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from watchkeeper.alerts.model import InboundAlert

if TYPE_CHECKING:
    from watchkeeper.rules.alerting import Alert

__all__ = ["from_rule_alert", "from_rule_alerts"]


def from_rule_alert(
    alert: Alert, *, now_ms: int, interval_s: float, generator_url: str = ""
) -> InboundAlert | None:
    from watchkeeper.rules.alerting import AlertState

    if alert.state is AlertState.PENDING:
        return None
    if alert.state is AlertState.INACTIVE or alert.resolved_at_ms:
        ends = alert.resolved_at_ms or now_ms
    else:
        ends = now_ms + int(4 * max(interval_s, 1.0) * 1000)
    return InboundAlert(
        labels=alert.labels,
        annotations=dict(alert.annotations),
        starts_at_ms=alert.active_at_ms,
        ends_at_ms=ends,
        generator_url=generator_url,
    )


def from_rule_alerts(
    alerts: Iterable[Alert], *, now_ms: int, interval_s: float, generator_url: str = ""
) -> list[InboundAlert]:
    """Every firing and recently resolved alert (what the notifier's ``receive`` wants)."""
    out = []
    for a in alerts:
        got = from_rule_alert(a, now_ms=now_ms, interval_s=interval_s, generator_url=generator_url)
        if got is not None:
            out.append(got)
    return out
