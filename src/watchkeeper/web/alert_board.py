"""What the web shows of the rules: their groups, their state and the active alerts.

The rule engine publishes each group's outcome here after every evaluation
(``board.publish(group, alerts)``); the web reads the board and never reaches
into the engine. This keeps the web working (and testable) whatever shape
the engine has, and lets changes be pushed to browsers: subscribers are told
about every alert that appeared, changed state or went away.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["AlertBoard", "AlertChange", "AlertView", "GroupView", "RuleView", "fingerprint"]

AlertState = Literal["pending", "firing"]


def fingerprint(labels: Mapping[str, str]) -> str:
    """An alert's id: Alertmanager's fingerprint, the same the notifier and alerts.db use.

    One id for one alert everywhere (board, alerts.db, the CLI, Alertmanager),
    so the dashboard can join the rule engine's view with the alert lifecycle.
    """
    from watchkeeper.alerts.model import fingerprint as am_fingerprint

    return am_fingerprint(labels)


@dataclass(frozen=True, slots=True)
class AlertView:
    """One active alert; ``labels`` include ``alertname``."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: AlertState
    active_at: float
    value: float
    group: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)


@dataclass(frozen=True, slots=True)
class RuleView:
    name: str
    query: str
    type: Literal["alerting", "recording"]
    duration_s: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    health: Literal["ok", "err", "unknown"] = "unknown"
    last_error: str = ""
    last_evaluation: float | None = None
    evaluation_time_s: float = 0.0


@dataclass(frozen=True, slots=True)
class GroupView:
    name: str
    file: str
    interval_s: float
    rules: tuple[RuleView, ...]
    last_evaluation: float | None = None
    evaluation_time_s: float = 0.0


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert that appeared (``old`` None), changed state, or ended (``new`` None)."""

    fingerprint: str
    name: str
    old: AlertState | None
    new: AlertState | None
    at: float
    labels: Mapping[str, str]


class AlertBoard:
    """Thread-safe: the engine may publish from a worker thread."""

    def __init__(self, history: int = 1000) -> None:
        self._lock = threading.Lock()
        self._groups: dict[str, GroupView] = {}
        self._alerts: dict[str, dict[str, AlertView]] = {}
        self.history: deque[AlertChange] = deque(maxlen=history)
        #: Called (in the publisher's thread) with the changes of each publish.
        self.subscribers: list[Callable[[list[AlertChange]], None]] = []

    def publish(self, group: GroupView, alerts: Sequence[AlertView]) -> list[AlertChange]:
        """Replace ``group``'s state; return (and tell subscribers) what changed."""
        now = time.time()
        new = {a.fingerprint: a for a in alerts}
        with self._lock:
            old = self._alerts.get(group.name, {})
            changes = [
                AlertChange(
                    fp, a.name, old[fp].state if fp in old else None, a.state, now, a.labels
                )
                for fp, a in new.items()
                if fp not in old or old[fp].state != a.state
            ]
            changes += [
                AlertChange(fp, a.name, a.state, None, now, a.labels)
                for fp, a in old.items()
                if fp not in new
            ]
            self._groups[group.name] = group
            self._alerts[group.name] = new
            self.history.extend(changes)
        if changes:
            for callback in list(self.subscribers):
                callback(changes)
        return changes

    def remove_group(self, name: str) -> None:
        with self._lock:
            self._groups.pop(name, None)
        self.publish(GroupView(name, "", 0.0, ()), [])
        with self._lock:
            self._groups.pop(name, None)
            self._alerts.pop(name, None)

    def keep_groups(self, names: Iterable[str]) -> None:
        """Drop every group not in ``names`` (after a reload removed it), with its alerts."""
        keep = set(names)
        with self._lock:
            gone = [name for name in self._groups if name not in keep]
        for name in gone:
            self.remove_group(name)

    def groups(self) -> list[GroupView]:
        with self._lock:
            return sorted(self._groups.values(), key=lambda g: (g.file, g.name))

    def alerts(self) -> list[AlertView]:
        """Active alerts, firing first, then by name."""
        with self._lock:
            out = [a for group in self._alerts.values() for a in group.values()]
        return sorted(out, key=lambda a: (a.state != "firing", a.name, a.fingerprint))

    def alert(self, fp: str) -> AlertView | None:
        with self._lock:
            for group in self._alerts.values():
                if fp in group:
                    return group[fp]
        return None

    def rule_alerts(self, group: str, rule: str) -> list[AlertView]:
        with self._lock:
            return [a for a in self._alerts.get(group, {}).values() if a.name == rule]
