"""One group evaluation reads each selector once and shares equal subtrees,
without changing any result (a rule still sees what earlier rules wrote)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import promql_parser as pp

from watchkeeper.model import Labels, Matcher, Sample
from watchkeeper.query.memory import MemoryStore
from watchkeeper.query.nodekey import node_info
from watchkeeper.rules import RuleGroupRunner, parse_rule_text
from watchkeeper.store.base import SeriesData

RULES = """
groups:
  - name: g
    rules:
      - record: job:c:rate5m
        expr: sum by (job) (rate(c[5m]))
      - alert: Fast
        expr: sum by (job) (rate(c[5m])) > 0.1
      - alert: VeryFast
        expr: sum by (job) (rate(c[5m])) > 1000
      - alert: FastLong
        expr: rate(c[15m]) > 0.1
      - alert: Recorded
        expr: job:c:rate5m > 0.1
        annotations:
          summary: 'rate {{ $value }} for {{ $labels.job }}'
"""


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, int, int]] = []

    def read_range(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, *, min_step_ms: int = 0
    ) -> list[SeriesData]:
        name = next((m.value for m in matchers if m.name == "__name__"), "?")
        self.reads.append((name, start_ms, end_ms))
        return super().read_range(matchers, start_ms, end_ms, min_step_ms=min_step_ms)


def _runner(store: MemoryStore) -> RuleGroupRunner:
    spec = parse_rule_text(RULES, "r.yml").groups[0]
    return RuleGroupRunner(spec, store, interval=60)


def _fill(store: MemoryStore) -> None:
    store.append(
        [
            Sample("c", Labels({"job": j, "i": str(i)}), t * 10_000, float(t * (i + 1)))
            for t in range(200)
            for j in ("a", "b")
            for i in range(3)
        ]
    )


def test_each_selector_is_read_once_with_the_widest_window() -> None:
    store = CountingStore()
    _fill(store)
    runner = _runner(store)
    now = 1_900_000
    runner.evaluate(now)
    c_reads = [r for r in store.reads if r[0] == "c"]
    assert c_reads == [("c", now - 15 * 60_000, now)]


def test_sharing_changes_no_result() -> None:
    shared, plain = MemoryStore(), MemoryStore()
    _fill(shared)
    _fill(plain)
    runner = _runner(shared)
    # The same rules one by one, each in a group of its own: no sharing.
    spec = parse_rule_text(RULES, "r.yml").groups[0]
    singles = [
        RuleGroupRunner(dataclasses.replace(spec, rules=[rule]), plain, interval=60)
        for rule in spec.rules
    ]
    for now in (600_000, 1_200_000, 1_900_000):
        out = runner.evaluate(now)
        shared.append([s for s in out if s.value == s.value])
        ref: list[Sample] = []
        for g in singles:
            got = g.evaluate(now)
            plain.append([s for s in got if s.value == s.value])
            ref.extend(got)
        key = lambda s: (s.name, s.labels)  # noqa: E731
        mine = sorted((s for s in out if s.name != "watchkeeper_rule_health"), key=key)
        theirs = sorted((s for s in ref if s.name != "watchkeeper_rule_health"), key=key)
        assert [(s.name, s.labels, s.value) for s in mine] == [
            (s.name, s.labels, s.value) for s in theirs
        ]
    alerts = {a.labels.get("alertname"): a for a in runner.active_alerts()}
    assert "Recorded" in alerts  # saw the recording rule's output of the same evaluation
    assert alerts["Recorded"].annotations["summary"].startswith("rate ")


def test_node_keys_tell_apart_what_str_confuses() -> None:
    def key(text: str) -> object:
        return node_info(pp.parse(text)).key

    assert key("foo[1h:]") != key("foo[1h]")
    assert key("a > bool 1") != key("a > 1")
    assert key("a @ 100") != key("a")
    assert key("sum by (x) (a)") != key("sum without (x) (a)")
    assert key("rate(a[5m])") == key("rate( a [5m] )")
    assert node_info(pp.parse("a / on(x) b")).names == frozenset({"a", "b"})
    assert node_info(pp.parse('{job="x"}')).names is None
