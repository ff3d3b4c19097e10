# ruff: noqa: E501
"""Benchmark: one evaluation cycle of the default rule pack + 100 generated rules.

Data: ~10,000 active series (100 hosts: host gauges per CPU/disk/interface,
process counts, HTTP request counters and latency histograms), 1 h of 10 s
points with jittered timestamps and noisy values, fixed seed. Prints
``eval_ms`` (p50 over cycles), ``series`` and ``rules`` as JSON on its last
line, plus how many alerts were active, so the figure can be judged.

Two data/rule shapes:

- default, *realistic*: levels drawn from skewed distributions (most hosts
  idle, a few hot), thresholds where operators put them (CPU > 85-95 %,
  processes < 1, error ratio > 5 %), so alerts fire for a small fraction of
  series (~1-2 %), as on a healthy fleet.
- ``--worst-case``: every gauge level uniform in 5-95 and thresholds uniform
  in 10-99, so about half of all matched series alert (~7,000 firing alerts
  per cycle): an alert storm, to bound the per-alert cost.

    python bench/rules.py [--quick] [--store tsdb|memory] [--worst-case]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from watchkeeper.config.rules import RulesConfig
from watchkeeper.model import Labels, Sample
from watchkeeper.query.memory import MemoryStore
from watchkeeper.rules.alerting import AlertingRule, AlertState
from watchkeeper.rules.group import RuleGroupRunner
from watchkeeper.rules.loader import parse_rule_text
from watchkeeper.rules.setup import load_rule_groups
from watchkeeper.store.base import Store

STEP_MS = 10_000
LE = ("0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf")
CORES = 8.0


def series_catalog(hosts: int) -> list[tuple[str, dict[str, str], str]]:
    """(name, labels, kind) for ~91 series per host."""
    out: list[tuple[str, dict[str, str], str]] = []
    for h in range(hosts):
        inst = f"host{h:03d}"
        base = {"instance": inst}
        for name, kind in (("host_cpu_usage_percent", "cpu"), ("host_memory_usage_percent", "mem"),
                           ("host_swap_usage_percent", "swap"), ("host_load1", "load"),
                           ("host_load5", "load"), ("host_load15", "load")):  # fmt: skip
            out.append((name, base, kind))
        out.append(("host_cpu_cores", {**base, "type": "logical"}, "const"))
        out.append(("watchkeeper_collector_up", {**base, "collector": "host"}, "up"))
        for d in range(4):
            dl = {**base, "device": f"sd{d}", "mountpoint": f"/m{d}", "fstype": "ext4"}
            out.append(("host_disk_usage_percent", dl, "disk"))
            out.append(("host_disk_free_bytes", dl, "bytes"))
        for i in range(4):
            il = {**base, "interface": f"eth{i}"}
            out.append(("host_network_receive_bytes_total", il, "net"))
            out.append(("host_network_transmit_bytes_total", il, "net"))
        for c in ("200", "404", "500"):
            for j in ("api", "web"):
                out.append(("http_requests_total", {**base, "job": j, "code": c}, f"http{c}"))
        for j in ("api", "web"):
            for le in LE:
                out.append(
                    ("http_request_duration_seconds_bucket", {**base, "job": j, "le": le}, "bucket")
                )
        for s in ("established", "time_wait", "close_wait"):
            out.append(("host_tcp_connections", {**base, "state": s}, "tcp"))
        for p in range(40):
            out.append(("host_process_instances", {**base, "name": f"proc{p}"}, "procs"))
    return out


def _realistic_model(
    catalog: list[tuple[str, dict[str, str], str]], points: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per series: start level, per-point drift, noise sd (counters: per-second rate)."""
    n = len(catalog)
    kinds = [k for _, _, k in catalog]
    hosts = sorted({lab["instance"] for _, lab, _ in catalog})
    host_of = np.array([hosts.index(lab["instance"]) for _, lab, _ in catalog])
    # A few hosts are busy, have a disk filling up or serve errors: what fires.
    hot = rng.random(len(hosts)) < 0.03
    level = np.zeros(n)
    drift = np.zeros(n)
    sd = np.zeros(n)
    for i, kind in enumerate(kinds):
        h = host_of[i]
        if kind == "cpu":
            level[i] = 93 + rng.uniform(0, 4) if hot[h] else rng.beta(2, 6) * 100
            sd[i] = 3
        elif kind == "mem":
            level[i], sd[i] = rng.beta(6, 4) * 90, 1
        elif kind == "swap":
            level[i], sd[i] = rng.beta(1, 12) * 100, 0.5
        elif kind == "disk":
            level[i], sd[i] = rng.beta(3, 4) * 100, 0.2
        elif kind == "load":
            level[i] = CORES * (2.4 if hot[h] else rng.beta(2, 6) * 1.2)
            sd[i] = 0.3
        elif kind == "bytes":
            # Most disks fill over weeks; on hot hosts some within the hour.
            level[i] = rng.uniform(5e10, 5e11)
            fast = hot[h] and rng.random() < 0.5
            drift[i] = -(level[i] / (points * 1.5)) if fast else -rng.uniform(1e4, 1e6)
            sd[i] = 1e5
        elif kind == "net":
            level[i] = rng.uniform(0, 1e12)
            drift[i] = rng.lognormal(11, 1)  # bytes per second, ~60 kB/s median
        elif kind.startswith("http"):
            reqs = rng.uniform(5, 50)
            share = {"http200": 0.97, "http404": 0.025, "http500": 0.005}[kind]
            if hot[h] and kind == "http500":
                share = 0.2
            level[i] = rng.uniform(0, 1e6)
            drift[i] = reqs * share
        elif kind == "tcp":
            level[i], sd[i] = rng.lognormal(4, 1), 3
        elif kind == "procs":
            level[i] = 0.0 if rng.random() < 0.003 else float(rng.integers(1, 5))
    return level, drift, sd


def fill(
    store: Store,
    catalog: list[tuple[str, dict[str, str], str]],
    now_ms: int,
    points: int,
    *,
    worst_case: bool = False,
) -> int:
    rng = np.random.default_rng(42)
    if worst_case:
        return _fill_uniform(store, catalog, now_ms, points, rng)
    n = len(catalog)
    labels = [Labels(lab) for _, lab, _ in catalog]
    kinds = np.array([k for _, _, k in catalog])
    start = now_ms - (points - 1) * STEP_MS
    level, drift, sd = _realistic_model(catalog, points, rng)
    percent = np.isin(kinds, ("cpu", "mem", "swap", "disk"))
    counter = np.char.startswith(kinds, "http") | (kinds == "net")
    # Latency histograms: cumulative share of requests under each bound,
    # from a per-(host, job) log-normal latency, applied to that job's 200s.
    bucket_idx = np.flatnonzero(kinds == "bucket")
    bounds = np.array([float(catalog[i][1]["le"]) for i in bucket_idx])
    medians = np.repeat(rng.lognormal(np.log(0.12), 0.6, len(bucket_idx) // len(LE)), len(LE))
    from math import erf, log, sqrt

    cdf = np.array([1.0 if np.isinf(b) else 0.5 * (1 + erf(log(b / m) / (0.8 * sqrt(2))))
                    for b, m in zip(bounds, medians, strict=True)])  # fmt: skip
    req_rate = np.repeat(rng.uniform(5, 50, len(bucket_idx) // len(LE)), len(LE))
    requests = np.zeros(len(bucket_idx))
    total = 0
    for p in range(points):
        ts = start + p * STEP_MS + rng.integers(-300, 300, n)
        noise = rng.normal(0, 1, n) * sd
        values = np.where(counter, 0.0, level + drift * p + noise)
        values = np.where(percent, np.clip(np.round(values, 2), 0, 100), values)
        level = np.where(counter, level + drift * 10 * rng.uniform(0.8, 1.2, n), level)
        values = np.where(counter, np.floor(level), values)
        values = np.where(kinds == "load", np.maximum(values, 0), values)
        values = np.where(kinds == "tcp", np.maximum(np.round(values), 0), values)
        values = np.where(kinds == "up", 1.0, values)
        values = np.where(kinds == "const", CORES, values)
        requests += req_rate * 10 * rng.uniform(0.8, 1.2, len(bucket_idx))
        values[bucket_idx] = np.floor(requests * cdf)
        batch = [Sample(name, labels[i], int(ts[i]), float(values[i]))
                 for i, (name, _, _) in enumerate(catalog)]  # fmt: skip
        total += store.append(batch)
    return total


def _fill_uniform(
    store: Store,
    catalog: list[tuple[str, dict[str, str], str]],
    now_ms: int,
    points: int,
    rng: np.random.Generator,
) -> int:
    """The alert-storm data: every gauge level uniform in 5-95."""
    n = len(catalog)
    labels = [Labels(lab) for _, lab, _ in catalog]
    start = now_ms - (points - 1) * STEP_MS
    level = rng.uniform(5, 95, n)
    counters = rng.uniform(0, 1e6, n)
    total = 0
    for p in range(points):
        ts = start + p * STEP_MS
        jitter = rng.integers(-300, 300, n)
        noise = rng.normal(0, 2, n)
        counters += rng.uniform(0, 50, n)
        batch = []
        for i, (name, _, kind) in enumerate(catalog):
            if kind == "bytes":
                v = float(1e11 - p * 1e6 + noise[i] * 1e5)
            elif kind.startswith("http") or kind in ("net", "bucket"):
                v = float(int(counters[i]))
            elif kind == "up":
                v = 1.0
            elif kind == "const":
                v = 8.0
            else:
                v = round(float(level[i] + noise[i]), 2)
            batch.append(Sample(name, labels[i], int(ts + jitter[i]), v))
        total += store.append(batch)
    return total


#: (kind, expression, realistic threshold range, alert-storm threshold range)
TEMPLATES: list[tuple[str, str, tuple[int, int], tuple[int, int]]] = [
    ("alert", "host_cpu_usage_percent > {t}", (85, 96), (10, 99)),
    ("alert", "avg by (instance) (host_disk_usage_percent) > {t}", (80, 96), (10, 99)),
    ("alert", "rate(host_network_receive_bytes_total[{w}]) > {t}e4", (40, 90), (1, 9)),
    ("record", "sum by (instance, job) (rate(http_requests_total[{w}]))", (0, 1), (0, 1)),
    (
        "alert",
        'sum by (instance) (rate(http_requests_total{{code="500"}}[{w}])) / sum by (instance) (rate(http_requests_total[{w}])) > 0.0{t}',
        (3, 9),
        (10, 99),
    ),
    (
        "record",
        "histogram_quantile(0.95, sum by (instance, le) (rate(http_request_duration_seconds_bucket[{w}])))",
        (0, 1),
        (0, 1),
    ),
    ("alert", "max_over_time(host_load5[{w}]) > {t}", (14, 20), (10, 99)),
    ("alert", "predict_linear(host_disk_free_bytes[{w2}], 3600) < {t}e8", (1, 9), (10, 99)),
    ("record", "avg_over_time(host_memory_usage_percent[{w}])", (0, 1), (0, 1)),
    (
        "alert",
        "host_process_instances < {t} and on(instance) watchkeeper_collector_up == 1",
        (1, 2),
        (10, 99),
    ),
]


def generated_rules(count: int, *, worst_case: bool = False) -> str:
    rng = np.random.default_rng(7)
    lines = ["groups:", "  - name: generated", "    rules:"]
    for i in range(count):
        kind, expr, real, storm = TEMPLATES[i % len(TEMPLATES)]
        lo, hi = storm if worst_case else real
        t = int(rng.integers(lo, hi))
        if worst_case and "0.0{t}" in expr:
            expr = expr.replace("0.0{t}", "0.{t}")
        # Windows vary as in real rule files; equal expressions with
        # different thresholds (warning/critical pairs) stay common.
        w = ("2m", "5m", "10m", "15m")[int(rng.integers(0, 4))]
        w2 = ("30m", "1h")[int(rng.integers(0, 2))]
        expr = expr.format(t=t, w=w, w2=w2)
        if kind == "alert":
            lines += [f"      - alert: Generated{i}", f"        expr: '{expr}'", "        for: 5m",
                      "        labels: {severity: warning}",
                      "        annotations: {summary: 'value {{ $value | humanize }} on {{ $labels.instance }}'}"]  # fmt: skip
        else:
            lines += [f"      - record: generated:rule{i}", f"        expr: '{expr}'"]
    return "\n".join(lines) + "\n"


def settle(store: Store) -> None:
    """Bring the TSDB store to the state the load would leave it in over an hour.

    Loading 1 h of data in seconds makes the background thread cut the head
    and compact the block rows right after the load, which would otherwise
    compete for the GIL with the timed cycles. Cut as that thread would
    (everything older than the newest sample minus the out-of-order window,
    so the last ~5 min stay in the head and the rest is in block rows, the
    state just after a cut in production), waiting for any round in flight,
    then merge what the cut produced.
    """
    cut = getattr(store, "cut", None)
    if cut is not None:
        cut()
        store.compact(full=False)  # type: ignore[attr-defined]


def alert_counts(groups: list[RuleGroupRunner]) -> tuple[int, int]:
    firing = pending = 0
    for g in groups:
        for r in g.rules:
            if isinstance(r, AlertingRule):
                for a in r.active.values():
                    firing += a.state is AlertState.FIRING
                    pending += a.state is AlertState.PENDING
    return firing, pending


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--quick", action="store_true",
        help="1 warm-up + up to 3 timed cycles, stopping after ~30 s of cycles (same data)",
    )  # fmt: skip
    ap.add_argument("--store", choices=["tsdb", "memory"], default="tsdb")
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument(
        "--worst-case", action="store_true", help="alert storm: ~half of all series alert"
    )
    args = ap.parse_args()
    points = 360
    warmup, cycles = (1, 3) if args.quick else (3, 15)
    catalog = series_catalog(args.hosts)
    now = 1_800_000_000_000
    with tempfile.TemporaryDirectory() as tmp:
        if args.store == "tsdb":
            from watchkeeper.store import open_store

            store: Store = open_store(Path(tmp) / "bench.db")
        else:
            store = MemoryStore()
        t0 = time.perf_counter()
        samples = fill(store, catalog, now, points, worst_case=args.worst_case)
        fill_s = time.perf_counter() - t0
        settle(store)
        rules_file = Path(tmp) / "generated.yml"
        text = generated_rules(100, worst_case=args.worst_case)
        assert not parse_rule_text(text).errors, parse_rule_text(text).errors
        rules_file.write_text(text)
        groups = load_rule_groups(RulesConfig(rule_files=[str(rules_file)]), store, restore=False)
        n_rules = sum(len(g.rules) for g in groups)
        times: list[float] = []
        failures = 0
        loop_started = time.perf_counter()
        for c in range(warmup + cycles):
            if args.quick and times and time.perf_counter() - loop_started > 30:
                break  # a slow store: keep --quick under a minute
            at = now + c * 15_000
            t = time.perf_counter()
            for g in groups:
                out = g.evaluate(at)
                store.append([s for s in out if s.value == s.value])
            if c >= warmup:
                times.append((time.perf_counter() - t) * 1000)
            failures = sum(1 for g in groups for r in g.rules if r.last_error)
        firing, pending = alert_counts(groups)
        store.close()
    result = {
        "eval_ms": round(statistics.median(times), 1),
        "eval_ms_min": round(min(times), 1),
        "eval_ms_max": round(max(times), 1),
        "cycles": len(times),
        "series": len(catalog),
        "rules": n_rules,
        "alerts_firing": firing,
        "alerts_pending": pending,
        "samples_loaded": samples,
        "fill_s": round(fill_s, 1),
        "failed_rules": failures,
        "store": args.store,
        "data": "worst-case" if args.worst_case else "realistic",
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
