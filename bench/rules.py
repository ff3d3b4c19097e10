# ruff: noqa: E501
"""Benchmark: one evaluation cycle of the default rule pack + 100 generated rules.

Data: 10,000 active series (100 hosts: host gauges per CPU/disk/interface,
HTTP counters and latency histograms), 1 h of 10 s points with jittered
timestamps and noisy values, fixed seed. Prints ``eval_ms`` (p50 over cycles),
``series`` and ``rules`` as JSON on its last line.

    python bench/rules.py [--quick] [--store tsdb|memory]
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
from watchkeeper.rules.loader import parse_rule_text
from watchkeeper.rules.setup import load_rule_groups
from watchkeeper.store.base import Store

STEP_MS = 10_000


def series_catalog(hosts: int) -> list[tuple[str, dict[str, str], str]]:
    """(name, labels, kind) for ~100 series per host."""
    out: list[tuple[str, dict[str, str], str]] = []
    for h in range(hosts):
        inst = f"host{h:03d}"
        base = {"instance": inst}
        for name in ("host_cpu_usage_percent", "host_memory_usage_percent", "host_swap_usage_percent",
                     "host_load1", "host_load5", "host_load15"):  # fmt: skip
            out.append((name, base, "gauge"))
        out.append(("host_cpu_cores", {**base, "type": "logical"}, "const"))
        out.append(("watchkeeper_collector_up", {**base, "collector": "host"}, "up"))
        for d in range(4):
            dl = {**base, "device": f"sd{d}", "mountpoint": f"/m{d}", "fstype": "ext4"}
            out.append(("host_disk_usage_percent", dl, "gauge"))
            out.append(("host_disk_free_bytes", dl, "bytes"))
        for i in range(4):
            il = {**base, "interface": f"eth{i}"}
            out.append(("host_network_receive_bytes_total", il, "counter"))
            out.append(("host_network_transmit_bytes_total", il, "counter"))
        for c in ("200", "404", "500"):
            for j in ("api", "web"):
                out.append(("http_requests_total", {**base, "job": j, "code": c}, "counter"))
        for j in ("api", "web"):
            for le in ("0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"):
                out.append(
                    ("http_request_duration_seconds_bucket", {**base, "job": j, "le": le}, "bucket")
                )
        for s in ("established", "time_wait", "close_wait"):
            out.append(("host_tcp_connections", {**base, "state": s}, "gauge"))
        for p in range(40):
            out.append(("host_process_instances", {**base, "name": f"proc{p}"}, "gauge"))
    return out


def fill(
    store: Store, catalog: list[tuple[str, dict[str, str], str]], now_ms: int, points: int
) -> int:
    rng = np.random.default_rng(42)
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
            if kind == "gauge":
                v = round(float(level[i] + noise[i]), 2)
            elif kind == "bytes":
                v = float(1e11 - p * 1e6 + noise[i] * 1e5)
            elif kind in ("counter", "bucket"):
                v = float(int(counters[i]))
            elif kind == "up":
                v = 1.0
            else:
                v = 8.0
            batch.append(Sample(name, labels[i], int(ts + jitter[i]), v))
        total += store.append(batch)
    return total


def generated_rules(count: int) -> str:
    rng = np.random.default_rng(7)
    lines = ["groups:", "  - name: generated", "    rules:"]
    templates = [
        ("alert", "host_cpu_usage_percent > {t}"),
        ("alert", "avg by (instance) (host_disk_usage_percent) > {t}"),
        ("alert", "rate(host_network_receive_bytes_total[5m]) > {t}"),
        ("record", "sum by (instance, job) (rate(http_requests_total[5m]))"),
        (
            "alert",
            'sum by (instance) (rate(http_requests_total{{code="500"}}[5m])) / sum by (instance) (rate(http_requests_total[5m])) > 0.{t}',
        ),
        (
            "record",
            "histogram_quantile(0.95, sum by (instance, le) (rate(http_request_duration_seconds_bucket[5m])))",
        ),
        ("alert", "max_over_time(host_load5[10m]) > {t}"),
        ("alert", "predict_linear(host_disk_free_bytes[30m], 3600) < {t}"),
        ("record", "avg_over_time(host_memory_usage_percent[5m])"),
        ("alert", "host_process_instances < {t} and on(instance) watchkeeper_collector_up == 1"),
    ]
    for i in range(count):
        kind, expr = templates[i % len(templates)]
        expr = expr.format(t=int(rng.integers(10, 99)))
        if kind == "alert":
            lines += [f"      - alert: Generated{i}", f"        expr: '{expr}'", "        for: 5m",
                      "        labels: {severity: warning}",
                      "        annotations: {summary: 'value {{ $value | humanize }} on {{ $labels.instance }}'}"]  # fmt: skip
        else:
            lines += [f"      - record: generated:rule{i}", f"        expr: '{expr}'"]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--store", choices=["tsdb", "memory"], default="tsdb")
    ap.add_argument("--hosts", type=int, default=100)
    args = ap.parse_args()
    points = 360
    cycles = 5 if args.quick else 15
    catalog = series_catalog(args.hosts)
    now = 1_800_000_000_000
    with tempfile.TemporaryDirectory() as tmp:
        if args.store == "tsdb":
            from watchkeeper.store import open_store

            store: Store = open_store(Path(tmp) / "bench.db")
        else:
            store = MemoryStore()
        t0 = time.perf_counter()
        samples = fill(store, catalog, now, points)
        fill_s = time.perf_counter() - t0
        rules_file = Path(tmp) / "generated.yml"
        text = generated_rules(100)
        assert not parse_rule_text(text).errors, parse_rule_text(text).errors
        rules_file.write_text(text)
        groups = load_rule_groups(RulesConfig(rule_files=[str(rules_file)]), store, restore=False)
        n_rules = sum(len(g.rules) for g in groups)
        times = []
        failures = 0
        for c in range(cycles):
            at = now + c * 15_000
            t = time.perf_counter()
            for g in groups:
                out = g.evaluate(at)
                store.append([s for s in out if s.value == s.value])
            times.append((time.perf_counter() - t) * 1000)
            failures = sum(1 for g in groups for r in g.rules if r.last_error)
        store.close()
    result = {
        "eval_ms": round(statistics.median(times), 1),
        "eval_ms_min": round(min(times), 1),
        "eval_ms_max": round(max(times), 1),
        "series": len(catalog),
        "rules": n_rules,
        "samples_loaded": samples,
        "fill_s": round(fill_s, 1),
        "failed_rules": failures,
        "store": args.store,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
