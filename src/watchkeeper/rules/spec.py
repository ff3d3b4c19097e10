"""What a rule file says, after validation: groups of alerting and recording rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AlertRuleSpec", "GroupSpec", "RecordRuleSpec", "RuleSpec"]


@dataclass(slots=True)
class AlertRuleSpec:
    name: str
    expr: str
    ast: Any
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    #: Where it came from, for error messages: "file:line".
    origin: str = ""


@dataclass(slots=True)
class RecordRuleSpec:
    name: str
    expr: str
    ast: Any
    labels: dict[str, str] = field(default_factory=dict)
    origin: str = ""


RuleSpec = AlertRuleSpec | RecordRuleSpec


@dataclass(slots=True)
class GroupSpec:
    name: str
    file: str
    rules: list[RuleSpec]
    interval_s: float | None = None
    limit: int = 0
