"""Inbound alerts, maintenance windows and the notify configuration's errors."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from watchkeeper.alerts.maintenance import MaintenanceWindow
from watchkeeper.alerts.model import InboundAlert, InvalidAlert, fingerprint
from watchkeeper.alerts.service import AlertServiceError, parse_postable_alerts
from watchkeeper.config.load import ConfigError, parse_config
from watchkeeper.config.notify import MaintenanceWindowConfig


def ms(*args: int, tz: str) -> int:
    return int(datetime(*args, tzinfo=ZoneInfo(tz)).timestamp() * 1000)  # type: ignore[misc]


def test_fingerprint_is_alertmanagers_fnv1a() -> None:
    # Alertmanager's fingerprint of an empty label set is the FNV-1a offset basis.
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"b": "2", "a": "1"}) == fingerprint({"a": "1", "b": "2"})
    assert fingerprint({"a": "1b"}) != fingerprint({"a1": "b"})


def test_postable_alert_round_trip_and_errors() -> None:
    (a,) = parse_postable_alerts(
        [
            {
                "labels": {"alertname": "X"},
                "startsAt": "2024-01-02T03:04:05.678Z",
                "endsAt": "2024-01-02T04:00:00Z",
                "generatorURL": "http://g",
            }
        ]
    )
    assert a.to_api()["startsAt"] == "2024-01-02T03:04:05.678Z"
    assert a.resolved(a.ends_at_ms)
    with pytest.raises(AlertServiceError, match=r"alerts\[0\].labels: at least one label"):
        parse_postable_alerts([{"labels": {}}])
    with pytest.raises(AlertServiceError, match=r"alerts\[1\].startsAt: expected an RFC 3339"):
        parse_postable_alerts([{"labels": {"a": "b"}}, {"labels": {"a": "b"}, "startsAt": "now"}])
    with pytest.raises(InvalidAlert, match="unknown field"):
        InboundAlert.from_api({"labels": {"a": "b"}, "status": "firing"})


def test_maintenance_window_in_its_time_zone_across_dst_and_midnight() -> None:
    w = MaintenanceWindow.from_config(
        MaintenanceWindowConfig(
            name="w", weekdays=["sunday"], start="02:00", end="04:00", time_zone="Europe/Istanbul"
        )
    )
    assert w.active(ms(2024, 3, 3, 2, 0, tz="Europe/Istanbul"))
    assert not w.active(ms(2024, 3, 3, 4, 0, tz="Europe/Istanbul"))
    assert not w.active(ms(2024, 3, 4, 2, 30, tz="Europe/Istanbul"))  # Monday
    # Sunday 02:30 in Istanbul is Saturday 23:30 UTC.
    assert w.active(ms(2024, 3, 2, 23, 30, tz="UTC"))
    night = MaintenanceWindow.from_config(
        MaintenanceWindowConfig(
            name="n", weekdays=["friday"], start="22:00", end="02:00", time_zone="Europe/Berlin"
        )
    )
    assert night.active(ms(2024, 3, 29, 23, 0, tz="Europe/Berlin"))  # Friday night
    assert night.active(ms(2024, 3, 30, 1, 0, tz="Europe/Berlin"))  # Saturday morning
    assert not night.active(ms(2024, 3, 30, 23, 0, tz="Europe/Berlin"))  # Saturday night
    # 31 March 2024: Berlin switches to summer time at 02:00; 09:00 local stays 09:00.
    day = MaintenanceWindow.from_config(
        MaintenanceWindowConfig(name="d", start="09:00", end="10:00", time_zone="Europe/Berlin")
    )
    assert day.active(ms(2024, 3, 31, 9, 30, tz="Europe/Berlin"))
    assert not day.active(ms(2024, 3, 31, 8, 30, tz="UTC"))  # 10:30 Berlin (CEST)


def test_monthly_and_first_sunday_windows() -> None:
    monthly = MaintenanceWindow.from_config(
        MaintenanceWindowConfig(name="patches", days_of_month=[1], start="22:00", end="02:00")
    )
    assert monthly.active(ms(2024, 3, 1, 23, 0, tz="UTC"))  # the 1st, evening
    assert monthly.active(ms(2024, 3, 2, 1, 0, tz="UTC"))  # the morning after
    assert not monthly.active(ms(2024, 3, 2, 23, 0, tz="UTC"))
    first_sunday = MaintenanceWindow.from_config(
        MaintenanceWindowConfig(
            name="upgrade",
            weekdays=["sunday"],
            days_of_month=[1, 2, 3, 4, 5, 6, 7],
            start="02:00",
            end="06:00",
        )
    )
    assert first_sunday.active(ms(2024, 3, 3, 3, 0, tz="UTC"))  # 3 March 2024: first Sunday
    assert not first_sunday.active(ms(2024, 3, 10, 3, 0, tz="UTC"))  # the second
    assert not first_sunday.active(ms(2024, 3, 4, 3, 0, tz="UTC"))  # a Monday in the first week
    assert first_sunday.describe() == "sun on the 1,2,3,4,5,6,7 02:00-06:00 UTC"


def test_notify_config_errors_name_the_place() -> None:
    text = """
notify:
  receivers:
    - name: ops
      slack_configs:
        - api_url: ${SLACK_URL:-https://hooks.slack.com/x}
  route:
    receiver: opz
  maintenance:
    - name: m
      time_zone: Mars/Olympus
      start: "25:00"
"""
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    problems = "\n".join(err.value.problems)
    assert "unknown time zone 'Mars/Olympus'" in problems
    assert "expected a time of day HH:MM" in problems
    ok = parse_config(text.replace("opz", "ops").split("  maintenance")[0])
    assert ok.notify.route.receiver == "ops"
    assert "hooks.slack.com" not in repr(ok.notify.receivers[0])  # secrets never printed


def test_unknown_receiver_reference() -> None:
    with pytest.raises(ConfigError, match="unknown receiver 'opz'"):
        parse_config("notify:\n  route:\n    receiver: opz\n")
