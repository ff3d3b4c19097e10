"""The route tree: which receiver gets an alert, grouped how, how often.

Alertmanager's semantics: a child inherits unset settings from its parent;
an alert descends into the first matching child (all matching children whose
predecessors set ``continue``); when no child matches, the node itself
takes the alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from watchkeeper.alerts.matchers import format_matchers, matches_all, parse_matchers
from watchkeeper.config.notify import DEFAULT_RECEIVER, EscalationStep, RouteConfig
from watchkeeper.model import Labels, Matcher

__all__ = ["DEFAULTS", "Route", "group_labels"]

#: Root defaults. group_wait is short rather than Alertmanager's 30 s: a
#: first notification should not wait half a minute.
DEFAULTS = {
    "group_by": ("alertname", "instance"),
    "group_wait": 5.0,
    "group_interval": 60.0,
    "repeat_interval": 4 * 3600.0,
}
ALL_LABELS = "..."


@dataclass(slots=True)
class Route:
    key: str
    receiver: str
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    continue_: bool
    send_resolved: bool | None
    escalate: tuple[EscalationStep, ...]
    routes: list[Route] = field(default_factory=list)

    @classmethod
    def from_config(cls, cfg: RouteConfig, parent: Route | None = None, index: int = 0) -> Route:
        matchers = tuple(parse_matchers(cfg.matchers))
        if parent is None:
            key = "{}"
            inherit: dict[str, object] = {
                "receiver": DEFAULT_RECEIVER,
                "send_resolved": None,
                "escalate": (),
                **DEFAULTS,
            }
        else:
            key = f"{parent.key}/{index}{format_matchers(matchers)}"
            inherit = {
                "receiver": parent.receiver,
                "group_by": parent.group_by,
                "group_wait": parent.group_wait,
                "group_interval": parent.group_interval,
                "repeat_interval": parent.repeat_interval,
                "send_resolved": parent.send_resolved,
                "escalate": parent.escalate,
            }
        route = cls(
            key=key,
            receiver=cfg.receiver or str(inherit["receiver"]),
            matchers=matchers,
            group_by=tuple(cfg.group_by) if cfg.group_by is not None else inherit["group_by"],  # type: ignore[arg-type]
            group_wait=cfg.group_wait if cfg.group_wait is not None else inherit["group_wait"],  # type: ignore[arg-type]
            group_interval=cfg.group_interval or inherit["group_interval"],  # type: ignore[arg-type]
            repeat_interval=cfg.repeat_interval or inherit["repeat_interval"],  # type: ignore[arg-type]
            continue_=cfg.continue_,
            send_resolved=cfg.send_resolved
            if cfg.send_resolved is not None
            else inherit["send_resolved"],  # type: ignore[arg-type]
            escalate=tuple(cfg.escalate) if cfg.escalate else inherit["escalate"],  # type: ignore[arg-type]
        )
        route.routes = [cls.from_config(c, route, i) for i, c in enumerate(cfg.routes)]
        return route

    def match(self, labels: Labels) -> list[Route]:
        """The routes (leaves of the descent) that take an alert with ``labels``."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            got = child.match(labels)
            if got:
                found.extend(got)
                if not child.continue_:
                    break
        return found or [self]

    def walk(self) -> list[Route]:
        out = [self]
        for c in self.routes:
            out.extend(c.walk())
        return out

    def group_key(self, labels: Labels) -> tuple[str, dict[str, str]]:
        """Alertmanager's group key ``<route>:{labels}`` and the group labels."""
        gl = group_labels(labels, self.group_by)
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(gl.items()))
        return f"{self.key}:{{{inner}}}", gl


def group_labels(labels: Labels, group_by: Sequence[str]) -> dict[str, str]:
    if ALL_LABELS in group_by:
        return dict(labels)
    out = {}
    for name in group_by:
        value = labels.get(name)
        if value:
            out[name] = value
    return out
