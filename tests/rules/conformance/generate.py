# ruff: noqa: E501
"""Regenerate the conformance suite's expected values from promtool itself.

Usage: python tests/rules/conformance/generate.py   (needs promtool on PATH)

Each case below becomes ``<name>.test.yml`` (plus ``<name>.rules.yml`` when it
has rules). ``promql_expr_test`` expectations are filled in with what
promtool 2.42 answers, so Prometheus is the oracle; alert expectations are
written by hand and must pass under promtool too (a case promtool rejects is
not a valid case). The harness test then runs every file under both tools.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent

COUNTERS = [
    ('http_requests_total{job="api",instance="a",code="200"}', "0+10x20"),
    ('http_requests_total{job="api",instance="b",code="200"}', "0+7x8 3+7x11"),
    ('http_requests_total{job="api",instance="a",code="500"}', "0+1x5 _x3 6+2x11"),
    ('http_requests_total{job="web",instance="c",code="200"}', "5 15 stale 30+12x17"),
]
GAUGES = [
    ('cpu{instance="a",mode="user"}', "10 20 35 50 80 95 90 70 40 30 20 10 5 50 60"),
    ('cpu{instance="b",mode="user"}', "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"),
    ('cpu{instance="c",mode="system"}', "0.5 0.25 0.125 -1 -2 _ _ 4 8 NaN 16 32 64 128 256"),
    ('mem{instance="a"}', "100 200 300 400 500 600 700 800 900 1000 1100 1200 1300 1400 1500"),
    ('mem{instance="b"}', "1000 900 800 700 600 500 400 300 200 100 0 -100 -200 -300 -400"),
]
BUCKETS = [
    ('req_bucket{le="0.1",job="api"}', "0+1x10"),
    ('req_bucket{le="0.5",job="api"}', "0+3x10"),
    ('req_bucket{le="1",job="api"}', "0+4x10"),
    ('req_bucket{le="+Inf",job="api"}', "0+5x10"),
    ('req_bucket{le="0.1",job="web"}', "0+2x10"),
    ('req_bucket{le="1",job="web"}', "0+2x10"),
    ('req_bucket{le="+Inf",job="web"}', "0+4x10"),
]

T = ["0m", "3m", "7m", "10m", "14m"]


def case(
    name: str,
    series: list[tuple[str, str]],
    exprs: list[str],
    times: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {"name": name, "series": series, "exprs": exprs, "times": times or T, **extra}


CASES: list[dict[str, Any]] = [
    case("selector_equal", GAUGES, ['cpu{instance="a"}', 'cpu{mode="user"}', "mem"]),
    case("selector_not_equal", GAUGES, ['cpu{instance!="a"}', 'cpu{mode!="system",instance!="b"}']),
    case(
        "selector_regex",
        GAUGES,
        ['cpu{instance=~"a|c"}', '{__name__=~"cpu|mem",instance="a"}', 'cpu{instance=~".*"}'],
    ),
    case("selector_not_regex", GAUGES, ['cpu{instance!~"a|b"}', 'cpu{mode!~"sys.*"}']),
    case(
        "selector_offset", GAUGES, ["cpu offset 2m", "mem offset 5m", 'cpu{instance="c"} offset 1m']
    ),
    case(
        "lookback_staleness",
        [("s", "1 2 stale 4 _ _ _ _ _ _ _ 5"), ("g", "1 _x10 2")],
        ["s", "g", "count_over_time(s[10m])"],
        ["0m", "1m", "2m", "3m", "4m", "8m", "9m", "10m", "11m", "12m"],
    ),
    case("rate", COUNTERS, ["rate(http_requests_total[5m])", "rate(http_requests_total[2m])"]),
    case(
        "rate_resets",
        COUNTERS,
        ['rate(http_requests_total{instance="b"}[5m])', "resets(http_requests_total[10m])"],
    ),
    case("irate", COUNTERS, ["irate(http_requests_total[5m])", "irate(http_requests_total[1m])"]),
    case(
        "increase",
        COUNTERS,
        ["increase(http_requests_total[5m])", "increase(http_requests_total[3m] offset 1m)"],
    ),
    case("delta", GAUGES, ["delta(cpu[5m])", "delta(mem[3m])"]),
    case("idelta", GAUGES, ["idelta(cpu[5m])", "idelta(mem[2m])"]),
    case("deriv", GAUGES, ["deriv(cpu[5m])", "deriv(mem[10m])"]),
    case(
        "predict_linear", GAUGES, ["predict_linear(mem[5m], 3600)", "predict_linear(cpu[10m], 600)"]
    ),
    case(
        "changes",
        [*GAUGES, ("flat", "1 1 1 2 2 3 3 3 1 1 1 1 1 1 1")],
        ["changes(cpu[5m])", "changes(flat[15m])"],
    ),
    case(
        "resets",
        [*COUNTERS, ("c2", "5 4 3 4 5 1 2 3 0 1 2 3 4 5 6")],
        ["resets(c2[5m])", "resets(c2[15m])"],
    ),
    case("avg_over_time", GAUGES, ["avg_over_time(cpu[5m])", "avg_over_time(mem[15m])"]),
    case(
        "min_max_over_time",
        GAUGES,
        ["min_over_time(cpu[5m])", "max_over_time(cpu[5m])", "max_over_time(mem[3m])"],
    ),
    case("sum_count_over_time", GAUGES, ["sum_over_time(cpu[5m])", "count_over_time(cpu[5m])"]),
    case(
        "last_present_over_time", GAUGES, ["last_over_time(cpu[5m])", "present_over_time(cpu[2m])"]
    ),
    case(
        "quantile_over_time",
        GAUGES,
        [
            "quantile_over_time(0.5, cpu[5m])",
            "quantile_over_time(0.9, mem[10m])",
            "quantile_over_time(0, cpu[5m])",
        ],
    ),
    case(
        "stddev_over_time",
        GAUGES,
        ['stddev_over_time(cpu{instance="b"}[5m])', "stdvar_over_time(mem[4m])"],
    ),
    case(
        "absent",
        GAUGES,
        [
            "absent(cpu)",
            'absent(nonexistent{job="x",instance="y"})',
            'absent(nonexistent{job="x",job="z"})',
            'absent(nonexistent{job=~"x"})',
        ],
    ),
    case(
        "absent_over_time",
        [*GAUGES, ("gone", "1 1 1")],
        ["absent_over_time(gone[5m])", 'absent_over_time(nope{a="b"}[5m])'],
    ),
    case(
        "math_abs_ceil_floor", GAUGES, ['abs(cpu{instance="c"})', "ceil(cpu / 3)", "floor(cpu / 3)"]
    ),
    case("round", GAUGES, ["round(cpu / 3)", "round(cpu, 5)", "round(mem / 7, 0.5)"]),
    case(
        "clamp",
        GAUGES,
        ["clamp(cpu, 10, 50)", "clamp_min(cpu, 20)", "clamp_max(mem, 500)", "clamp(cpu, 5, 1)"],
    ),
    case(
        "time_timestamp",
        GAUGES,
        ["time()", "timestamp(cpu)", "timestamp(mem offset 1m)", "time() - timestamp(cpu)"],
    ),
    case(
        "vector_scalar",
        GAUGES,
        [
            "vector(1)",
            "vector(time())",
            'scalar(mem{instance="a"})',
            "scalar(cpu)",
            'mem / scalar(mem{instance="a"})',
        ],
    ),
    case(
        "label_replace",
        GAUGES,
        [
            'label_replace(cpu, "host", "$1", "instance", "(.*)")',
            'label_replace(cpu, "x", "${1}-y", "mode", "(us)er")',
            'label_replace(cpu, "mode", "", "mode", ".*")',
        ],
    ),
    case(
        "label_join",
        GAUGES,
        [
            'label_join(cpu, "both", "/", "instance", "mode")',
            'label_join(mem, "x", "-", "missing", "instance")',
        ],
    ),
    case(
        "histogram_quantile",
        BUCKETS,
        [
            "histogram_quantile(0.5, req_bucket)",
            "histogram_quantile(0.9, rate(req_bucket[5m]))",
            "histogram_quantile(0.99, sum by (le) (rate(req_bucket[5m])))",
        ],
        ["3m", "5m", "10m"],
    ),
    case(
        "agg_sum_avg",
        GAUGES,
        ["sum(cpu)", "sum by (mode) (cpu)", "avg(mem)", "avg without (instance) (cpu)"],
    ),
    case(
        "agg_min_max_count",
        GAUGES,
        ["min(cpu)", "max by (mode) (cpu)", "count(cpu)", "count without (mode) (cpu)"],
    ),
    case("agg_stddev", GAUGES, ["stddev(mem)", "stdvar(mem)", "stddev by (mode) (cpu)"]),
    case(
        "agg_topk_bottomk", GAUGES, ["topk(2, mem)", "bottomk(1, cpu)", "topk by (mode) (1, cpu)"]
    ),
    case(
        "agg_quantile",
        GAUGES,
        ["quantile(0.5, cpu)", "quantile(0.25, mem)", "quantile by (mode) (0.9, cpu)"],
    ),
    case(
        "agg_count_values",
        [*GAUGES, ("v", "1 1 1"), ('w{a="1"}', "2 2 2"), ('w{a="2"}', "2 3 4")],
        ['count_values("value", w)', 'count_values("v", v)'],
    ),
    case("agg_group", GAUGES, ["group(cpu)", "group by (mode) (cpu)"]),
    case(
        "arith_scalar",
        GAUGES,
        ["cpu + 1", "2 * cpu", "cpu / 0", "10 - mem", "cpu % 7", "cpu ^ 2", "-cpu"],
    ),
    case(
        "arith_vector",
        GAUGES,
        ["mem - on(instance) group_left cpu", "cpu * cpu", 'mem / ignoring(mode) cpu{mode="user"}'],
    ),
    case("compare_scalar", GAUGES, ["cpu > 40", "cpu <= 10", "40 < cpu", "cpu == 20", "cpu != 20"]),
    case(
        "compare_bool",
        GAUGES,
        ["cpu > bool 40", "mem >= bool 500", "1 < bool 2", "cpu == bool cpu"],
    ),
    case(
        "compare_vector",
        GAUGES,
        ["cpu > on(instance) mem / 10", "mem > bool on(instance) cpu * 10"],
    ),
    case("set_and", GAUGES, ["cpu and mem", "cpu and on(instance) mem", "mem and cpu > 30"]),
    case(
        "set_or",
        GAUGES,
        ["cpu > 50 or mem", 'cpu{instance="a"} or on(instance) cpu', "cpu > 1000 or vector(0)"],
    ),
    case(
        "set_unless", GAUGES, ["cpu unless cpu > 50", 'mem unless on(instance) cpu{instance="a"}']
    ),
    case(
        "group_left",
        [
            *GAUGES,
            ('info{instance="a",owner="ann"}', "1x15"),
            ('info{instance="b",owner="bob"}', "1x15"),
        ],
        ["cpu * on(instance) group_left(owner) info", "mem + on(instance) group_left(owner) info"],
    ),
    case(
        "group_right",
        [*GAUGES, ('info{instance="a",owner="ann"}', "1x15")],
        ["info * on(instance) group_right(owner) cpu", "info + on(instance) group_right cpu"],
    ),
    case(
        "subquery",
        GAUGES,
        [
            "max_over_time(cpu[5m:1m])",
            "avg_over_time(rate(mem[2m])[5m:])",
            "min_over_time(cpu[3m:30s] offset 1m)",
        ],
    ),
    case(
        "subquery_nested",
        COUNTERS,
        [
            "max_over_time(rate(http_requests_total[2m])[6m:2m])",
            "max_over_time(max(rate(http_requests_total[3m]))[5m:1m])",
        ],
    ),
    case("precedence", GAUGES, ["1 + 2 * 3", "2 ^ 3 ^ 2", "-2 ^ 2", "cpu + mem * 2 > 100"]),
    case(
        "nan_inf",
        [("n", "NaN 1 Inf -Inf 0"), ('m{a="1"}', "1 NaN 3 4 5"), ('m{a="2"}', "Inf 2 3 -Inf 5")],
        ["n", "n * 0", "sum(m)", "max(m)", "min(m)", "avg(m)", "n > 0"],
        ["0m", "1m", "2m", "3m", "4m"],
    ),
    case(
        "rate_sum_by",
        COUNTERS,
        [
            "max by (job) (rate(http_requests_total[5m]))",
            "min without (instance) (increase(http_requests_total[5m]))",
            "count by (job) (rate(http_requests_total[5m]))",
        ],
    ),
    case(
        "error_ratio",
        COUNTERS,
        [
            'sum by (job, instance) (rate(http_requests_total{code="500"}[5m])) / sum by (job, instance) (rate(http_requests_total[5m]))',
            'sum by (job) (increase(http_requests_total{code="500"}[5m])) > 0',
        ],
    ),
    case(
        "math_misc",
        GAUGES,
        ["sqrt(mem)", 'ln(mem{instance="a"})', 'log2(mem{instance="a"})', 'sgn(cpu{instance="c"})'],
    ),
    case(
        "date_functions",
        [("ts", "0 86400 1700000000 951782400")],
        [
            "minute(ts)",
            "hour(ts)",
            "day_of_week(ts)",
            "day_of_month(ts)",
            "month(ts)",
            "year(ts)",
            "days_in_month(ts)",
        ],
        ["0m", "1m", "2m", "3m"],
    ),
]

ALERT_CASES: list[dict[str, Any]] = []


def alert_case(
    name: str,
    rules: str,
    series: list[tuple[str, str]],
    alerts: list[dict[str, Any]],
    exprs: list[str] | None = None,
    times: list[str] | None = None,
    interval: str = "1m",
    evaluation_interval: str = "1m",
    **extra: Any,
) -> None:
    ALERT_CASES.append(
        {
            "name": name,
            "rules": rules,
            "series": series,
            "alerts": alerts,
            "exprs": exprs or [],
            "times": times or [],
            "interval": interval,
            "evaluation_interval": evaluation_interval,
            **extra,
        }
    )


def _alert(t: str, name: str, *exp: tuple[dict[str, str], dict[str, str]]) -> dict[str, Any]:
    return {
        "eval_time": t,
        "alertname": name,
        "exp_alerts": [{"exp_labels": lab, "exp_annotations": ann} for lab, ann in exp],
    }


alert_case(
    "alert_for_pending_firing",
    """groups:
- name: g
  rules:
  - alert: HighCpu
    expr: cpu > 50
    for: 3m
    labels: {severity: warning}
""",
    [
        ('cpu{instance="a"}', "10 60 60 60 60 60 10 10"),
        ('cpu{instance="b"}', "60 60 10 60 60 60 60 60"),
    ],
    [
        _alert("1m", "HighCpu"),
        _alert("3m", "HighCpu"),
        _alert("4m", "HighCpu", ({"instance": "a", "severity": "warning"}, {})),
        _alert("6m", "HighCpu", ({"instance": "b", "severity": "warning"}, {})),
        _alert("7m", "HighCpu", ({"instance": "b", "severity": "warning"}, {})),
    ],
    ["ALERTS", "ALERTS_FOR_STATE"],
    ["2m", "4m", "6m", "7m"],
)
alert_case(
    "alert_no_for",
    """groups:
- name: g
  rules:
  - alert: Down
    expr: up == 0
""",
    [('up{job="x"}', "1 0 0 1 0")],
    [
        _alert("0m", "Down"),
        _alert("1m", "Down", ({"job": "x"}, {})),
        _alert("3m", "Down"),
        _alert("4m", "Down", ({"job": "x"}, {})),
    ],
    ["ALERTS"],
    ["1m", "3m", "4m"],
)
alert_case(
    "alert_keep_firing_for",
    """groups:
- name: g
  rules:
  - alert: Flappy
    expr: err > 0
    keep_firing_for: 2m
""",
    [("err", "1 0 0 0 1 0 1 0 0 0 0")],
    [
        _alert("0m", "Flappy", ({}, {})),
        _alert("1m", "Flappy", ({}, {})),
        _alert("2m", "Flappy", ({}, {})),
        _alert("3m", "Flappy"),
        _alert("5m", "Flappy", ({}, {})),
        _alert("8m", "Flappy", ({}, {})),
        _alert("9m", "Flappy"),
    ],
    ["ALERTS"],
    ["2m", "3m", "9m"],
)
alert_case(
    "alert_keep_firing_with_for",
    """groups:
- name: g
  rules:
  - alert: Slow
    expr: lat > 1
    for: 2m
    keep_firing_for: 1m
""",
    [("lat", "2 2 2 0 0 2 0 2 2 2 0")],
    [
        _alert("1m", "Slow"),
        _alert("2m", "Slow", ({}, {})),
        _alert("3m", "Slow", ({}, {})),
        _alert("4m", "Slow"),
        _alert("5m", "Slow"),
        _alert("9m", "Slow", ({}, {})),
        _alert("10m", "Slow", ({}, {})),
    ],
)
alert_case(
    "alert_templates",
    """groups:
- name: g
  rules:
  - alert: DiskFull
    expr: disk_used_percent > 80
    labels:
      severity: '{{ if gt $value 90.0 }}critical{{ else }}warning{{ end }}'
    annotations:
      summary: 'Disk {{ $labels.mountpoint }} on {{ $labels.instance }} is {{ printf "%.1f" $value }}% full'
      value: '{{ $value }}'
      human: '{{ humanize $value }} {{ 1234567.0 | humanize }} {{ humanize1024 2048.0 }}'
      pct: '{{ humanizePercentage 0.4567 }}'
      dur: '{{ humanizeDuration 93784.0 }} {{ humanizeDuration 0.25 }} {{ humanizeDuration 45.0 }}'
      big: '{{ 1000000.0 }} {{ 123456.0 }} {{ 0.00001 }}'
      upper: '{{ toUpper $labels.instance }} {{ title "hello world" }} {{ reReplaceAll "(a+)" "<$1>" "baaad" }}'
      with: '{{ with $labels.missing }}has{{ else }}none{{ end }}'
""",
    [
        ('disk_used_percent{instance="h1",mountpoint="/"}', "85.25 95.5 50"),
        ('disk_used_percent{instance="h2",mountpoint="/data"}', "10 81 99"),
    ],
    [],
    ["ALERTS"],
    ["0m", "1m", "2m"],
    manual_alerts=True,
)
alert_case(
    "alert_recording_chain",
    """groups:
- name: g
  rules:
  - record: job:requests:rate1m
    expr: sum by (job) (rate(http_requests_total[2m]))
  - record: job:requests:doubled
    expr: job:requests:rate1m * 2
    labels: {kind: derived}
  - alert: TooMany
    expr: job:requests:doubled > 0.3
    for: 1m
""",
    COUNTERS,
    [_alert("1m", "TooMany"), _alert("3m", "TooMany", ({"job": "api", "kind": "derived"}, {}))],
    ["job:requests:rate1m", "job:requests:doubled"],
    ["2m", "5m", "10m"],
)
alert_case(
    "alert_resolution_and_refire",
    """groups:
- name: g
  rules:
  - alert: Q
    expr: queue > 5
    for: 1m
""",
    [
        ('queue{q="a"}', "9 9 9 0 9 9 9 _ _ _ _ _ _ 9"),
        ('queue{q="b"}', "0 9 9 9 9 9 9 9 9 9 9 9 9 9"),
    ],
    [
        _alert("1m", "Q", ({"q": "a"}, {})),
        _alert("3m", "Q", ({"q": "b"}, {})),
        _alert("4m", "Q", ({"q": "b"}, {})),
        _alert("5m", "Q", ({"q": "a"}, {}), ({"q": "b"}, {})),
        _alert("8m", "Q", ({"q": "a"}, {}), ({"q": "b"}, {})),
        _alert("12m", "Q", ({"q": "b"}, {})),
    ],
    ["ALERTS", "ALERTS_FOR_STATE"],
    ["3m", "4m", "12m"],
)
alert_case(
    "alert_eval_interval_30s",
    """groups:
- name: g
  rules:
  - alert: X
    expr: x > 0
    for: 90s
""",
    [("x", "0 1 1 1 1 1 1 1")],
    [
        _alert("1m", "X"),
        _alert("1m30s", "X"),
        _alert("2m", "X", ({}, {})),
        _alert("3m", "X", ({}, {})),
    ],
    interval="30s",
    evaluation_interval="30s",
)
alert_case(
    "alert_external_labels",
    """groups:
- name: g
  rules:
  - alert: E
    expr: up == 0
    annotations:
      where: '{{ $externalLabels.cluster }}/{{ $labels.job }}'
""",
    [('up{job="j"}', "0 0")],
    [_alert("1m", "E", ({"job": "j"}, {"where": "eu1/j"}))],
    external_labels={"cluster": "eu1"},
)
alert_case(
    "record_scalar_and_labels",
    """groups:
- name: g
  rules:
  - record: total_cpu
    expr: sum(cpu)
    labels: {team: infra}
  - record: answer
    expr: vector(42)
  - record: relabeled
    expr: cpu
    labels: {instance: ""}
""",
    [('cpu{instance="a"}', "1 2 3"), ('cpu{mode="x"}', "4 5 6")],
    [],
    ["total_cpu", "answer", "relabeled", "ALERTS"],
    ["0m", "2m"],
)


def _ms(text: str) -> int:
    import promql_parser

    if text.strip("0smh") == "":
        return 0
    return int(promql_parser.parse_duration(text).total_seconds() * 1000)


def _write(path: Path, doc: Any) -> None:
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=200), encoding="utf-8")


def _test_doc(
    c: dict[str, Any], exp: dict[tuple[str, str], list[dict[str, Any]]] | None
) -> dict[str, Any]:
    times = c["times"]
    exprs = [
        {"expr": e, "eval_time": t, "exp_samples": [] if exp is None else exp[(e, _ms(t))]}
        for e in c["exprs"]
        for t in times
        if exp is None or (e, _ms(t)) in exp
    ]
    group: dict[str, Any] = {
        "interval": c.get("interval", "1m"),
        "input_series": [{"series": s, "values": v} for s, v in c["series"]],
    }
    if c.get("external_labels"):
        group["external_labels"] = c["external_labels"]
    if c.get("alerts"):
        group["alert_rule_test"] = c["alerts"]
    if exprs:
        group["promql_expr_test"] = exprs
    doc: dict[str, Any] = {
        "rule_files": [f"{c['name']}.rules.yml"] if c.get("rules") else [],
        "evaluation_interval": c.get("evaluation_interval", "1m"),
        "tests": [group],
    }
    return doc


_GOT = re.compile(
    r'expr: "(?P<expr>(?:[^"\\]|\\.)*)", time: (?P<t>\S+),\n\s+exp: .*\n\s+got: (?P<got>.*)'
)
_SAMPLE = re.compile(r"(\{[^}]*\}) (\S+?)(?:,|$)")


def _oracle(c: dict[str, Any], tmp: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    if c.get("rules"):
        (tmp / f"{c['name']}.rules.yml").write_text(c["rules"])
    probe = _test_doc(c, None)
    for tc in probe["tests"][0].get("promql_expr_test", []):
        tc["exp_samples"] = [{"labels": "never_matches", "value": -12345}]
    probe["tests"][0].pop("alert_rule_test", None)
    f = tmp / "probe.yml"
    _write(f, probe)
    proc = subprocess.run(["promtool", "test", "rules", str(f)], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    exp: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in _GOT.finditer(out):
        expr = m.group("expr").replace('\\"', '"').replace("\\\\", "\\")
        got = m.group("got").strip()
        samples = []
        if got != "nil":
            for sm in _SAMPLE.finditer(got):
                labels, value = sm.group(1), sm.group(2)
                name = ""
                inner = labels[1:-1]
                parts = [p.strip() for p in re.findall(r'\w+="(?:[^"\\]|\\.)*"', inner)]
                rest = [p for p in parts if not p.startswith("__name__=")]
                for p in parts:
                    if p.startswith("__name__="):
                        name = p.split("=", 1)[1].strip('"')
                samples.append(
                    {
                        "labels": f"{name}{{{', '.join(rest)}}}",
                        "value": float(value) if value not in ("NaN",) else value,
                    }
                )
        if any(smp["value"] == "NaN" for smp in samples):
            continue  # promtool can never match NaN: not a valid case
        exp[(expr, _ms(m.group("t")))] = samples
    return exp


def main() -> int:
    for old in HERE.glob("*.yml"):
        old.unlink()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for c in CASES + ALERT_CASES:
            exp = _oracle(c, tmp) if c["exprs"] else {}
            doc = _test_doc(c, exp)
            if c.get("manual_alerts"):
                doc["tests"][0]["alert_rule_test"] = MANUAL[c["name"]]
            if c.get("rules"):
                (HERE / f"{c['name']}.rules.yml").write_text(c["rules"])
            _write(HERE / f"{c['name']}.test.yml", doc)
    print(f"wrote {len(CASES) + len(ALERT_CASES)} test files", file=sys.stderr)
    return 0


MANUAL: dict[str, list[dict[str, Any]]] = {
    "alert_templates": [
        {
            "eval_time": "0m",
            "alertname": "DiskFull",
            "exp_alerts": [
                {
                    "exp_labels": {"instance": "h1", "mountpoint": "/", "severity": "warning"},
                    "exp_annotations": {
                        "summary": "Disk / on h1 is 85.2% full",
                        "value": "85.25",
                        "human": "85.25 1.235M 2ki",
                        "pct": "45.67%",
                        "dur": "1d 2h 3m 4s 250ms 45s",
                        "big": "1e+06 123456 1e-05",
                        "upper": "H1 Hello World b<aaa>d",
                        "with": "none",
                    },
                }
            ],
        },
    ],
}

if __name__ == "__main__":
    sys.exit(main())
