"""The bridge from the rule engine to the notifier (the run loop's ``on_alerts``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from watchkeeper.alerts.convert import from_rule_alerts
from watchkeeper.alerts.model import now_ms

if TYPE_CHECKING:
    from watchkeeper.notify.notifier import Notifier
    from watchkeeper.rules.alerting import Alert

__all__ = ["alert_sink"]


def alert_sink(
    notifier: Notifier, interval_s: float, *, generator_url: str = ""
) -> Callable[[Sequence[Alert]], None]:
    """A callback taking a rule group's alerts after each evaluation (any thread).

    Pass every alert the rules hold, resolved ones included (like Prometheus
    does for 15 minutes), so resolutions are sent at once rather than when
    the firing alert's ``endsAt`` (4 intervals) runs out.
    """

    def sink(alerts: Sequence[Alert]) -> None:
        converted = from_rule_alerts(
            alerts, now_ms=now_ms(), interval_s=interval_s, generator_url=generator_url
        )
        if converted:
            notifier.receive(converted)

    return sink
