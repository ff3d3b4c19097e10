"""Notifications: the route tree, mute stages, dedup, the durable outbox and the channels."""

from watchkeeper.notify.notifier import FAILING_ALERT, Notifier
from watchkeeper.notify.outbox import Outbox

__all__ = ["FAILING_ALERT", "Notifier", "Outbox", "build_notifier"]


def build_notifier(config: object, store_path: object) -> Notifier:
    """The notifier for a whole watchkeeper ``Config`` (its ``notify`` section)."""
    from pathlib import Path

    from watchkeeper.alerts.db import AlertsDB, default_alerts_db_path
    from watchkeeper.config.notify import NotifyConfig
    from watchkeeper.notify.build import build_channels

    cfg = getattr(config, "notify", config)
    assert isinstance(cfg, NotifyConfig)
    path = cfg.database or default_alerts_db_path(Path(str(store_path)))
    return Notifier(cfg, AlertsDB(path), build_channels(cfg))
