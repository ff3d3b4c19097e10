"""Alertmanager-style matcher lists (``severity="critical"``) as the shared Matcher type."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from watchkeeper.config.notify import parse_matcher
from watchkeeper.model import Labels, Matcher, MatchOp

__all__ = ["format_matchers", "matches_all", "parse_matchers"]


def parse_matchers(texts: Iterable[str]) -> list[Matcher]:
    """Parse ``name=value`` / ``name=~regex`` ...; ValueError names the bad one."""
    out = []
    for text in texts:
        name, op, value = parse_matcher(text)
        out.append(Matcher(name, MatchOp(op), value))
    return out


def matches_all(matchers: Sequence[Matcher], labels: Labels) -> bool:
    """Prometheus semantics: a missing label matches as the empty string."""
    return all(m.matches(labels.get(m.name) or "") for m in matchers)


def format_matchers(matchers: Sequence[Matcher]) -> str:
    return "{" + ", ".join(str(m) for m in matchers) + "}"
