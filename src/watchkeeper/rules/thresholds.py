"""Threshold sugar: a per-metric warning/critical block becomes ordinary rules.

``host_cpu_usage_percent: {warning: 75, critical: 90, for: 5m}`` compiles to
two alerting rules, ``HostCpuUsagePercentWarning`` and ``...Critical``, with a
``severity`` label, and an ``inhibit_key`` label equal for both so a notifier
can let the critical alert inhibit the warning one for the same series.
"""

from __future__ import annotations

import promql_parser

from watchkeeper.config.rules import AlertOptions, RulesConfig, Threshold
from watchkeeper.rules.gofmt import go_float
from watchkeeper.rules.spec import AlertRuleSpec, GroupSpec

__all__ = ["THRESHOLD_GROUP", "compile_thresholds"]

THRESHOLD_GROUP = "watchkeeper-thresholds"

_OPPOSITE_MARGIN = {">": -1, ">=": -1, "<": 1, "<=": 1}


def _camel(metric: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in metric.replace(":", "_").split("_"))


def compile_thresholds(
    cfg: RulesConfig,
) -> tuple[GroupSpec | None, dict[str, AlertOptions], list[str]]:
    """The generated group, the options its rules need, and any errors."""
    rules: list[AlertRuleSpec] = []
    options: dict[str, AlertOptions] = {}
    errors: list[str] = []
    for metric, th in cfg.thresholds.items():
        for severity in ("warning", "critical"):
            level = getattr(th, severity)
            if level is None:
                continue
            rule, opts, err = _rule(metric, th, severity, float(level))
            if err:
                errors.append(f"rules.thresholds.{metric}.{severity}: {err}")
                continue
            assert rule is not None
            rules.append(rule)
            if opts is not None:
                options[rule.name] = opts
    group = GroupSpec(THRESHOLD_GROUP, "<config: rules.thresholds>", list(rules)) if rules else None
    return group, options, errors


def _rule(
    metric: str, th: Threshold, severity: str, level: float
) -> tuple[AlertRuleSpec | None, AlertOptions | None, str]:
    selector = f"{metric}{th.selector}"
    expr = f"{selector} {th.op} {go_float(level)}"
    try:
        ast = promql_parser.parse(expr)
    except ValueError as exc:
        return None, None, f"invalid threshold expression {expr!r}: {exc}"
    name = _camel(metric) + severity.capitalize()
    summary = th.summary or f"{metric} {th.op} {go_float(level)}"
    spec = AlertRuleSpec(
        name=name,
        expr=expr,
        ast=ast,
        for_s=th.for_,
        labels={"severity": severity, "inhibit_key": f"threshold:{metric}"},
        annotations={
            "summary": summary,
            "description": f"{metric} is {{{{ $value }}}} on {{{{ $labels.instance }}}} "
            f"({severity} threshold {th.op} {go_float(level)}).",
            "runbook_url": "/runbooks#thresholds",
        },
        origin="<config: rules.thresholds>",
    )
    opts = None
    if th.resolve_margin is not None and th.op in _OPPOSITE_MARGIN:
        keep_level = level + _OPPOSITE_MARGIN[th.op] * th.resolve_margin
        opts = AlertOptions(keep_while=f"{selector} {th.op} {go_float(keep_level)}")
    return spec, opts, ""
