"""The alert lifecycle: inbound alerts, silences, maintenance windows, acks, history."""

from watchkeeper.alerts.db import AlertRecord, AlertsDB, default_alerts_db_path
from watchkeeper.alerts.model import AlertStatus, InboundAlert, InvalidAlert, fingerprint
from watchkeeper.alerts.service import AlertService, AlertServiceError, parse_postable_alerts

__all__ = [
    "AlertRecord",
    "AlertService",
    "AlertServiceError",
    "AlertStatus",
    "AlertsDB",
    "InboundAlert",
    "InvalidAlert",
    "default_alerts_db_path",
    "fingerprint",
    "parse_postable_alerts",
]
