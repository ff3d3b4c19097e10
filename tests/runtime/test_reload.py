"""Reloading the rule groups in a running run loop (what SIGHUP does).

The collectors here stand in for rule groups (named ``rules:...``, as
runtime/rule_tasks.py names them) and for a host collector, which a reload
must leave alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path

from watchkeeper.collect.base import Collector, SyncCollector
from watchkeeper.config.load import ConfigError
from watchkeeper.model import Labels, Sample
from watchkeeper.runtime.runner import Runner
from watchkeeper.store import open_store
from wk_testing import until


class Group(SyncCollector):
    def __init__(self, name: str) -> None:
        super().__init__(name, interval=0.05, timeout=1.0)
        self.calls = 0
        self.closed = False

    def collect(self, now_ms: int) -> Iterable[Sample]:
        self.calls += 1
        return [Sample("rule_output", Labels({"group": self.name}), now_ms, 1.0)]

    def close(self) -> None:
        self.closed = True


def make_runner(tmp_path: Path, *collectors: Collector) -> Runner:
    return Runner(list(collectors), open_store(tmp_path / "wk.db"), flush_interval=0.05)


async def test_reload_replaces_the_rule_groups_and_leaves_the_rest(tmp_path: Path) -> None:
    host, old = Group("host"), Group("rules:old")
    new = Group("rules:new")
    runner = make_runner(tmp_path, host, old)
    runner.reloader = lambda: [new]
    told: list[Sequence[Collector]] = []
    runner.after_reload.append(told.append)
    job = asyncio.create_task(runner.run())
    await until(lambda: old.calls > 0 and host.calls > 0)
    assert await runner.reload() is True
    assert old.closed
    assert [t.collector.name for t in runner.tasks] == ["host", "rules:new"]
    assert told == [[new]]
    assert "rules:old" not in runner.stats.collectors
    stopped_at, host_at = old.calls, host.calls
    await until(lambda: new.calls > 2 and host.calls > host_at + 2)
    assert old.calls == stopped_at  # the old group evaluates no more
    runner.request_stop()
    await job
    assert new.closed  # shutdown closes what the reload started


async def test_a_bad_file_on_reload_keeps_the_running_groups(tmp_path: Path) -> None:
    old = Group("rules:old")
    runner = make_runner(tmp_path, old)

    def broken() -> list[Collector]:
        raise ConfigError(["watchkeeper.yml:4: rules.rule_files: no such file 'gone.yml'"])

    runner.reloader = broken
    job = asyncio.create_task(runner.run())
    await until(lambda: old.calls > 0)
    assert await runner.reload() is False
    assert not old.closed
    before = old.calls
    await until(lambda: old.calls > before + 2)  # still evaluating
    assert runner.reloads == 0
    runner.request_stop()
    await job


async def test_a_reload_may_not_take_a_running_collectors_name(tmp_path: Path) -> None:
    host, old = Group("host"), Group("rules:old")
    runner = make_runner(tmp_path, host, old)
    runner.reloader = lambda: [Group("host")]
    job = asyncio.create_task(runner.run())
    await until(lambda: old.calls > 0)
    assert await runner.reload() is False
    assert [t.collector for t in runner.tasks] == [host, old]
    runner.request_stop()
    await job
