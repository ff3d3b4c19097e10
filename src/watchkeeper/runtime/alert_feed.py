"""Carrying a rule group's outcome to the parts that show or send alerts.

The rule engine, the web's alert board and the notifier do not know each
other; after each group evaluation this module translates the group's state
into the board's views (what the dashboard shows and pushes live).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from watchkeeper.rules.alerting import Alert, AlertingRule, AlertState
from watchkeeper.rules.group import RuleGroupRunner
from watchkeeper.web.alert_board import AlertBoard, AlertView, GroupView, RuleView

__all__ = ["all_rule_alerts", "group_view", "publish_to_board", "send_to_notifier"]


def group_view(group: RuleGroupRunner) -> GroupView:
    rules = []
    for rule in group.rules:
        spec = rule.spec
        alerting = isinstance(rule, AlertingRule)
        rules.append(
            RuleView(
                name=rule.name,
                query=spec.expr,
                type="alerting" if alerting else "recording",
                duration_s=getattr(spec, "for_s", 0.0),
                labels=dict(spec.labels),
                annotations=dict(getattr(spec, "annotations", {})),
                health="ok"
                if rule.health.value == "ok"
                else "err"
                if rule.health.value == "err"
                else "unknown",
                last_error=rule.last_error,
                last_evaluation=rule.last_eval_ms / 1000 if rule.last_eval_ms else None,
                evaluation_time_s=rule.last_duration_s,
            )
        )
    return GroupView(
        name=group.name,
        file=group.file,
        interval_s=group.interval,
        rules=tuple(rules),
        last_evaluation=group.last_eval_ms / 1000 if group.last_eval_ms else None,
        evaluation_time_s=group.last_duration_s,
    )


def publish_to_board(board: AlertBoard, group: RuleGroupRunner) -> None:
    alerts = [
        AlertView(
            labels=dict(a.labels),
            annotations=dict(a.annotations),
            state="firing" if a.state is AlertState.FIRING else "pending",
            active_at=a.active_at_ms / 1000,
            value=a.value,
            group=group.name,
        )
        for a in group.active_alerts()
        if a.state in (AlertState.PENDING, AlertState.FIRING)
    ]
    board.publish(group_view(group), alerts)


def all_rule_alerts(group: RuleGroupRunner) -> list[Alert]:
    """Every alert the group's rules hold, recently resolved ones included.

    The notifier needs the resolved ones (as Alertmanager gets them from
    Prometheus) to send resolutions at once, not when ``endsAt`` runs out.
    """
    return [a for r in group.rules if isinstance(r, AlertingRule) for a in r.active.values()]


def send_to_notifier(sink: Callable[[Sequence[Alert]], None], group: RuleGroupRunner) -> None:
    sink(all_rule_alerts(group))
