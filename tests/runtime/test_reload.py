"""Reloading the rule groups in a running run loop (what SIGHUP does).

The collectors here stand in for rule groups (named ``rules:...``, as
runtime/rule_tasks.py names them) and for a host collector, which a reload
must leave alone.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from watchkeeper.collect.base import Collector, SyncCollector
from watchkeeper.config.load import ConfigError
from watchkeeper.model import NAME_LABEL, Labels, Matcher, Sample
from watchkeeper.query.values import is_stale_nan
from watchkeeper.rules import parse_rule_text
from watchkeeper.rules.group import RuleGroupRunner
from watchkeeper.runtime.rule_tasks import RuleGroupTask
from watchkeeper.runtime.runner import Runner
from watchkeeper.store import Store, open_store
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
    host, old, same = Group("host"), Group("rules:old"), Group("rules:same")
    new = Group("rules:new")
    runner = make_runner(tmp_path, host, old, same)
    runner.reloader = lambda: [same, new]  # `same` unchanged: the reloader hands it back
    told: list[Sequence[Collector]] = []
    runner.after_reload.append(told.append)
    job = asyncio.create_task(runner.run())
    await until(lambda: old.calls > 0 and host.calls > 0 and same.calls > 0)
    assert await runner.reload() is True
    assert old.closed
    assert not same.closed
    assert [t.collector.name for t in runner.tasks] == ["host", "rules:same", "rules:new"]
    assert told == [[same, new]]
    assert "rules:old" not in runner.stats.collectors
    stopped_at, host_at, same_at = old.calls, host.calls, same.calls
    await until(lambda: new.calls > 2 and host.calls > host_at + 2 and same.calls > same_at + 2)
    assert old.calls == stopped_at  # the old group evaluates no more
    runner.request_stop()
    await job
    assert new.closed  # shutdown closes what the reload started


def stored(store: Store, metric: str, **labels: str) -> np.ndarray:
    matchers = [Matcher.equal(NAME_LABEL, metric)] + [
        Matcher.equal(k, v) for k, v in labels.items()
    ]
    data = store.read_range(matchers, 0, 2**62)
    return np.concatenate([d.values for d in data]) if data else np.array([])


async def test_a_removed_group_s_series_are_ended_by_staleness_markers(tmp_path: Path) -> None:
    old = Group("rules:old")
    runner = make_runner(tmp_path, old)
    runner.reloader = list
    job = asyncio.create_task(runner.run())
    await until(lambda: old.calls > 0)
    assert await runner.reload() is True
    runner.request_stop()
    await job
    with open_store(tmp_path / "wk.db", readonly=True) as store:
        up = stored(store, "watchkeeper_collector_up", collector="rules:old")
    assert up[0] == 1.0
    assert is_stale_nan(up[-1:]).all()  # `watchkeeper status` and CollectorDown let go of it


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
    impostor = Group("host")
    runner = make_runner(tmp_path, host, old)
    runner.reloader = lambda: [impostor]
    job = asyncio.create_task(runner.run())
    await until(lambda: old.calls > 0)
    assert await runner.reload() is False
    assert [t.collector for t in runner.tasks] == [host, old]
    assert impostor.closed  # built for nothing, and let go
    runner.request_stop()
    await job


async def test_a_reload_that_shutdown_overtakes_starts_nothing(tmp_path: Path) -> None:
    old, new = Group("rules:old"), Group("rules:new")
    runner = make_runner(tmp_path, old)
    reading, release = threading.Event(), threading.Event()

    def slow() -> list[Collector]:
        reading.set()
        release.wait(30)  # the file is still being read when SIGTERM comes
        return [new]

    runner.reloader = slow
    job = asyncio.create_task(runner.run())
    await until(lambda: old.calls > 0)
    reload = asyncio.create_task(runner.reload())
    await asyncio.to_thread(reading.wait, 30)
    runner.request_stop()
    release.set()
    assert await reload is False
    await job
    assert new.calls == 0
    assert new.closed
    assert runner.reloads == 0


RULES = """
groups:
  - name: g
    interval: 1s
    rules:
      - alert: Hot
        expr: temperature > 30
        for: 10s
        annotations: {summary: "hot"}
"""


def group_task(store: Store, text: str) -> RuleGroupTask:
    (spec,) = parse_rule_text(text).groups
    return RuleGroupTask(RuleGroupRunner(spec, store, interval=1.0))


def test_a_changed_group_keeps_its_alerts_and_an_unchanged_one_is_the_same(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path / "wk.db")
    store.append([Sample("temperature", Labels({"room": "a"}), t, 35.0) for t in (0, 12_000)])
    old = group_task(store, RULES)
    old.collect(1_000)
    old.collect(12_000)
    assert old.group.rules[0].active_alerts()[0].state == "firing"  # type: ignore[union-attr]
    assert group_task(store, RULES).same_as(old)
    changed = group_task(store, RULES.replace('summary: "hot"', 'summary: "too hot"'))
    assert not changed.same_as(old)
    changed.adopt(old)
    changed.collect(13_000)
    (alert,) = changed.group.rules[0].active_alerts()  # type: ignore[union-attr]
    assert alert.state == "firing"  # not pending again: its 10 s were served before
    assert alert.active_at_ms == 1_000
    assert alert.annotations["summary"] == "too hot"
    store.close()


def test_a_closed_group_tells_nobody(tmp_path: Path) -> None:
    store = open_store(tmp_path / "wk.db")
    told: list[RuleGroupRunner] = []
    (spec,) = parse_rule_text(RULES).groups
    task = RuleGroupTask(RuleGroupRunner(spec, store, interval=1.0), listeners=[told.append])
    task.collect(1_000)
    task.close()  # a reload removed it while this evaluation ran
    assert list(task.collect(2_000)) == []
    assert len(told) == 1
    store.close()


def test_status_lets_go_of_a_collector_whose_series_ended(tmp_path: Path) -> None:
    from watchkeeper.cli.status import _latest
    from watchkeeper.model import STALE_NAN

    store = open_store(tmp_path / "wk.db")
    up = "watchkeeper_collector_up"
    store.append(
        [
            Sample(up, Labels({"collector": "rules:old"}), 1_000, 1.0),
            Sample(up, Labels({"collector": "rules:old"}), 2_000, STALE_NAN),
            Sample(up, Labels({"collector": "host"}), 2_000, 1.0),
        ]
    )
    assert set(_latest(store, up, 3_000)) == {"host"}
    store.close()
