"""Rule unit tests in ``promtool test rules`` format, run by watchkeeper.

The same YAML files run under both tools, which is how the conformance suite
proves the evaluator and the alert state machine match Prometheus. The loop
mirrors promtool 2.42's: input series are loaded into a fresh in-memory store,
every group is evaluated at ``0, interval, 2*interval, ...`` up to the last
``eval_time``, alerts are checked at the evaluation that covers each
``eval_time``, then the ``promql_expr_test`` queries run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from watchkeeper.model import NAME_LABEL, Labels, MatchOp, Sample
from watchkeeper.query.api import instant_query
from watchkeeper.query.memory import MemoryStore
from watchkeeper.query.values import STALE_NAN, QueryError, Scalar, Vector, format_value
from watchkeeper.rules.alerting import AlertingRule
from watchkeeper.rules.gofmt import go_float
from watchkeeper.rules.group import RuleGroupRunner
from watchkeeper.rules.loader import load_rule_files, parse_prom_duration

__all__ = ["TestFileResult", "expand_series_values", "parse_metric", "run_test_file"]


@dataclass
class TestFileResult:
    path: str
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


_ITEM = re.compile(
    r"^(?P<blank>_)(?:x(?P<bn>\d+))?$"
    r"|^(?P<stale>stale)$"
    r"|^(?P<v>[-+]?(?:Inf|inf|NaN|nan|[0-9.]+(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+))"
    r"(?:(?P<d>[-+](?:Inf|[0-9.]+(?:[eE][-+]?\d+)?))?x(?P<n>\d+))?$"
)


def _num(text: str) -> float:
    t = text.lower().lstrip("+")
    if t in ("inf", "-inf", "nan"):
        return float(t)
    if t.startswith(("0x", "-0x")):
        return float(int(t, 16))
    return float(t)


def expand_series_values(text: str) -> list[float | None]:
    """``'1+1x3 _ stale'`` -> ``[1, 2, 3, 4, None, STALE]`` (promql test notation)."""
    out: list[float | None] = []
    for tok in str(text).split():
        m = _ITEM.match(tok)
        if m is None:
            raise ValueError(f"invalid series value {tok!r}")
        if m.group("blank"):
            out.extend([None] * (int(m.group("bn")) if m.group("bn") else 1))
        elif m.group("stale"):
            out.append(STALE_NAN)
        else:
            v = _num(m.group("v"))
            if m.group("n") is None:
                out.append(v)
                continue
            n = int(m.group("n"))
            d = _num(m.group("d")) if m.group("d") else 0.0
            out.append(v)
            for _ in range(n):
                v += d
                out.append(v)
    return out


def parse_metric(text: str) -> tuple[str, Labels]:
    """``foo{a="b"}`` -> ``("foo", Labels(a="b"))``; ``{}`` has no name."""
    text = text.strip()
    if text in ("", "{}"):
        return "", Labels()
    try:
        vs = promql_parser.parse(text)
    except ValueError as exc:
        raise ValueError(f"invalid series {text!r}: {exc}") from None
    if not isinstance(vs, promql_parser.VectorSelector) or vs.offset or vs.at:
        raise ValueError(f"invalid series {text!r}")
    labels = {}
    name = vs.name or ""
    for m in vs.matchers.matchers:
        if str(m.op).rsplit(".", 1)[-1] != "Equal":
            raise ValueError(f"invalid series {text!r}: only = matchers allowed")
        if m.name == NAME_LABEL:
            name = m.value
        elif m.value:
            labels[m.name] = m.value
    return name, Labels(labels)


def _full(name: str, labels: Labels) -> Labels:
    return Labels((*labels, (NAME_LABEL, name))) if name else labels


def _dur_ms(value: Any, what: str) -> int:
    if value is None:
        return 0
    return round(parse_prom_duration(str(value)) * 1000)


def run_test_file(path: str | Path) -> TestFileResult:
    p = Path(path)
    res = TestFileResult(str(p))
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        res.errors.append(f"cannot read {p}: {exc}")
        return res
    if not isinstance(doc, dict):
        res.errors.append(f"{p}: not a rule test file")
        return res
    try:
        eval_interval = _dur_ms(doc.get("evaluation_interval") or "1m", "evaluation_interval")
    except ValueError as exc:
        res.errors.append(f"{p}: evaluation_interval: {exc}")
        return res
    files = [
        str((p.parent / f) if not Path(f).is_absolute() else Path(f))
        for f in doc.get("rule_files") or []
    ]
    order = doc.get("group_eval_order") or []
    for i, tg in enumerate(doc.get("tests") or []):
        name = tg.get("name") or ""
        try:
            errs = _run_group(tg, files, eval_interval, order)
        except (ValueError, QueryError) as exc:
            errs = [f"    {exc}"]
        if errs:
            head = f"  FAILED{' ' + name if name else ''} (test {i + 1}):"
            res.errors.append("\n".join([head, *errs]))
    return res


def _run_group(
    tg: dict[str, Any], files: list[str], eval_interval: int, order: list[str]
) -> list[str]:
    interval = _dur_ms(tg.get("interval") or "1m", "interval")
    store = MemoryStore()
    for s in tg.get("input_series") or []:
        name, labels = parse_metric(str(s.get("series", "")))
        vals = expand_series_values(str(s.get("values", "")))
        store.append(
            [Sample(name, labels, i * interval, v) for i, v in enumerate(vals) if v is not None]
        )
    loaded = load_rule_files(files)
    if loaded.errors:
        return [f"    {e}" for e in loaded.errors]
    ext_labels = {str(k): str(v) for k, v in (tg.get("external_labels") or {}).items()}
    ext_url = str(tg.get("external_url") or "")
    specs = loaded.groups
    if order:
        rank = {n: i for i, n in enumerate(order)}
        specs = sorted(specs, key=lambda g: rank.get(g.name, len(rank)))
    groups = [
        RuleGroupRunner(
            g, store, interval=eval_interval / 1000, external_labels=ext_labels,
            external_url=ext_url, write_through=True, subquery_step_ms=60_000,
        )
        for g in specs
    ]  # fmt: skip
    alert_tests = tg.get("alert_rule_test") or []
    expr_tests = tg.get("promql_expr_test") or []
    times = [_dur_ms(a.get("eval_time"), "eval_time") for a in alert_tests]
    times += [_dur_ms(e.get("eval_time"), "eval_time") for e in expr_tests]
    max_t = max(times, default=0)
    by_time: dict[int, list[dict[str, Any]]] = {}
    for a in alert_tests:
        if not a.get("alertname"):
            return ["    alertname is missing"]
        by_time.setdefault(_dur_ms(a.get("eval_time"), "eval_time"), []).append(a)
    pending_times = sorted(by_time)
    errs: list[str] = []
    cur = 0
    ts = 0
    while ts <= max_t:
        for g in groups:
            g.evaluate(ts)
        eval_errs = [
            f"    rule: {r.name}, time: {_show_dur(ts)}, err: {r.last_error}"
            for g in groups
            for r in g.rules
            if r.last_error
        ]
        if eval_errs:
            return errs + eval_errs
        while cur < len(pending_times) and ts <= pending_times[cur] < ts + eval_interval:
            t = pending_times[cur]
            for case in by_time[t]:
                errs.extend(_check_alerts(groups, case, t))
            cur += 1
        ts += eval_interval
    for case in expr_tests:
        errs.extend(_check_expr(store, case))
    return errs


def _show_dur(ms: int) -> str:
    return promql_parser.display_duration(__import__("datetime").timedelta(milliseconds=ms))


def _check_alerts(groups: list[RuleGroupRunner], case: dict[str, Any], t: int) -> list[str]:
    name = case["alertname"]
    got: list[tuple[Labels, Labels]] = []
    for g in groups:
        for r in g.rules:
            if isinstance(r, AlertingRule) and r.name == name:
                got.extend(
                    (a.labels, Labels(a.annotations))
                    for a in r.active_alerts()
                    if a.state == "firing"
                )
    exp = []
    for a in case.get("exp_alerts") or []:
        lab = {str(k): str(v) for k, v in (a.get("exp_labels") or {}).items()}
        lab["alertname"] = name
        ann = {str(k): str(v) for k, v in (a.get("exp_annotations") or {}).items()}
        exp.append((Labels(lab), Labels(ann)))
    if sorted(got) != sorted(exp):
        return [
            f"    alertname: {name}, time: {_show_dur(t)},\n"
            f"        exp:{_fmt_alerts(exp)},\n        got:{_fmt_alerts(got)}"
        ]
    return []


def _fmt_alerts(alerts: list[tuple[Labels, Labels]]) -> str:
    if not alerts:
        return "[]"
    return "[\n" + "\n".join(
        f"            {i}:\n              Labels:{lab}\n              Annotations:{ann}"
        for i, (lab, ann) in enumerate(sorted(alerts))
    )


def _check_expr(store: MemoryStore, case: dict[str, Any]) -> list[str]:
    expr = str(case.get("expr", ""))
    t = _dur_ms(case.get("eval_time"), "eval_time")
    try:
        res = instant_query(store, expr, t, subquery_step_ms=60_000)
    except QueryError as exc:
        return [f'    expr: "{expr}", time: {_show_dur(t)}, err: {exc}']
    if isinstance(res, Scalar):
        got = [(Labels(), res.value)]
    elif isinstance(res, Vector):
        got = [(s.labels, s.value) for s in res.samples]
    else:
        return [f'    expr: "{expr}", time: {_show_dur(t)}, err: unexpected result type']
    exp = []
    for s in case.get("exp_samples") or []:
        name, labels = parse_metric(str(s.get("labels", "")))
        exp.append((_full(name, labels), float(s.get("value"))))
    if not _same(exp, got):
        return [
            f'    expr: "{expr}", time: {_show_dur(t)},\n'
            f"        exp: {_fmt_samples(exp)}\n        got: {_fmt_samples(got)}"
        ]
    return []


def _same(a: list[tuple[Labels, float]], b: list[tuple[Labels, float]]) -> bool:
    if len(a) != len(b):
        return False
    for (la, va), (lb, vb) in zip(
        sorted(a, key=lambda x: x[0]), sorted(b, key=lambda x: x[0]), strict=True
    ):
        if la != lb or va != vb:  # NaN never equals, as in promtool
            return False
    return True


def _fmt_samples(samples: list[tuple[Labels, float]]) -> str:
    if not samples:
        return "(empty)"
    parts = []
    for lab, v in sorted(samples, key=lambda x: x[0]):
        parts.append(f"{lab} {_gof_e(v)}")
    return ", ".join(parts)


def _gof_e(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return go_float(v)
    return format_value(v)


_ = MatchOp
