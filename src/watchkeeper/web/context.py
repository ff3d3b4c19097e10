"""Everything the routes read, in one place handed to each router.

The web app is built over parts that other rooms own (the store, the rule
board, the health runner, the run loop's stats); optional ones are None
when that feature is not configured or not built yet, and the routes that
need them answer 501 with the reason instead of failing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from watchkeeper.config.web import WebConfig
from watchkeeper.model import MetricMeta
from watchkeeper.store.base import Store
from watchkeeper.web.alert_board import AlertBoard
from watchkeeper.web.auth import WebAuth
from watchkeeper.web.live import LiveHub

if TYPE_CHECKING:
    from watchkeeper.alerts.service import AlertService
    from watchkeeper.health.runner import HealthRunner
    from watchkeeper.notify.notifier import Notifier
    from watchkeeper.runtime.stats import RuntimeStats

__all__ = ["NotAvailable", "WebContext"]


class NotAvailable(Exception):
    """A feature whose backing part is missing: answered 501 with this reason."""


@dataclass
class WebContext:
    config: WebConfig
    store: Store
    auth: WebAuth
    board: AlertBoard = field(default_factory=AlertBoard)
    hub: LiveHub = field(default_factory=LiveHub)
    metadata: Sequence[MetricMeta] = ()
    health: HealthRunner | None = None
    stats: RuntimeStats | None = None
    #: Whether a rule engine publishes to ``board`` (else the rules pages say so).
    rules_enabled: bool = False
    #: The alert lifecycle (acks, resolve, silences, history, outbox) in alerts.db,
    #: on a connection of its own so the notifier sees the web's commits.
    alerts: AlertService | None = None
    #: The running notifier: alerts posted to ``/api/v2/alerts`` go to it.
    notifier: Notifier | None = None
    started_at: float = field(default_factory=time.time)

    def alert_service(self) -> AlertService:
        """The alert service, or 501 naming why there is none."""
        if self.alerts is None:
            raise NotAvailable(
                "alert acknowledgements, silences and notifications are off in this process "
                "(notify.enabled: false in watchkeeper.yml)"
            )
        return self.alerts

    def running_notifier(self) -> Notifier:
        if self.notifier is None:
            raise NotAvailable(
                "no notifier runs in this process (notify.enabled: false in watchkeeper.yml)"
            )
        return self.notifier
