"""Rule groups scheduled by the run loop like collectors.

A rule group evaluation reads the store and returns samples to write
(recording-rule outputs, ``ALERTS``, ``ALERTS_FOR_STATE``): exactly a
collector's shape. Running it through the same scheduler gives it the same
timeout, the same error handling and a ``watchkeeper_collector_up
{collector="rules:<group>"}`` series for free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from watchkeeper.collect.base import SyncCollector
from watchkeeper.model import Sample
from watchkeeper.rules.group import RuleGroupRunner

__all__ = ["RuleGroupTask"]

#: Told about the group after each evaluation (the web's board, the notifier).
GroupListener = Callable[[RuleGroupRunner], None]


class RuleGroupTask(SyncCollector):
    def __init__(
        self,
        group: RuleGroupRunner,
        *,
        interval: float | None = None,
        listeners: Sequence[GroupListener] = (),
    ) -> None:
        every = interval or group.interval
        # An evaluation may use most of its interval, as Prometheus allows.
        super().__init__(f"rules:{group.name}", interval=every, timeout=max(1.0, every * 0.9))
        self.group = group
        self.listeners = list(listeners)
        #: Set when a reload or shutdown stopped this group: an evaluation
        #: still running in its thread then tells nobody (the board would show
        #: a removed group again, the notifier get a removed rule's alerts).
        self.closed = False

    def collect(self, now_ms: int) -> Iterable[Sample]:
        samples = self.group.evaluate(now_ms)
        if self.closed:
            return []
        for listener in self.listeners:
            listener(self.group)
        return samples

    def close(self) -> None:
        self.closed = True

    def stale_samples(self, now_ms: int) -> list[Sample]:
        """Markers ending the series the group wrote (after a reload removed it)."""
        return self.group.stale_samples(now_ms)

    def adopt(self, old: RuleGroupTask) -> None:
        """Take over the alerts of the group of the same name that a reload replaced."""
        self.group.adopt(old.group)

    def same_as(self, other: RuleGroupTask) -> bool:
        """Whether ``other`` evaluates exactly what this one does (a reload may keep this)."""
        return self.interval == other.interval and (
            self.group.definition() == other.group.definition()
        )
