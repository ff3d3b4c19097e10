"""The mute stage: inhibition, silences and maintenance windows, with the reason.

Acknowledgement is not a mute: an acknowledged alert still appears in its
group's messages; it only stops the repeats and the escalation (dedup.py,
escalation.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from watchkeeper.alerts.inhibit import Inhibitor
from watchkeeper.alerts.maintenance import MaintenanceWindow
from watchkeeper.alerts.silence import Silence
from watchkeeper.model import Labels

__all__ = ["MuteStage"]


class MuteStage:
    def __init__(self, inhibitor: Inhibitor, windows: Sequence[MaintenanceWindow]) -> None:
        self.inhibitor = inhibitor
        self.windows = list(windows)
        self.silences: list[Silence] = []

    def update(self, firing: Iterable[Labels], silences: Sequence[Silence]) -> None:
        self.inhibitor.update(firing)
        self.silences = list(silences)

    def reason(self, labels: Labels, now_ms: int) -> str | None:
        """Why an alert with ``labels`` is muted at ``now_ms``, or None."""
        for s in self.silences:
            if s.active(now_ms) and s.matches(labels):
                return f"silenced by {s.id}"
        for w in self.windows:
            if w.applies(labels, now_ms):
                return f"maintenance window {w.name}"
        if self.inhibitor.inhibited(labels):
            return "inhibited"
        return None
