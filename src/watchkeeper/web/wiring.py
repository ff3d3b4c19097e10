"""From the configuration and a built Runner to the web Service.

The one place that knows how the web plugs into the run loop: the store and
stats are the runner's, live updates and ``/metrics`` hang off its writer,
metadata comes from its collectors, the alert lifecycle from its notifier,
and the first admin is created (its password printed once) before the port
opens.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from watchkeeper.config.model import Config
from watchkeeper.model import MetricMeta
from watchkeeper.web.alert_board import AlertBoard
from watchkeeper.web.app import connect_writer, create_app
from watchkeeper.web.authdb import AuthDB
from watchkeeper.web.server import WebServer, announce_initial_admin

if TYPE_CHECKING:
    from watchkeeper.alerts.service import AlertService
    from watchkeeper.notify.notifier import Notifier

__all__ = ["alert_service", "build_web_service"]

log = logging.getLogger("watchkeeper.web")

#: ``health`` default: build the checks from the configuration here. The run
#: loop passes its own runner (shared with the recording), or None when the
#: checks could not be built (it has said why).
BUILD: Any = object()


def build_web_service(
    config: Config,
    runner: Any,
    *,
    board: AlertBoard | None = None,
    health: Any = BUILD,
    notifier: Notifier | None = None,
) -> WebServer:
    """``notifier``: the run loop's notifier, for posted alerts and the alert lifecycle.

    The web opens its own connection to the notifier's alerts.db: SQLite's
    ``data_version``, by which the notifier notices acknowledgements and
    silences, only changes for commits made on *other* connections.
    """
    web = config.web
    db = AuthDB(web.database_path(config.storage.path))
    announce_initial_admin(db, web.auth.initial_admin)
    metadata: list[MetricMeta] = []
    for collector in runner.collectors:
        metadata.extend(getattr(collector, "metrics", ()))
    built_here = health is BUILD
    if health is BUILD and getattr(config, "health", None) is not None:
        try:
            from watchkeeper.health.build import build_health_runner

            health = build_health_runner(config.health)
        except Exception as exc:  # a bad check must not keep the dashboard down
            log.error("health checks unavailable in the web: %s", exc)
            health = None
    elif health is BUILD:
        health = None
    alerts = alert_service(notifier)
    app = create_app(
        config=web,
        store=runner.store,
        auth_db=db,
        board=board,
        metadata=metadata,
        health=health,
        stats=runner.stats,
        rules_enabled=board is not None,
        alerts=alerts,
        notifier=notifier,
    )
    connect_writer(app, runner.writer)
    # The web's own database connections end with it.
    closing = [db.close] + ([alerts.db.close] if alerts is not None else [])
    if built_here and health is not None:
        closing.append(health.close)  # the run loop closes the runner it passes in
    return WebServer(app, web.listen, web.port, on_stopped=closing)


def alert_service(notifier: Notifier | None) -> AlertService | None:
    """An AlertService over the notifier's alerts.db, on a connection of its own."""
    if notifier is None:
        return None
    from watchkeeper.alerts.db import AlertsDB
    from watchkeeper.alerts.service import AlertService

    return AlertService(AlertsDB(notifier.db.path), notifier.config)
