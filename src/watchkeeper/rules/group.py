"""A rule group: rules evaluated in order at one interval.

The run loop schedules each :class:`RuleGroupRunner` like a collector and
appends what ``evaluate`` returns. Within one evaluation, later rules see the
samples earlier rules produced (as in Prometheus, where each rule's output is
committed before the next runs) through a small overlay on the store.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from watchkeeper.arraysets import isin_sorted
from watchkeeper.model import NAME_LABEL, Labels, Matcher, MatchOp, Sample
from watchkeeper.query.engine import Evaluator, Memo
from watchkeeper.query.memory import MemoryStore
from watchkeeper.query.nodekey import node_info, selector_lookbacks
from watchkeeper.query.values import STALE_NAN, QueryError
from watchkeeper.rules.alerting import Alert, AlertingRule, RecordingRule, RuleHealth, RuleOptions
from watchkeeper.rules.spec import AlertRuleSpec, GroupSpec
from watchkeeper.store.base import SeriesColumns, SeriesData, Store, StoreStats

__all__ = ["RULE_HEALTH", "RuleGroupRunner"]

#: 1 when the rule's last evaluation succeeded, 0 when it failed.
RULE_HEALTH = "watchkeeper_rule_health"

log = logging.getLogger(__name__)

Rule = AlertingRule | RecordingRule


class _Overlay(Store):
    """The store plus this evaluation's not-yet-appended samples."""

    def __init__(self, base: Store) -> None:
        self.base = base
        self.pending = MemoryStore()
        self.empty = True

    def append(self, samples: Sequence[Sample]) -> int:
        if samples:
            self.empty = False
        return self.pending.append(samples)

    def select(self, matchers: Sequence[Matcher]) -> list[Any]:
        return self.base.select(matchers)

    def read_range(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, *, min_step_ms: int = 0
    ) -> list[SeriesData]:
        base = self.base.read_range(matchers, start_ms, end_ms, min_step_ms=min_step_ms)
        if self.empty:
            return base
        extra = self.pending.read_range(matchers, start_ms, end_ms)
        if not extra:
            return base
        return self._merge(base, extra)

    def read_columns(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, *, min_step_ms: int = 0
    ) -> SeriesColumns:
        # The store's column read (the evaluator's fast path) unless this
        # evaluation has written matching samples, which are rare.
        base = self.base.read_columns(matchers, start_ms, end_ms, min_step_ms=min_step_ms)
        if self.empty:
            return base
        extra = self.pending.read_range(matchers, start_ms, end_ms)
        if not extra:
            return base
        return SeriesColumns.of(self._merge(base.to_series_data(), extra))

    @staticmethod
    def _merge(base: list[SeriesData], extra: list[SeriesData]) -> list[SeriesData]:
        merged = {(sd.series.name, sd.series.labels): sd for sd in base}
        for sd in extra:
            key = (sd.series.name, sd.series.labels)
            old = merged.get(key)
            if old is None:
                merged[key] = sd
                continue
            keep = ~isin_sorted(old.timestamps, sd.timestamps)
            ts = np.concatenate([old.timestamps[keep], sd.timestamps])
            vs = np.concatenate([old.values[keep], sd.values])
            order = np.argsort(ts, kind="stable")
            merged[key] = SeriesData(old.series, ts[order], vs[order])
        return sorted(merged.values(), key=lambda sd: (sd.series.name, sd.series.labels))

    def delete_before(self, ts_ms: int) -> int:
        raise NotImplementedError

    def stats(self) -> StoreStats:
        return self.base.stats()


def _invalidate(reads: dict[Any, Any], memo: Memo, names: set[str]) -> None:
    """Forget cached reads and results that the samples just written can change."""
    for matchers in list(reads):
        fixed = [m.value for m in matchers if m.name == NAME_LABEL and m.op is MatchOp.EQ]
        if not fixed or fixed[0] in names:
            del reads[matchers]
    for key, (_, read_names) in list(memo.items()):
        if read_names is None or not read_names.isdisjoint(names):
            del memo[key]


def _reads_of(rule: Rule) -> frozenset[str] | None:
    """Metric names a rule's evaluation can read (None: any)."""
    asts = [rule.spec.ast]
    if isinstance(rule, AlertingRule):
        if rule._keep_ast is not None:
            asts.append(rule._keep_ast)
        if rule.options.missing_data != "resolve" or rule.reads_any:
            return None
    names: set[str] = set()
    for ast in asts:
        found = node_info(ast).names
        if found is None:
            return None
        names |= found
    return frozenset(names)


class RuleGroupRunner:
    """Evaluates one group; keeps its rules' alert state between evaluations."""

    def __init__(
        self,
        spec: GroupSpec,
        store: Store,
        *,
        interval: float,
        external_labels: dict[str, str] | None = None,
        external_url: str = "",
        options: dict[str, RuleOptions] | None = None,
        write_through: bool = False,
        lookback_ms: int = 300_000,
        subquery_step_ms: int | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.file = spec.file
        self.interval = spec.interval_s if spec.interval_s else interval
        self.store = store
        self.write_through = write_through
        self.lookback_ms = lookback_ms
        self.limit = spec.limit
        self.subquery_step_ms = subquery_step_ms or round(self.interval * 1000)
        opts = options or {}
        self.rules: list[Rule] = []
        for r in spec.rules:
            if isinstance(r, AlertRuleSpec):
                self.rules.append(
                    AlertingRule(
                        r,
                        external_labels=external_labels,
                        external_url=external_url,
                        options=opts.get(f"{spec.name}/{r.name}") or opts.get(r.name),
                    )
                )
            else:
                self.rules.append(RecordingRule(r))
        self._previous: list[set[tuple[str, Labels]]] = [set() for _ in self.rules]
        # What the rules after rule i read: only those samples need to be
        # visible to the rest of this evaluation (the overlay).
        self._read_later: list[frozenset[str] | None] = []
        later: frozenset[str] | None = frozenset()
        for rule in reversed(self.rules):
            self._read_later.append(later)
            reads = _reads_of(rule)
            later = None if reads is None or later is None else later | reads
        self._read_later.reverse()
        # How far back each selector is read, over all rules: the first read
        # of a selector in an evaluation covers the widest window.
        self._lookbacks: dict[Any, int] = {}
        for rule in self.rules:
            selector_lookbacks(rule.spec.ast, lookback_ms, self._lookbacks)
        self.last_eval_ms = 0
        self.last_duration_s = 0.0
        self._evaluated = False
        self._restore_pending = False

    # -- evaluation --------------------------------------------------------------
    def evaluate(self, now_ms: int) -> list[Sample]:
        """Evaluate every rule at ``now_ms``; return the samples to append.

        A rule that fails keeps its error (``health``/``last_error``) and the
        others still run.
        """
        started = time.perf_counter()
        target: Store = self.store if self.write_through else _Overlay(self.store)
        out: list[Sample] = []
        subquery_step = self.subquery_step_ms
        # Rules of one evaluation share store reads; entries a rule's output
        # could change are dropped after it runs.
        reads: dict[Any, Any] = {}
        # Subtrees repeated across rules are evaluated once (see nodekey).
        memo: Memo = {}
        hints = {key: now_ms - back for key, back in self._lookbacks.items()}
        for i, rule in enumerate(self.rules):
            t0 = time.perf_counter()
            ev = Evaluator(
                target, now_ms, now_ms, 1, lookback_ms=self.lookback_ms,
                subquery_step_ms=subquery_step, reads=reads, memo=memo, read_hints=hints,
            )  # fmt: skip
            try:
                samples = rule.eval(ev, now_ms)
                if self.limit and isinstance(rule, AlertingRule):
                    n = sum(1 for a in rule.active.values() if a.state != "inactive")
                    if n > self.limit:
                        rule.active.clear()
                        raise QueryError(f"exceeded limit of {self.limit} with {n} alerts")
                if self.limit and isinstance(rule, RecordingRule) and len(samples) > self.limit:
                    raise QueryError(f"exceeded limit of {self.limit} with {len(samples)} series")
                rule._ok()
            except (QueryError, ValueError, ArithmeticError) as exc:
                rule._fail(str(exc))
                log.warning("rule %s in group %s failed: %s", rule.name, self.name, exc)
                samples = []
            rule.last_eval_ms = now_ms
            rule.last_duration_s = time.perf_counter() - t0
            current = {(s.name, s.labels) for s in samples}
            stale = [
                Sample(name, labels, now_ms, STALE_NAN)
                for name, labels in self._previous[i] - current
            ]
            self._previous[i] = current
            batch = samples + stale
            if batch:
                later = self._read_later[i]
                if self.write_through or later is None:
                    target.append(batch)
                elif later:
                    target.append([smp for smp in batch if smp.name in later])
                _invalidate(reads, memo, {smp.name for smp in batch})
            out.extend(batch)
        # Health as a series, so `watchkeeper rules list` in another process
        # can show which rules fail.
        for rule in self.rules:
            out.append(
                Sample(
                    RULE_HEALTH,
                    Labels({"rule_group": self.name, "rule": rule.name}),
                    now_ms,
                    1.0 if rule.health is RuleHealth.OK else 0.0,
                )
            )
        self.last_eval_ms = now_ms
        self.last_duration_s = time.perf_counter() - started
        if self._restore_pending:
            self._restore_pending = False
            self._restore(now_ms)
        self._evaluated = True
        return out

    def definition(self) -> tuple[Any, ...]:
        """What the group evaluates and how: equal for an unchanged group after a reload."""
        rules = []
        for rule in self.rules:
            spec = rule.spec
            rules.append(
                (
                    type(rule).__name__,
                    spec.name,
                    spec.expr,
                    getattr(spec, "for_s", 0.0),
                    getattr(spec, "keep_firing_for_s", 0.0),
                    tuple(sorted(spec.labels.items())),
                    tuple(sorted(getattr(spec, "annotations", {}).items())),
                    getattr(rule, "options", None),
                    getattr(rule, "external_labels", None),
                    getattr(rule, "external_url", None),
                )
            )
        return (self.name, self.file, self.interval, self.limit, self.lookback_ms, tuple(rules))

    def adopt(self, old: RuleGroupRunner) -> None:
        """Take over the state of the group this one replaces (a reload changed it).

        Alerting rules of the same name keep their alerts (pending time,
        firing since, ``keep_firing_for`` holds, flap history), and every
        rule the series it wrote, so the first evaluation marks stale only
        what really went away; as Prometheus does for a changed group.
        """
        before = {
            (type(rule), rule.name): (rule, prev)
            for rule, prev in zip(old.rules, old._previous, strict=True)
        }
        for i, rule in enumerate(self.rules):
            found = before.get((type(rule), rule.name))
            if found is None:
                continue
            old_rule, prev = found
            self._previous[i] = set(prev)
            if isinstance(rule, AlertingRule) and isinstance(old_rule, AlertingRule):
                # Copies: an old evaluation past its timeout may still be running.
                rule.active = copy.deepcopy(old_rule.active)
                rule.health, rule.last_error = old_rule.health, old_rule.last_error
        self._evaluated = old._evaluated

    def stale_samples(self, now_ms: int) -> list[Sample]:
        """Staleness markers for every series the last evaluation wrote (the group is gone)."""
        return [
            Sample(name, labels, now_ms, STALE_NAN)
            for prev in self._previous
            for name, labels in prev
        ]

    def enable_restore(self) -> None:
        """Restore ``for`` state from ALERTS_FOR_STATE after the first evaluation."""
        self._restore_pending = True

    def _restore(self, now_ms: int) -> None:
        ev = Evaluator(self.store, now_ms, now_ms, 1)
        for rule in self.rules:
            if isinstance(rule, AlertingRule):
                try:
                    rule.restore(ev, now_ms)
                except (QueryError, ValueError) as exc:
                    log.warning("restoring alert state of %s failed: %s", rule.name, exc)

    # -- introspection -------------------------------------------------------------
    def active_alerts(self) -> list[Alert]:
        return [a for r in self.rules if isinstance(r, AlertingRule) for a in r.active_alerts()]

    def health(self) -> dict[str, tuple[RuleHealth, str]]:
        return {r.name: (r.health, r.last_error) for r in self.rules}
