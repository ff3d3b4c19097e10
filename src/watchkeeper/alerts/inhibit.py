"""Inhibition: a firing source alert mutes target alerts with the same ``equal`` labels.

As in Alertmanager, an alert matching both sides of a rule does not inhibit
itself, and only firing sources inhibit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watchkeeper.alerts.matchers import matches_all, parse_matchers
from watchkeeper.config.notify import InhibitRuleConfig
from watchkeeper.model import Labels, Matcher

__all__ = ["InhibitRule", "Inhibitor"]


@dataclass(frozen=True, slots=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: InhibitRuleConfig) -> InhibitRule:
        return cls(
            tuple(parse_matchers(cfg.source_matchers)),
            tuple(parse_matchers(cfg.target_matchers)),
            tuple(cfg.equal),
        )

    def key(self, labels: Labels) -> tuple[str, ...]:
        return tuple(labels.get(n) or "" for n in self.equal)


class Inhibitor:
    """Answers "is this alert inhibited?" against a snapshot of the firing alerts."""

    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self.rules = list(rules)
        self._sources: list[dict[tuple[str, ...], set[Labels]]] = [{} for _ in self.rules]

    def update(self, firing: Iterable[Labels]) -> None:
        """Index the currently firing alerts that are sources of some rule."""
        self._sources = [{} for _ in self.rules]
        if not self.rules:
            return
        for labels in firing:
            for i, rule in enumerate(self.rules):
                if matches_all(rule.source, labels):
                    self._sources[i].setdefault(rule.key(labels), set()).add(labels)

    def inhibited(self, labels: Labels) -> bool:
        for i, rule in enumerate(self.rules):
            if not matches_all(rule.target, labels):
                continue
            sources = self._sources[i].get(rule.key(labels))
            if not sources:
                continue
            if sources - {labels}:  # an alert never inhibits itself
                return True
        return False
