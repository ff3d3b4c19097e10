"""From a validated configuration to a ready Runner."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from watchkeeper.collect.registry import build_collectors
from watchkeeper.config.model import Config
from watchkeeper.rules.group import RuleGroupRunner
from watchkeeper.rules.setup import load_rule_groups
from watchkeeper.runtime.rule_tasks import RuleGroupTask
from watchkeeper.runtime.runner import Runner
from watchkeeper.runtime.self_metrics import SelfCollector
from watchkeeper.runtime.stats import RuntimeStats
from watchkeeper.store import open_store

if TYPE_CHECKING:
    from watchkeeper.web.alert_board import AlertBoard

__all__ = ["build_runner"]

log = logging.getLogger("watchkeeper.runtime")


def build_runner(
    config: Config,
    *,
    interval: float | None = None,
    reload_config: Callable[[], Config] | None = None,
) -> Runner:
    """The runner for ``config``; ``interval`` (``--interval``) overrides every collector's.

    ``reload_config`` reads the configuration again (raising on a bad file):
    with it, the runner's ``reload()`` (SIGHUP) replaces the rule groups by
    those of the file as it is now.
    """
    stats = RuntimeStats()
    collectors = build_collectors(config.collectors, interval=interval)
    self_cfg = config.collectors.self_
    if self_cfg.enabled:
        collectors.append(
            SelfCollector(stats, interval=interval or self_cfg.interval, timeout=self_cfg.timeout)
        )
    storage = config.storage
    # The engine applies retention per resolution itself, off the write path.
    store = open_store(
        storage.path,
        retention_ms=storage.retention_ms(),
        max_head_samples=storage.head_samples,
        decode_cache_bytes=storage.decode_cache_mb * 2**20,
    )
    try:
        groups = load_rule_groups(config.rules, store, external_labels=dict(config.global_.labels))
    except BaseException:
        store.close()
        raise
    board: AlertBoard | None = None
    listeners: list[Callable[[RuleGroupRunner], None]] = []
    if config.web.enabled:
        from watchkeeper.runtime.alert_feed import publish_to_board
        from watchkeeper.web.alert_board import AlertBoard

        board = AlertBoard()
        listeners.append(partial(publish_to_board, board))
    notifier = None
    if config.notify.enabled:
        from watchkeeper.notify import build_notifier

        notifier = build_notifier(config, storage.path)
    group_tasks = rule_tasks(groups, listeners, notifier)
    collectors.extend(group_tasks)
    health = health_collector(config, collectors)
    runner = Runner(
        collectors,
        store,
        labels=config.global_.labels,
        stats=stats,
        batch_size=storage.batch_size,
        flush_interval=storage.flush_interval,
        max_buffered=storage.max_buffered_samples,
    )
    if health is not None:
        runner.on_close.append(health.close)  # after the web and the recording stopped
    if notifier is not None:
        runner.services.append(notifier)
        if config.notify.reports:
            from watchkeeper.notify.reports import ReportScheduler

            runner.services.append(
                ReportScheduler(config.notify.reports, notifier, store, alerts_db=notifier.db.path)
            )
    if config.web.enabled:
        from watchkeeper.web.wiring import build_web_service

        runner.services.append(
            build_web_service(config, runner, board=board, notifier=notifier, health=health)
        )
    if reload_config is not None:

        def reload_rules() -> list[RuleGroupTask]:
            fresh = reload_config()
            warn_unreloaded(config, fresh)
            # The running instance's labels stay: the collectors keep theirs too.
            loaded = load_rule_groups(
                fresh.rules, store, external_labels=dict(config.global_.labels), restore=False
            )
            running = {
                t.collector.group.name: t.collector
                for t in runner.tasks
                if isinstance(t.collector, RuleGroupTask)
            }
            out: list[RuleGroupTask] = []
            for task in rule_tasks(loaded, listeners, notifier):
                before = running.get(task.group.name)
                if before is not None and before.same_as(task):
                    out.append(before)  # unchanged: it goes on as it is
                    continue
                if before is None:
                    task.group.enable_restore()  # a new group: state as after a restart
                out.append(task)  # a changed one adopts its predecessor's alerts
            return out

        runner.reloader = reload_rules
        if board is not None:
            keep = board.keep_groups
            runner.after_reload.append(
                lambda new: keep([t.group.name for t in new if isinstance(t, RuleGroupTask)])
            )
    return runner


def health_collector(config: Config, collectors: list[Any]) -> Any:
    """The health checks' runner, recorded as metrics when ``health.interval`` > 0.

    One runner, shared with the web's ``/health``: a load balancer's polls and
    the recording cost one round of checks per cache period. None when the
    checks cannot be built (the web then reports why; collection goes on).
    """
    every = config.health.interval
    if every <= 0 and not config.web.enabled:
        return None  # neither recorded nor served
    try:
        from watchkeeper.health.build import build_health_runner

        runner = build_health_runner(config.health)
    except Exception as exc:  # a bad check must not keep watchkeeper from monitoring
        log.error("health checks unavailable: %s", exc)
        return None
    if every > 0 and runner.checks:
        from watchkeeper.health.collector import HealthCollector

        longest = max(c.timeout for c in runner.checks.values())
        collectors.append(
            HealthCollector(runner, interval=every, timeout=min(every, longest + 1.0))
        )
    return runner


def rule_tasks(
    groups: list[RuleGroupRunner],
    listeners: list[Callable[[RuleGroupRunner], None]],
    notifier: Any,
) -> list[RuleGroupTask]:
    """Each group as a task of the run loop, telling the board and the notifier."""
    tasks = []
    for g in groups:
        group_listeners = list(listeners)
        if notifier is not None:
            from watchkeeper.notify.sink import alert_sink
            from watchkeeper.runtime.alert_feed import send_to_notifier

            group_listeners.append(partial(send_to_notifier, alert_sink(notifier, g.interval)))
        tasks.append(RuleGroupTask(g, listeners=group_listeners))
    return tasks


def warn_unreloaded(running: Config, fresh: Config) -> None:
    """Say which changed sections a reload does not apply (they need a restart)."""
    changed = [
        field.alias or name
        for name, field in type(running).model_fields.items()
        if name != "rules" and getattr(running, name) != getattr(fresh, name)
    ]
    if changed:
        log.warning(
            "reload: only the rules are reloaded; restart to apply the changes to: %s",
            ", ".join(changed),
        )
