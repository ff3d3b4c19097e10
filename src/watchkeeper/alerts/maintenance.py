"""Recurring maintenance windows: weekdays, days of the month, a time of day range, a zone.

"Sundays 02:00-04:00 Europe/Istanbul" is evaluated in Istanbul's local time,
so it stays at 02:00 local across daylight-saving changes. A window whose end
is before its start crosses midnight: it starts on the listed weekday.
``days_of_month`` narrows the days to those dates: ``[1]`` is monthly, and
with ``weekdays: [sunday]``, ``[1, 2, 3, 4, 5, 6, 7]`` is the first Sunday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from watchkeeper.alerts.matchers import matches_all, parse_matchers
from watchkeeper.config.notify import WEEKDAYS, MaintenanceWindowConfig
from watchkeeper.model import Labels, Matcher

__all__ = ["MaintenanceWindow"]


def _minutes(text: str) -> int:
    if text == "24:00":
        return 24 * 60
    t = dtime.fromisoformat(text)
    return t.hour * 60 + t.minute


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    name: str
    weekdays: frozenset[int]  # Monday = 0
    start_min: int
    end_min: int
    zone: ZoneInfo
    matchers: tuple[Matcher, ...]
    #: Dates (1-31) the window starts on; empty: every listed weekday.
    days_of_month: frozenset[int] = frozenset()

    @classmethod
    def from_config(cls, cfg: MaintenanceWindowConfig) -> MaintenanceWindow:
        return cls(
            name=cfg.name,
            weekdays=frozenset(WEEKDAYS.index(d) for d in cfg.weekdays),
            start_min=_minutes(cfg.start),
            end_min=_minutes(cfg.end),
            zone=ZoneInfo(cfg.time_zone),
            matchers=tuple(parse_matchers(cfg.matchers)),
            days_of_month=frozenset(cfg.days_of_month),
        )

    def _starts_on(self, day: datetime) -> bool:
        return day.weekday() in self.weekdays and (
            not self.days_of_month or day.day in self.days_of_month
        )

    def active(self, at_ms: int) -> bool:
        """Is ``at_ms`` (epoch ms) inside the window, in the window's own time zone?"""
        local = datetime.fromtimestamp(at_ms / 1000, tz=self.zone)
        minute = local.hour * 60 + local.minute
        if self.start_min < self.end_min:
            return self._starts_on(local) and self.start_min <= minute < self.end_min
        # Crosses midnight: the evening of a listed day, or the morning after one.
        if self._starts_on(local) and minute >= self.start_min:
            return True
        return self._starts_on(local - timedelta(days=1)) and minute < self.end_min

    def applies(self, labels: Labels, at_ms: int) -> bool:
        return matches_all(self.matchers, labels) and self.active(at_ms)

    def describe(self) -> str:
        days = ",".join(WEEKDAYS[d][:3] for d in sorted(self.weekdays))

        def hhmm(m: int) -> str:
            return f"{m // 60:02d}:{m % 60:02d}"

        scope = " " + ",".join(str(m) for m in self.matchers) if self.matchers else ""
        dates = (
            " on the " + ",".join(str(d) for d in sorted(self.days_of_month))
            if self.days_of_month
            else ""
        )
        return f"{days}{dates} {hhmm(self.start_min)}-{hhmm(self.end_min)} {self.zone.key}{scope}"
