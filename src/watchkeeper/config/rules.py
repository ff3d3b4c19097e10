"""The ``rules:`` section of watchkeeper.yml.

Rule files stay in Prometheus's format; everything watchkeeper adds (threshold
sugar, hysteresis, tolerant ``for``, missing-data policy, flap detection) is
configured here, keyed by alert name, so the rule files remain valid for
promtool and Prometheus.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from watchkeeper.config.base import PositiveDuration, field_error
from watchkeeper.config.duration import Duration, format_duration

__all__ = ["AlertOptions", "RulesConfig", "Threshold"]

Comparison = Literal[">", "<", ">=", "<=", "==", "!="]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AlertOptions(_Strict):
    """Per-alert extras beyond Prometheus; all off by default."""

    #: ``false``: the rule is not evaluated at all, e.g. a default-pack alert
    #: replaced by one of your own thresholds (the rule file stays as it is).
    enabled: bool = True
    #: Hysteresis: while active, the alert is held as long as this PromQL
    #: returns the alert's series (e.g. ``host_cpu_usage_percent > 80`` for an
    #: alert firing at > 90).
    keep_while: str | None = None
    #: ``for`` tolerates this many consecutive evaluations without the series.
    missed_evaluations: int = Field(0, ge=0, le=100)
    #: When the expression's metrics have no data: resolve (Prometheus),
    #: keep the current state, or fire a ``<alert>NoData`` alert.
    missing_data: Literal["resolve", "keep", "alert"] = "resolve"
    flap_window: Duration = 0.0
    flap_max_changes: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _flap_pair(self) -> AlertOptions:
        # Flap detection needs both: one alone would be silently ignored.
        if (self.flap_window > 0) != (self.flap_max_changes > 0):
            field = "flap_window" if self.flap_window > 0 else "flap_max_changes"
            raise field_error(
                field,
                f"flap detection needs both flap_window and flap_max_changes, got flap_window "
                f"{format_duration(self.flap_window)} and flap_max_changes "
                f"{self.flap_max_changes} (set both above 0, or neither)",
            )
        return self


class Threshold(_Strict):
    """Threshold sugar: ``{warning: 75, critical: 90, for: 5m}`` for one metric."""

    warning: float | None = Field(None, allow_inf_nan=False)
    critical: float | None = Field(None, allow_inf_nan=False)
    op: Comparison = ">"
    for_: Duration = Field(300.0, alias="for")
    #: Hysteresis margin: once firing, hold until the value is this far back.
    resolve_margin: float | None = Field(None, ge=0, allow_inf_nan=False)
    #: Extra label matchers, e.g. ``{mountpoint="/"}``.
    selector: str = ""
    summary: str | None = None

    @model_validator(mode="after")
    def _needs_a_level(self) -> Threshold:
        if self.warning is None and self.critical is None:
            raise ValueError("give at least one of warning or critical")
        return self

    @model_validator(mode="after")
    def _levels_in_order(self) -> Threshold:
        # The critical level must be the further one in the direction of `op`:
        # otherwise the critical alert fires first and mutes the warning one.
        if self.warning is None or self.critical is None:
            return self
        upward = self.op in (">", ">=")
        if self.op in (">", ">=", "<", "<=") and (
            self.warning > self.critical if upward else self.warning < self.critical
        ):
            side = "above" if upward else "below"
            expected = "lower" if upward else "higher"
            raise field_error(
                "warning",
                f"warning {self.warning:g} is {side} critical {self.critical:g} with op "
                f"'{self.op}': the warning level must be {expected} than (or equal to) the "
                "critical one",
            )
        return self

    @model_validator(mode="after")
    def _margin_needs_a_direction(self) -> Threshold:
        if self.resolve_margin is not None and self.op in ("==", "!="):
            raise field_error(
                "resolve_margin",
                f"resolve_margin needs op >, >=, < or <=, got op '{self.op}': "
                "an equality has no side to hold on",
            )
        return self


class RulesConfig(_Strict):
    rule_files: list[str] = Field(default_factory=list)
    default_pack: bool = True
    evaluation_interval: PositiveDuration = 15.0
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    #: Per-alert options keyed by alert name (or ``group/alert``).
    alerts: dict[str, AlertOptions] = Field(default_factory=dict)
    external_url: str = ""
    #: Restore pending/firing state from ALERTS_FOR_STATE after a restart
    #: within this outage.
    outage_tolerance: Duration = 3600.0
