"""Alerting and recording rules: Prometheus's rules/alerting.go, step for step.

The state machine: a series in the expression's result makes a *pending*
alert (``active_at`` = now); after ``for`` it is *firing*; when the series is
gone it becomes *inactive* (resolved), unless ``keep_firing_for`` holds it.
``ALERTS{alertstate=...}`` and ``ALERTS_FOR_STATE`` (value: active_at in
seconds) are written each evaluation; the latter is what restores pending
time after a restart.

The per-rule :class:`RuleOptions` add what Prometheus lacks (hysteresis, a
``for`` that tolerates missed evaluations, a missing-data policy, flap
detection). They are configured outside the rule file, so the file stays
valid for promtool, and with all options off the behaviour is Prometheus's.
"""

from __future__ import annotations

import enum
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import promql_parser as pp

from watchkeeper.model import NAME_LABEL, Labels, Sample
from watchkeeper.query.blocks import SBlock, VBlock
from watchkeeper.query.engine import Evaluator
from watchkeeper.query.values import QueryError, Scalar, Vector
from watchkeeper.rules.gofmt import go_float
from watchkeeper.rules.spec import AlertRuleSpec, RecordRuleSpec
from watchkeeper.rules.template import TemplateError, base_functions, expand, parse_template

__all__ = [
    "Alert",
    "AlertState",
    "AlertingRule",
    "RecordingRule",
    "RuleHealth",
    "RuleOptions",
]

log = logging.getLogger(__name__)

ALERTS = "ALERTS"
ALERTS_FOR_STATE = "ALERTS_FOR_STATE"
ALERTNAME = "alertname"
ALERTSTATE = "alertstate"
#: Resolved alerts are kept this long so notifiers see the resolution.
RESOLVED_RETENTION_MS = 15 * 60 * 1000


class AlertState(enum.StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


class RuleHealth(enum.StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    ERR = "err"


@dataclass(slots=True)
class RuleOptions:
    """watchkeeper's per-rule extras; defaults reproduce Prometheus exactly."""

    #: Hysteresis: an active alert stays active while this PromQL returns a
    #: series with the alert's labels (e.g. fire at > 90, resolve at < 80 by
    #: ``resolve_expr: cpu >= 80``... written as "still bad" condition).
    keep_while: str | None = None
    #: ``for`` tolerates this many consecutive evaluations without the series.
    missed_evaluations: int = 0
    #: What to do when the expression's selectors have no data at all.
    missing_data: Literal["resolve", "keep", "alert"] = "resolve"
    #: Flap detection: more than ``flap_max_changes`` firing<->resolved changes
    #: within ``flap_window_s`` holds the alert firing, annotated as flapping.
    flap_window_s: float = 0.0
    flap_max_changes: int = 0


@dataclass(slots=True)
class Alert:
    labels: Labels
    annotations: dict[str, str]
    state: AlertState
    active_at_ms: int
    value: float
    fired_at_ms: int = 0
    resolved_at_ms: int = 0
    keep_firing_since_ms: int = 0
    missed: int = 0
    flapping: bool = False
    changes: deque[int] = field(default_factory=deque)
    #: (state, labels of its ALERTS series), rebuilt only when the state changes.
    _series: tuple[AlertState, Labels] | None = None

    def series_labels(self) -> Labels:
        """The labels of this alert's ``ALERTS`` series (``alertstate`` added)."""
        cached = self._series
        if cached is None or cached[0] is not self.state:
            cached = self._series = (self.state, self.labels.merge({ALERTSTATE: self.state.value}))
        return cached[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "state": self.state.value,
            "activeAt": self.active_at_ms / 1000,
            "firedAt": self.fired_at_ms / 1000 if self.fired_at_ms else None,
            "resolvedAt": self.resolved_at_ms / 1000 if self.resolved_at_ms else None,
            "value": go_float(self.value),
            "flapping": self.flapping,
        }


def _query_vector(ev: Evaluator, ast: Any, at_ms: int) -> list[tuple[Labels, float]]:
    """Run a rule's expression; scalars become one sample without labels."""
    from watchkeeper.query.api import instant_query

    res = instant_query(ev.store, ast, at_ms, evaluator=ev)
    if isinstance(res, Scalar):
        return [(Labels(), res.value)]
    if isinstance(res, Vector):
        return [(s.labels, s.value) for s in res.samples]
    raise QueryError("rule result is not a vector or scalar")


def _rule_vector(ev: Evaluator, ast: Any) -> list[tuple[Labels, float]]:
    """A rule's expression result, unsorted (rules do not need query order)."""
    val = ev.eval(ast)
    if isinstance(val, SBlock):
        return [(Labels(), float(val.values[0]))]
    if isinstance(val, VBlock):
        rows = np.flatnonzero(val.present[:, 0])
        labels = val.labels
        return list(zip([labels[i] for i in rows], val.values[rows, 0].tolist(), strict=True))
    raise QueryError("rule result is not a vector or scalar")


def _same_value(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


class _Rule:
    name: str
    health: RuleHealth
    last_error: str
    last_eval_ms: int
    last_duration_s: float

    def _ok(self) -> None:
        self.health = RuleHealth.OK
        self.last_error = ""

    def _fail(self, err: str) -> None:
        self.health = RuleHealth.ERR
        self.last_error = err


class RecordingRule(_Rule):
    def __init__(self, spec: RecordRuleSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.health = RuleHealth.UNKNOWN
        self.last_error = ""
        self.last_eval_ms = 0
        self.last_duration_s = 0.0
        #: Input labels -> output labels: a series' labels rarely change.
        self._labels: dict[Labels, Labels] = {}

    def _output_labels(self, labels: Labels) -> Labels:
        lab = self._labels.get(labels)
        if lab is None:
            d = dict(labels)
            d.pop(NAME_LABEL, None)
            for k, v in self.spec.labels.items():
                if v:
                    d[k] = v
                else:
                    d.pop(k, None)
            lab = self._labels[labels] = Labels(d)
        return lab

    def eval(self, ev: Evaluator, ts_ms: int) -> list[Sample]:
        rows = _rule_vector(ev, self.spec.ast)
        if len(self._labels) > 2 * len(rows) + 1000:
            self._labels.clear()
        out: list[Sample] = []
        seen: set[Labels] = set()
        for labels, value in rows:
            lab = self._output_labels(labels)
            if lab in seen:
                raise QueryError(
                    "vector contains metrics with the same labelset after applying rule labels"
                )
            seen.add(lab)
            out.append(Sample(self.name, lab, ts_ms, value))
        return out


class AlertingRule(_Rule):
    def __init__(
        self,
        spec: AlertRuleSpec,
        *,
        external_labels: dict[str, str] | None = None,
        external_url: str = "",
        options: RuleOptions | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.options = options or RuleOptions()
        self.external_labels = dict(external_labels or {})
        self.external_url = external_url
        self.hold_ms = round(spec.for_s * 1000)
        self.keep_firing_ms = round(spec.keep_firing_for_s * 1000)
        self.active: dict[Labels, Alert] = {}
        self.health = RuleHealth.UNKNOWN
        self.last_error = ""
        self.last_eval_ms = 0
        self.last_duration_s = 0.0
        self.restored = True
        self._label_tmpl = {k: _compile(v, spec.name) for k, v in spec.labels.items()}
        self._annot_tmpl = {k: _compile(v, spec.name) for k, v in spec.annotations.items()}
        self._keep_ast = pp.parse(self.options.keep_while) if self.options.keep_while else None
        self._selectors = _vector_selectors(spec.ast)
        texts = [*spec.labels.values(), *spec.annotations.values()]
        #: A template calling ``query`` reads the store: its expansion depends
        #: on more than (labels, value), so nothing about it may be cached.
        self.reads_any = any("query" in t for t in texts if "{{" in t)
        self._static_labels = not any("{{" in t for t in spec.labels.values())
        #: Input labels -> (alert labels, value, annotations) of the last expansion.
        self._expanded: dict[Labels, tuple[Labels, float, dict[str, str]]] = {}
        self._ctx: tuple[Evaluator, int] | None = None
        self._funcs: dict[str, Callable[..., Any]] = {
            **base_functions(),
            "query": self._template_query,
            "externalURL": lambda: self.external_url,
        }

    # -- templates -----------------------------------------------------------
    def _expand(self, tmpl: Any, labels: Labels, value: float, ev: Evaluator, ts_ms: int) -> str:
        if isinstance(tmpl, str):  # no actions: nothing to expand
            return tmpl
        data = {
            "Labels": dict(labels),
            "ExternalLabels": self.external_labels,
            "ExternalURL": self.external_url,
            "Value": value,
        }
        variables = {
            "$labels": data["Labels"],
            "$externalLabels": self.external_labels,
            "$externalURL": self.external_url,
            "$value": value,
        }

        self._ctx = (ev, ts_ms)
        try:
            return expand(tmpl, data, self._funcs, variables, complete=True)
        except (TemplateError, QueryError, ValueError) as exc:
            log.warning("expanding template of alert %s failed: %s", self.name, exc)
            return f"<error expanding template: {exc}>"

    def _template_query(self, q: str) -> list[dict[str, Any]]:
        assert self._ctx is not None
        ev, ts_ms = self._ctx
        rows = _query_vector(Evaluator(ev.store, ts_ms, ts_ms, 1), pp.parse(q), ts_ms)
        return [{"Labels": dict(lab), "Value": v} for lab, v in rows]

    # -- evaluation ------------------------------------------------------------
    def eval(self, ev: Evaluator, ts_ms: int) -> list[Sample]:
        rows = _rule_vector(ev, self.spec.ast)
        if len(self._expanded) > 2 * len(rows) + 1000:
            self._expanded.clear()
        opts = self.options
        no_data = False
        if opts.missing_data != "resolve" and not rows:
            no_data = not self._has_data(ev, ts_ms)
        if no_data and opts.missing_data == "keep":
            return self._samples(ts_ms)
        current: dict[Labels, Alert] = {}
        for labels, value in rows:
            lab, annotations = self._alert_labels(labels, value, ev, ts_ms)
            if lab in current:
                raise QueryError(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            current[lab] = Alert(lab, annotations, AlertState.PENDING, ts_ms, value)
        if no_data and opts.missing_data == "alert":
            lab = Labels({**self.spec.labels, ALERTNAME: f"{self.name}NoData", "rule": self.name})
            current[lab] = Alert(
                lab,
                {"summary": f"No data for alert rule {self.name}"},
                AlertState.PENDING,
                ts_ms,
                math.nan,
            )
        held = self._held_by_keep_while(ev, ts_ms, current)
        for lab, a in current.items():
            old = self.active.get(lab)
            if old is not None and old.state is not AlertState.INACTIVE:
                old.value = a.value
                old.annotations = a.annotations
                old.missed = 0
                continue
            if old is not None:
                a.changes = old.changes
            self.active[lab] = a
        for lab, a in list(self.active.items()):
            if lab not in current and lab not in held:
                keep = False
                if a.state is AlertState.FIRING and self.keep_firing_ms > 0:
                    if not a.keep_firing_since_ms:
                        a.keep_firing_since_ms = ts_ms
                    if ts_ms - a.keep_firing_since_ms < self.keep_firing_ms:
                        keep = True
                if not keep and a.state is not AlertState.INACTIVE and opts.missed_evaluations:
                    a.missed += 1
                    keep = a.missed <= opts.missed_evaluations
                if not keep and a.state is AlertState.FIRING and self._flapping(a, ts_ms):
                    keep = True
                if (a.state is AlertState.PENDING and not keep) or (
                    a.resolved_at_ms and ts_ms - a.resolved_at_ms > RESOLVED_RETENTION_MS
                ):
                    del self.active[lab]
                if a.state is not AlertState.INACTIVE and not keep:
                    if a.state is AlertState.FIRING:
                        self._record_change(a, ts_ms)
                    a.state = AlertState.INACTIVE
                    a.resolved_at_ms = ts_ms
                if not keep:
                    continue
            else:
                a.keep_firing_since_ms = 0
            if a.state is AlertState.PENDING and ts_ms - a.active_at_ms >= self.hold_ms:
                a.state = AlertState.FIRING
                a.fired_at_ms = ts_ms
                self._record_change(a, ts_ms)
        return self._samples(ts_ms)

    def _alert_labels(
        self, labels: Labels, value: float, ev: Evaluator, ts_ms: int
    ) -> tuple[Labels, dict[str, str]]:
        """The alert's labels and annotations, expanded as Prometheus does.

        Prometheus re-expands every evaluation. Unless a template calls
        ``query``, expansion is a pure function of (labels, value) (external
        labels and URL are fixed per rule), so the last result is reused
        while the value stays the same, and constant label templates are
        applied once per series; the strings are identical either way.
        """
        if self.reads_any:
            return self._expand_all(labels, value, ev, ts_ms)
        hit = self._expanded.get(labels)
        if hit is not None and _same_value(hit[1], value):
            # A fresh dict: flap detection adds to an alert's annotations.
            return hit[0], dict(hit[2])
        if hit is not None and self._static_labels:
            lab = hit[0]
            annotations = {
                k: self._expand(tmpl, labels, value, ev, ts_ms)
                for k, tmpl in self._annot_tmpl.items()
            }
        else:
            lab, annotations = self._expand_all(labels, value, ev, ts_ms)
        self._expanded[labels] = (lab, value, annotations)
        return lab, dict(annotations)

    def _expand_all(
        self, labels: Labels, value: float, ev: Evaluator, ts_ms: int
    ) -> tuple[Labels, dict[str, str]]:
        d = dict(labels)
        d.pop(NAME_LABEL, None)
        for k, tmpl in self._label_tmpl.items():
            v = self._expand(tmpl, labels, value, ev, ts_ms)
            if v:
                d[k] = v
            else:
                d.pop(k, None)
        d[ALERTNAME] = self.name
        annotations = {
            k: self._expand(tmpl, labels, value, ev, ts_ms) for k, tmpl in self._annot_tmpl.items()
        }
        return Labels(d), annotations

    def _samples(self, ts_ms: int) -> list[Sample]:
        out: list[Sample] = []
        if not self.restored:
            return out
        for a in self.active.values():
            if a.state is AlertState.INACTIVE:
                continue
            out.append(Sample(ALERTS, a.series_labels(), ts_ms, 1.0))
            out.append(Sample(ALERTS_FOR_STATE, a.labels, ts_ms, a.active_at_ms // 1000 * 1.0))
        return out

    def _has_data(self, ev: Evaluator, ts_ms: int) -> bool:
        from watchkeeper.query.selector import matchers_of

        for vs in self._selectors:
            if ev.store.read_range(matchers_of(vs), ts_ms - ev.lookback_ms, ts_ms):
                return True
        return False

    def _held_by_keep_while(
        self, ev: Evaluator, ts_ms: int, current: dict[Labels, Alert]
    ) -> set[Labels]:
        if self._keep_ast is None:
            return set()
        missing = [
            lab
            for lab, a in self.active.items()
            if lab not in current and a.state is not AlertState.INACTIVE
        ]
        if not missing:
            return set()
        still = set()
        for labels, value in _query_vector(ev, self._keep_ast, ts_ms):
            lab, _ = self._alert_labels(labels, value, ev, ts_ms)
            still.add(lab)
        held = {lab for lab in missing if lab in still}
        for lab in held:
            self.active[lab].missed = 0
        return held

    def _record_change(self, a: Alert, ts_ms: int) -> None:
        if self.options.flap_max_changes <= 0:
            return
        a.changes.append(ts_ms)
        self._flapping(a, ts_ms)

    def _flapping(self, a: Alert, ts_ms: int) -> bool:
        opts = self.options
        if opts.flap_max_changes <= 0 or opts.flap_window_s <= 0:
            return False
        horizon = ts_ms - opts.flap_window_s * 1000
        while a.changes and a.changes[0] < horizon:
            a.changes.popleft()
        a.flapping = len(a.changes) > opts.flap_max_changes
        if a.flapping:
            a.annotations["flapping"] = (
                f"changed state {len(a.changes)} times in {go_float(opts.flap_window_s)}s; "
                "held firing until it settles"
            )
        return a.flapping

    def active_alerts(self) -> list[Alert]:
        """Alerts not resolved (what promtool and the API list)."""
        return [a for a in self.active.values() if not a.resolved_at_ms]

    # -- restart ---------------------------------------------------------------
    def restore(
        self,
        ev: Evaluator,
        ts_ms: int,
        *,
        outage_tolerance_ms: int = 3_600_000,
        grace_period_ms: int = 0,
    ) -> None:
        """Shift ``active_at`` of alerts found active again by the downtime.

        Run after the first evaluation. Unlike Prometheus's default (which
        restarts ``for`` when it is shorter than the 10-minute grace period),
        the pending time already spent is kept: an alert pending 4 of its 5
        minutes fires one minute after the restart.
        """
        from watchkeeper.model import Matcher

        if self.hold_ms <= 0:
            return
        matchers = [
            Matcher.equal(NAME_LABEL, ALERTS_FOR_STATE),
            Matcher.equal(ALERTNAME, self.name),
        ]
        data = ev.store.read_range(matchers, ts_ms - outage_tolerance_ms, ts_ms - 1)
        by_labels = {sd.series.labels: sd for sd in data if len(sd)}
        for lab, a in self.active.items():
            sd = by_labels.get(lab)
            if sd is None:
                continue
            restored_active = int(sd.values[-1] * 1000)
            down_at = int(sd.timestamps[-1])
            spent = down_at - restored_active
            remaining = self.hold_ms - spent
            if remaining <= 0:
                a.active_at_ms = restored_active
            elif remaining < grace_period_ms:
                a.active_at_ms = ts_ms + grace_period_ms - self.hold_ms
            else:
                a.active_at_ms = restored_active + (ts_ms - down_at)


def _compile(text: str, rule: str) -> Any:
    """A parsed template, or the text itself when it has no actions."""
    if "{{" not in text:
        return text
    return parse_template(text, f"__alert_{rule}")


def _vector_selectors(ast: Any) -> list[Any]:
    found: list[Any] = []

    def visit(node: Any) -> bool:
        if isinstance(node, pp.VectorSelector):
            found.append(node)
        return True

    pp.walk(ast, visit)
    return found
