"""From a validated configuration to a ready Runner."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from watchkeeper.collect.registry import build_collectors
from watchkeeper.config.model import Config
from watchkeeper.rules.group import RuleGroupRunner
from watchkeeper.rules.setup import load_rule_groups
from watchkeeper.runtime.rule_tasks import RuleGroupTask
from watchkeeper.runtime.runner import Runner
from watchkeeper.runtime.self_metrics import SelfCollector
from watchkeeper.runtime.stats import RuntimeStats
from watchkeeper.store import open_store

__all__ = ["build_runner"]


def build_runner(config: Config, *, interval: float | None = None) -> Runner:
    """The runner for ``config``; ``interval`` (``--interval``) overrides every collector's."""
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
    board = None
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
    group_tasks = []
    for g in groups:
        group_listeners = list(listeners)
        if notifier is not None:
            from watchkeeper.notify.sink import alert_sink
            from watchkeeper.runtime.alert_feed import send_to_notifier

            group_listeners.append(partial(send_to_notifier, alert_sink(notifier, g.interval)))
        group_tasks.append(RuleGroupTask(g, listeners=group_listeners))
    collectors.extend(group_tasks)
    runner = Runner(
        collectors,
        store,
        labels=config.global_.labels,
        stats=stats,
        batch_size=storage.batch_size,
        flush_interval=storage.flush_interval,
        max_buffered=storage.max_buffered_samples,
    )
    if notifier is not None:
        runner.services.append(notifier)
    if config.web.enabled:
        from watchkeeper.web.wiring import build_web_service

        runner.services.append(build_web_service(config, runner, board=board, notifier=notifier))
    return runner
