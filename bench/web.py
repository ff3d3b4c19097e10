"""Web API latency over HTTP against a real ``watchkeeper run``, with Prometheus 2.42 beside it.

What it measures (each against the same generated data, on loopback):

- ``query_range`` of 1 series over 24 h at a 10 s step (8,640 points): p50, p99;
- ``query_range`` of 1 series over 30 days at a 1 h step: p50;
- ``/api/v1/series`` selecting 17 of 200 series, and ``/api/v1/labels``: p50;
- live latency: a sample written by the run loop's writer -> its SSE event read
  by a client (``live_latency_*``), and from the sample's own timestamp
  (collection time, so including the writer's flush interval) -> the client
  (``live_from_sample_*``).

The data: noisy gauges (mean-reverting random walks with decimals, jittered
timestamps) from a fixed seed, written through the store API into the file a
``watchkeeper run`` subprocess then serves (its own collectors keep writing,
which feeds the live stream). The same samples go to Prometheus through
``promtool tsdb create-blocks-from openmetrics``; Prometheus is started on
loopback over those blocks and asked the same queries in the same run.

Usage: ``python bench/web.py [--quick]``; the last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from watchkeeper.model import Labels, Sample

SEED = 20261123
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
SHORT = "bench_cpu_percent"  # 24 h at 10 s
LONG = "bench_load_percent"  # 30 days at 60 s
MANY = "bench_requests_inflight"  # 200 series, 1 h at 10 s
SHORT_SEL = f'{SHORT}{{instance="web-1"}}'
LONG_SEL = f'{LONG}{{instance="web-1"}}'
SERIES_SEL = f'{MANY}{{group="g00"}}'  # 17 of the 200
#: Raw samples kept 40 days: the 30-day series must survive the run's retention.
RETENTION_MS = {0: 40 * DAY_MS, 60_000: 90 * DAY_MS, 3_600_000: 730 * DAY_MS}


# -- data --------------------------------------------------------------------------------------


def _walk(rng: np.random.Generator, n: int, mean: float, scale: float, lo: float, hi: float) -> Any:
    """A mean-reverting random walk (AR(1)) with two decimals: wanders like a real gauge."""
    x = np.empty(n)
    x[0] = mean
    noise = rng.normal(0, scale, n)
    for i in range(1, n):
        x[i] = mean + 0.97 * (x[i - 1] - mean) + noise[i]
    return np.round(np.clip(x, lo, hi), 2)


def _stamps(rng: np.random.Generator, end_ms: int, n: int, step_ms: int) -> Any:
    # Scrape jitter: 0-400 ms late, as real collection is.
    return end_ms - np.arange(n)[::-1] * step_ms + rng.integers(0, 400, n)


def generate(end_ms: int) -> list[tuple[str, dict[str, str], Any, Any]]:
    """(name, labels, timestamps, values) for every series; same seed, same data."""
    rng = np.random.default_rng(SEED)
    out = []
    web1 = {"instance": "web-1"}
    n = DAY_MS // 10_000
    out.append((SHORT, web1, _stamps(rng, end_ms, n, 10_000), _walk(rng, n, 35, 2.5, 0, 100)))
    n = 30 * DAY_MS // 60_000
    out.append((LONG, web1, _stamps(rng, end_ms, n, 60_000), _walk(rng, n, 55, 1.5, 0, 100)))
    n = HOUR_MS // 10_000
    for i in range(200):
        group = "g00" if i < 17 else f"g{1 + (i - 17) % 9:02d}"
        labels = {"instance": f"i-{i:03d}", "group": group, "job": "api"}
        out.append((MANY, labels, _stamps(rng, end_ms, n, 10_000), _walk(rng, n, 20, 1.0, 0, 200)))
    return out


def write_store(path: Path, data: list[tuple[str, dict[str, str], Any, Any]]) -> int:
    from watchkeeper.store import open_store

    store = open_store(path, retention_ms=RETENTION_MS)
    total = 0
    try:
        batch: list[Sample] = []
        for name, labels, ts, vs in data:
            lab = Labels(labels)
            for t, v in zip(ts.tolist(), vs.tolist(), strict=True):
                batch.append(Sample(name, lab, t, v))
            if len(batch) >= 20_000:
                store.append(batch)
                total += len(batch)
                batch = []
        if batch:
            store.append(batch)
            total += len(batch)
    finally:
        store.close()
    return total


def write_openmetrics(path: Path, data: list[tuple[str, dict[str, str], Any, Any]]) -> None:
    """The same samples in OpenMetrics text for ``promtool tsdb create-blocks-from``."""
    with path.open("w") as f:
        for name in dict.fromkeys(d[0] for d in data):
            f.write(f"# TYPE {name} gauge\n")
            for n, labels, ts, vs in data:
                if n != name:
                    continue
                lab = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                prefix = f"{name}{{{lab}}} "
                f.writelines(
                    f"{prefix}{v!r} {t / 1000:.3f}\n"
                    for t, v in zip(ts.tolist(), vs.tolist(), strict=True)
                )
        f.write("# EOF\n")


# -- the two servers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer at {url}")


def start_watchkeeper(workdir: Path, store: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """``watchkeeper run`` over ``store`` with a viewer token; returns (process, url, token)."""
    from watchkeeper.web.authdb import AuthDB

    db = AuthDB(store.parent / "web.db")
    db.add_user("bench", "bench-password-123", "viewer")
    token = db.create_token("bench", "bench")
    db.close()
    port = free_port()
    config = workdir / "watchkeeper.yml"
    config.write_text(
        json.dumps(  # YAML is a superset of JSON
            {
                "storage": {"path": str(store), "retention": "40d"},
                "web": {"port": port},
                "log": {"level": "warning"},
            }
        )
    )
    exe = Path(sys.executable).parent / "watchkeeper"
    proc = subprocess.Popen(
        [str(exe), "run", "--config", str(config), "--interval", "1"],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "watchkeeper.log").open("wb"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/readyz", proc, "watchkeeper run")
    return proc, url, token


def start_prometheus(
    workdir: Path, data: list[tuple[str, dict[str, str], Any, Any]]
) -> tuple[subprocess.Popen[bytes], str, int] | None:
    """Prometheus 2.42 over the same samples (backfilled blocks); None when not installed."""
    prom, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if prom is None or promtool is None:
        return None
    om = workdir / "bench.om"
    write_openmetrics(om, data)
    tsdb = workdir / "prometheus"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(om), str(tsdb)],
        check=True,
        capture_output=True,
    )
    blocks = sum(1 for p in tsdb.iterdir() if p.is_dir())
    cfg = workdir / "prometheus.yml"
    cfg.write_text("global: {}\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            prom,
            f"--config.file={cfg}",
            f"--storage.tsdb.path={tsdb}",
            "--storage.tsdb.retention.time=60d",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "prometheus.log").open("wb"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/-/ready", proc, "prometheus")
    return proc, url, blocks


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# -- measurements --------------------------------------------------------------------------------


def pct(xs: list[float], q: float) -> float:
    ys = sorted(xs)
    return round(ys[min(len(ys) - 1, int(q * len(ys)))], 2)


def timed(
    client: httpx.Client, path: str, params: dict[str, str], n: int
) -> tuple[list[float], Any]:
    """``n`` sequential GETs on one keep-alive connection (as Grafana does): ms each."""
    out = []
    body: Any = None
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path, params=params)
        body = r.content
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{path} answered {r.status_code}: {r.text[:300]}")
    return out, json.loads(body)


def query_suite(url: str, headers: dict[str, str], end_s: float, n: int) -> dict[str, Any]:
    day = 86400
    cases = {
        "query_range_24h": (
            "/api/v1/query_range",
            {
                "query": SHORT_SEL,
                "start": f"{end_s - day:.3f}",
                "end": f"{end_s:.3f}",
                "step": "10",
            },
            n,
        ),
        "query_range_30d_1h": (
            "/api/v1/query_range",
            {
                "query": LONG_SEL,
                "start": f"{end_s - 30 * day:.3f}",
                "end": f"{end_s:.3f}",
                "step": "3600",
            },
            n,
        ),
        "series": ("/api/v1/series", {"match[]": SERIES_SEL}, 2 * n),
        "labels": ("/api/v1/labels", {}, 2 * n),
    }
    out: dict[str, Any] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for name, (path, params, count) in cases.items():
            timed(client, path, params, 3)  # warm up: connection, caches
            times, body = timed(client, path, params, count)
            out[name] = {"times": times, "body": body}
    return out


def live_latency(
    url: str, headers: dict[str, str], seconds: float
) -> tuple[list[float], list[float]]:
    """Read the SSE stream for ``seconds``: (written -> received, sample time -> received) in ms."""
    names = "host_cpu_usage_percent,host_load1,watchkeeper_samples_written_total"
    written: list[float] = []
    sampled: list[float] = []
    deadline = time.monotonic() + seconds
    with (
        httpx.Client(base_url=url, headers=headers, timeout=30) as client,
        client.stream("GET", "/api/wk/v1/live", params={"metrics": names}) as stream,
    ):
        event = ""
        for line in stream.iter_lines():
            now = time.time() * 1000
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "samples":
                msg = json.loads(line[6:])
                written.append(now - msg["w"])
                newest = max(row[1] for rows in msg["s"].values() for row in rows)
                sampled.append(now - newest)
            if time.monotonic() > deadline:
                break
    return written, sampled


def agree(a: Any, b: Any) -> bool:
    """Same points (timestamps and value text) in both matrices."""
    ra, rb = a["data"]["result"], b["data"]["result"]
    return len(ra) == len(rb) and all(
        x["values"] == y["values"] for x, y in zip(ra, rb, strict=True)
    )


def wait_compacted(url: str, timeout: float = 240) -> int:
    """Wait for Prometheus to compact the backfilled 2 h blocks (its loop starts after ~1 min).

    Measuring over 361 small blocks, with a compaction about to start, would
    be unfair to Prometheus; a real Prometheus holding 30 days has compacted them.
    """
    deadline = time.monotonic() + timeout
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        text = httpx.get(f"{url}/metrics", timeout=5).text
        blocks = int(float(_metric(text, "prometheus_tsdb_blocks_loaded")))
        compactions = float(_metric(text, "prometheus_tsdb_compactions_total"))
        if blocks != last:
            last, stable_since = blocks, time.monotonic()
        elif compactions > 0 and time.monotonic() - stable_since > 6:
            return blocks
        time.sleep(1)
    return last


def _metric(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return line.split()[1]
    raise RuntimeError(f"{name} not in Prometheus's /metrics")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer requests, no Prometheus (its backfill and compaction take minutes)",
    )
    args = parser.parse_args()
    n = 40 if args.quick else 300
    live_s = 8.0 if args.quick else 60.0
    started = time.monotonic()
    result: dict[str, Any] = {"quick": args.quick}
    phases: dict[str, float] = {}

    def phase(name: str, t0: float) -> float:
        now = time.monotonic()
        phases[name] = round(now - t0, 1)
        return now

    theirs = None
    with tempfile.TemporaryDirectory(prefix="wk-bench-web-") as tmp:
        work = Path(tmp)
        end_ms = int(time.time() * 1000) - 60_000
        end_s = end_ms / 1000
        t = time.monotonic()
        data = generate(end_ms)
        result["samples"] = write_store(work / "watchkeeper.db", data)
        t = phase("write_store", t)
        wk, wk_url, token = start_watchkeeper(work, work / "watchkeeper.db")
        t = phase("start_watchkeeper", t)
        prom = None
        try:
            headers = {"Authorization": f"Bearer {token}"}
            ours = query_suite(wk_url, headers, end_s, n)
            t = phase("queries_watchkeeper", t)
            written, sampled = live_latency(wk_url, headers, live_s)
            t = phase("live", t)
            stop(wk)
            if not args.quick:
                prom = start_prometheus(work, data)
                t = phase("start_prometheus", t)
                if prom is not None:
                    result["prometheus_blocks_backfilled"] = prom[2]
                    result["prometheus_blocks"] = wait_compacted(prom[1])
                    t = phase("prometheus_compaction", t)
                    theirs = query_suite(prom[1], {}, end_s, n)
                    t = phase("queries_prometheus", t)
        finally:
            stop(wk)
            if prom:
                stop(prom[0])
    for name, got in ours.items():
        result[f"{name}_p50_ms"] = pct(got["times"], 0.5)
        result[f"{name}_p99_ms"] = pct(got["times"], 0.99)
    points = ours["query_range_24h"]["body"]["data"]["result"][0]["values"]
    result["query_range_24h_points"] = len(points)
    result["series_found"] = len(ours["series"]["body"]["data"])
    result["live_latency_p50_ms"] = pct(written, 0.5)
    result["live_latency_p99_ms"] = pct(written, 0.99)
    result["live_from_sample_p50_ms"] = pct(sampled, 0.5)
    result["live_events"] = len(written)
    if theirs is not None:
        for name, got in theirs.items():
            result[f"prometheus_{name}_p50_ms"] = pct(got["times"], 0.5)
            result[f"prometheus_{name}_p99_ms"] = pct(got["times"], 0.99)
        for name in ("query_range_24h", "query_range_30d_1h"):
            result[f"{name}_agrees_with_prometheus"] = agree(
                ours[name]["body"], theirs[name]["body"]
            )
        result["series_agree_with_prometheus"] = sorted(
            map(json.dumps, ours["series"]["body"]["data"])
        ) == sorted(map(json.dumps, theirs["series"]["body"]["data"]))
    else:
        result["prometheus"] = (
            "not measured in this run (--quick, or not installed): see the anchors, "
            "query_range 24h p50 13.0 / p99 19.3 ms, 30d@1h 2.7 ms, series 0.96 ms, labels 0.68 ms"
        )
    result["phases_s"] = phases
    result["bench_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
