"""Web API latency over HTTP against a real ``watchkeeper run``, with Prometheus 2.42 beside it.

What it measures (each against the same generated data, on loopback):

- ``query_range`` of 1 series over 24 h at a 10 s step (8,640 points): p50, p99;
- ``query_range`` of 1 series over 30 days at a 1 h step: p50;
- ``/api/v1/series`` selecting 17 of 200 series, and ``/api/v1/labels``: p50;
- ``query_range`` of 100 series over 24 h at a 60 s step (1,440 points each):
  ``query_range_p50_ms`` (the issue's figure), p99;
- in headless Chromium (Debian's, driven by Playwright), on the overview at its
  24 h range over 24 h of seeded host data: ``first_render_ms``, from
  navigation start to the first animation frame after every overview chart
  drew its data (fresh browser context each load: empty HTTP cache, the
  headline), and the same with a warm cache (``first_render_warm_ms``);
- live latency in the page: a batch durably stored by the run loop's writer
  (the server's timestamp in the SSE frame, taken right after the store
  append returns) -> the frame's arrival in the page's ``samples`` handler
  (``live_latency_*``), -> the next animation frame after the charts took it
  (``live_to_chart_*``), and from each sample's collection timestamp -> the
  page (``live_from_collection_*``: includes the writer's 1 s flush interval);
- the same stream read by a plain HTTP client at the same time
  (``live_client_*``, ``live_from_sample_*``).

The data: noisy gauges (mean-reverting random walks with decimals, jittered
timestamps) and counters from a fixed seed, the host series under the labels
this machine's host collector uses (so the history continues into the live
data), written through the store API into the file a
``watchkeeper run`` subprocess then serves (its own collectors keep writing,
which feeds the live stream). The same samples go to Prometheus through
``promtool tsdb create-blocks-from openmetrics``; Prometheus is started on
loopback over those blocks and asked the same queries in the same run.

Usage: ``python bench/web.py [--quick]``; the last stdout line is JSON.
Needs ``/usr/bin/chromium`` (Debian's) for the page figures; without it they
are reported as not measured.
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
WIDE = "bench_worker_busy_percent"  # 100 series, 24 h at 10 s
WIDE_SERIES = 100
HOST_INSTANCE = "bench-host"  # the run's global ``instance`` label
Data = list[tuple[str, dict[str, str], Any, Any]]
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


def _counter(rng: np.random.Generator, n: int, last: float, mean_rate: float) -> Any:
    """A counter over ``n`` 10 s steps ending at ``last`` (the live value: no false reset)."""
    rate = _walk(rng, n, mean_rate, mean_rate / 8, 0, mean_rate * 4)
    before = np.concatenate(([0.0], np.cumsum(rate[::-1][:-1] * 10)))[::-1]
    return np.round(np.maximum(last - before, 0), 0)


def host_label_sets() -> dict[str, list[tuple[dict[str, str], float]]]:
    """The overview's host series as this machine's host collector labels them, with values."""
    from watchkeeper.collect.host import HostCollector

    wanted = {
        "host_cpu_usage_percent",
        "host_memory_usage_percent",
        "host_disk_usage_percent",
        "host_load1",
        "host_network_receive_bytes_total",
        "host_network_transmit_bytes_total",
    }
    collector = HostCollector()
    now = int(time.time() * 1000)
    list(collector.collect(now))  # CPU usage needs two readings
    time.sleep(0.2)
    out: dict[str, list[tuple[dict[str, str], float]]] = {n: [] for n in sorted(wanted)}
    for s in collector.collect(now + 200):
        if s.name in wanted:
            labels = {"instance": HOST_INSTANCE, **dict(s.labels)}
            out[s.name].append((labels, s.value))
    return out


def generate_host(rng: np.random.Generator, end_ms: int) -> Data:
    """24 h at 10 s of the overview's host panels: CPU, memory, disk, load, network."""
    n = DAY_MS // 10_000
    out: Data = []
    shape = {
        "host_cpu_usage_percent": (35.0, 3.0, 0.0, 100.0),
        "host_memory_usage_percent": (45.0, 0.8, 0.0, 100.0),
        "host_load1": (1.2, 0.15, 0.0, 64.0),
    }
    for name, series in host_label_sets().items():
        for labels, value in series:
            ts = _stamps(rng, end_ms, n, 10_000)
            if name in shape:
                vs = _walk(rng, n, *shape[name])
            elif name == "host_disk_usage_percent":
                vs = _walk(rng, n, value, 0.05, 0, 100)  # disks fill slowly
            elif value > 0:  # a busy interface: a counter ending where the live one is
                vs = _counter(rng, n, value, min(200_000.0, value / n / 20))
            else:  # an idle interface stays at 0
                vs = np.zeros(n)
            out.append((name, labels, ts, vs))
    return out


def generate(end_ms: int) -> Data:
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
    n = DAY_MS // 10_000
    for i in range(WIDE_SERIES):
        labels = {"instance": f"w-{i:03d}", "job": "worker", "zone": f"z{i % 4}"}
        mean = float(rng.uniform(10, 80))
        out.append((WIDE, labels, _stamps(rng, end_ms, n, 10_000), _walk(rng, n, mean, 2, 0, 100)))
    out.extend(generate_host(np.random.default_rng(SEED + 1), end_ms))
    return out


def write_store(path: Path, data: Data) -> int:
    """All series merged in time order, 20,000 samples per append, as collectors deliver them.

    The store rejects samples older than its head boundary (as Prometheus's
    head does): writing one whole series after another would lose most of
    them once the head is cut. Any rejection is an error here.
    """
    from watchkeeper.store import open_store

    ts = np.concatenate([d[2] for d in data])
    vs = np.concatenate([d[3] for d in data])
    which = np.concatenate([np.full(len(d[2]), i) for i, d in enumerate(data)])
    order = np.argsort(ts, kind="stable")
    names = [d[0] for d in data]
    labels = [Labels(d[1]) for d in data]
    store = open_store(path, retention_ms=RETENTION_MS)
    total = 0
    try:
        for lo in range(0, len(order), 20_000):
            part = order[lo : lo + 20_000]
            batch = [
                Sample(names[i], labels[i], t, v)
                for i, t, v in zip(
                    which[part].tolist(), ts[part].tolist(), vs[part].tolist(), strict=True
                )
            ]
            store.append(batch)
            total += len(batch)
        # Cut and compact as a store that collected for 24 h already has (its maintenance
        # thread may not have got there yet): the history in blocks, only the newest in the head.
        maintain = getattr(store, "run_maintenance", None)
        if maintain is not None:
            maintain()
        counters: Any = store.stats().extra.get("counters", {})
        rejected = int(counters.get("rejected_too_old", 0))
    finally:
        store.close()
    if rejected:
        raise RuntimeError(f"the store rejected {rejected} of {total} seeded samples as too old")
    return total


def write_openmetrics(path: Path, data: Data) -> None:
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


USER, PASSWORD = "bench", "bench-password-123"


def start_watchkeeper(workdir: Path, store: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """``watchkeeper run`` over ``store`` with a viewer token; returns (process, url, token)."""
    from watchkeeper.web.authdb import AuthDB

    db = AuthDB(store.parent / "web.db")
    db.add_user(USER, PASSWORD, "viewer")
    token = db.create_token("bench", "bench")
    db.close()
    port = free_port()
    config = workdir / "watchkeeper.yml"
    config.write_text(
        json.dumps(  # YAML is a superset of JSON
            {
                "global": {"labels": {"instance": HOST_INSTANCE}},
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


def start_prometheus(workdir: Path, data: Data) -> tuple[subprocess.Popen[bytes], str, int] | None:
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
        "query_range": (  # the figure: 100 series, 24 h, 60 s step
            "/api/v1/query_range",
            {
                "query": WIDE,
                "start": f"{end_s - day:.3f}",
                "end": f"{end_s:.3f}",
                "step": "60",
            },
            max(10, n // 4),  # 144,000 points a request: fewer of them
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


# -- the page, in headless Chromium ---------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Injected before the page's own scripts (through DevTools, so the CSP, which
#: forbids inline scripts, does not apply to it). It only observes:
#: - every animation frame it checks ``data-charts-ready`` (set by dashboard.js
#:   once every panel has built its uPlot chart with data); the first frame
#:   that sees it is the one that paints them: ``performance.now()`` there,
#:   which counts from navigation start, is the render time;
#: - ``__wkOnLive`` (called by dashboard.js for every ``samples`` frame, before
#:   the charts take it) records the arrival time on the wall clock the server
#:   also uses, and the next animation frame after the charts took the points.
PAGE_PROBE = """
(() => {
  const rec = window.__wkBench = { live: [] };
  const stages = () => {  // where the first render's time went (Navigation/Resource Timing)
    const nav = performance.getEntriesByType("navigation")[0];
    const api = performance.getEntriesByType("resource")
      .filter(e => e.name.includes("/api/v1/query_range"));
    return {
      html: nav.responseEnd,
      dom_ready: nav.domContentLoadedEventEnd || performance.now(),
      queries_start: Math.min(...api.map(e => e.startTime)),
      queries_done: Math.max(...api.map(e => e.responseEnd)),
    };
  };
  const wall = () => performance.timeOrigin + performance.now();
  const tick = () => {
    if (document.body && document.body.dataset.chartsReady === "1") {
      rec.renderedMs = performance.now();
      rec.readyMs = window.__wkChartsReadyMs;
      rec.stages = stages();
      return;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  window.__wkOnLive = (msg) => {
    const entry = { w: msg.w, at: wall(), stamps: [] };
    const seen = new Set();
    for (const rows of Object.values(msg.s)) for (const r of rows) seen.add(r[1]);
    entry.stamps = Array.from(seen);
    rec.live.push(entry);
    // The handler pushes the points right after this hook returns and asks for
    // a frame; a frame requested after that (from a microtask) runs after it.
    queueMicrotask(() => requestAnimationFrame(() => { entry.drawn = wall(); }));
  };
})();
"""
CANVAS_PIXELS = """() => Array.from(document.querySelectorAll('section.panel')).map(p => {
  const c = p.querySelector('canvas');
  if (!c) return 0;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
  return n; })"""


def browser_suite(
    url: str, user: str, password: str, loads: int, live_s: float, headers: dict[str, str]
) -> dict[str, Any]:
    """First render (cold and warm cache), then live latency in the page, raw figures in ms."""
    import threading

    from playwright.sync_api import ViewportSize, sync_playwright

    overview = f"{url}/?range=86400"  # the picker's 24 h range, as a link carries it
    out: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            viewport: ViewportSize = {"width": 1280, "height": 900}
            login = browser.new_context(viewport=viewport)
            page = login.new_page()
            page.goto(f"{url}/login")
            page.fill("#username", user)
            page.fill("#password", password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            state = login.storage_state()
            login.close()

            def render(page: Any) -> dict[str, float]:
                page.goto(overview, wait_until="commit")
                page.wait_for_function(
                    "() => window.__wkBench && window.__wkBench.renderedMs", timeout=60_000
                )
                got: dict[str, float] = page.evaluate("() => window.__wkBench")
                return got

            # Cold: a fresh context per load (empty HTTP cache), the session cookie only.
            cold: list[float] = []
            ready: list[float] = []
            stages: list[dict[str, float]] = []
            for i in range(loads):
                ctx = browser.new_context(viewport=viewport, storage_state=state)
                ctx.add_init_script(PAGE_PROBE)
                page = ctx.new_page()
                got = render(page)
                cold.append(got["renderedMs"])
                ready.append(got["readyMs"])
                stages.append(got["stages"])  # type: ignore[arg-type]
                if i == 0:  # check once that every chart really drew data
                    panels = page.evaluate(
                        "Array.from(document.querySelectorAll('section.panel')).map(p =>"
                        " [p.dataset.panel, p.querySelector('.empty').hidden])"
                    )
                    pixels = page.evaluate(CANVAS_PIXELS)
                    empty = [pid for pid, hidden in panels if not hidden]
                    if empty or not all(n > 500 for n in pixels):
                        raise RuntimeError(f"overview panels without data: {empty} {pixels}")
                    out["overview_panels"] = [pid for pid, _ in panels]
                    out["range_shown_s"] = int(page.eval_on_selector("#range", "e => e.value"))
                    if out["range_shown_s"] != 86400:
                        raise RuntimeError(f"the overview shows {out['range_shown_s']} s, not 24 h")
                ctx.close()
            # Warm: one context, the overview opened again and again (cached assets).
            ctx = browser.new_context(viewport=viewport, storage_state=state)
            ctx.add_init_script(PAGE_PROBE)
            page = ctx.new_page()
            render(page)
            warm = [render(page)["renderedMs"] for _ in range(loads)]

            # Live: leave the page open; a plain HTTP client reads the same stream meanwhile.
            page.wait_for_selector("#live-status[data-state='ok']")
            page.evaluate("() => { window.__wkBench.live = []; }")
            client: dict[str, list[float]] = {}

            def read_stream() -> None:
                client["written"], client["sampled"] = live_latency(url, headers, live_s)

            reader = threading.Thread(target=read_stream)
            reader.start()
            page.wait_for_timeout(live_s * 1000)
            reader.join()
            page.wait_for_timeout(100)  # let the last frame's draw land
            frames = page.evaluate("() => window.__wkBench.live")
            ctx.close()
        finally:
            browser.close()
    out["first_render_cold"] = cold
    out["first_render_ready"] = ready
    out["first_render_stages"] = {k: pct([s[k] for s in stages], 0.5) for k in stages[0]}
    out["first_render_warm"] = warm
    out["live_page"] = [f["at"] - f["w"] for f in frames]
    out["live_drawn"] = [f["drawn"] - f["w"] for f in frames if "drawn" in f]
    out["live_collected"] = [f["at"] - s for f in frames for s in f["stamps"]]
    out["live_client"] = client
    return out


def query_range_breakdown(store_path: Path, end_ms: int, runs: int = 3) -> dict[str, float]:
    """Where the 100-series ``query_range`` spends its time, in this process (median of runs).

    A read-only store over the running server's file (it sees what the server
    sees): the query engine including the store read, then the JSON text.
    """
    from watchkeeper.query import range_query
    from watchkeeper.store import open_store
    from watchkeeper.web.prom_format import matrix_json

    store = open_store(store_path, readonly=True)
    engine, fmt = [], []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            res = range_query(store, WIDE, end_ms - DAY_MS, end_ms, 60_000)
            t1 = time.perf_counter()
            matrix_json((dict(s.labels), s.timestamps, s.values) for s in res.series)
            t2 = time.perf_counter()
            engine.append((t1 - t0) * 1000)
            fmt.append((t2 - t1) * 1000)
    finally:
        store.close()
    return {
        "query_range_in_process_engine_ms": pct(engine, 0.5),
        "query_range_in_process_json_ms": pct(fmt, 0.5),
    }


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
    n = 30 if args.quick else 300
    live_s = 10.0 if args.quick else 60.0
    loads = 5 if args.quick else 15
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
            breakdown = query_range_breakdown(work / "watchkeeper.db", end_ms)
            if os.path.exists(CHROMIUM):
                page = browser_suite(wk_url, USER, PASSWORD, loads, live_s, headers)
                written, sampled = page["live_client"]["written"], page["live_client"]["sampled"]
            else:
                page = None
                written, sampled = live_latency(wk_url, headers, live_s)
            t = phase("browser_and_live", t)
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
    wide = ours["query_range"]["body"]["data"]["result"]
    result["query_range_series"] = len(wide)
    result["query_range_points"] = sum(len(r["values"]) for r in wide)
    result.update(breakdown)
    result["series_found"] = len(ours["series"]["body"]["data"])
    if page is not None:
        result["first_render_ms"] = pct(page["first_render_cold"], 0.5)
        result["first_render_basis"] = (
            "median over fresh browser contexts (empty HTTP cache, logged-in cookie): "
            "navigation start -> first animation frame after every overview chart drew "
            "its 24 h of data"
        )
        result["first_render_cold_max_ms"] = round(max(page["first_render_cold"]), 2)
        result["first_render_first_load_ms"] = round(page["first_render_cold"][0], 2)
        result["first_render_warm_ms"] = pct(page["first_render_warm"], 0.5)
        result["first_render_charts_built_ms"] = pct(page["first_render_ready"], 0.5)
        result["first_render_stages_ms"] = page["first_render_stages"]
        result["first_render_loads"] = len(page["first_render_cold"])
        result["overview_panels"] = page["overview_panels"]
        result["overview_range_s"] = page["range_shown_s"]
        result["live_latency_p50_ms"] = pct(page["live_page"], 0.5)
        result["live_latency_p99_ms"] = pct(page["live_page"], 0.99)
        result["live_latency_basis"] = (
            "server wall clock right after the store append of the batch (the SSE frame's w) "
            "-> the frame's arrival in the page's samples handler (same machine's clock)"
        )
        result["live_to_chart_p50_ms"] = pct(page["live_drawn"], 0.5)
        result["live_to_chart_p99_ms"] = pct(page["live_drawn"], 0.99)
        result["live_from_collection_p50_ms"] = pct(page["live_collected"], 0.5)
        result["live_from_collection_p99_ms"] = pct(page["live_collected"], 0.99)
        result["live_page_frames"] = len(page["live_page"])
    else:
        result["first_render_ms"] = f"not measured: {CHROMIUM} not installed"
        result["live_latency_p50_ms"] = f"not measured in a page: {CHROMIUM} not installed"
    result["live_client_p50_ms"] = pct(written, 0.5)
    result["live_client_p99_ms"] = pct(written, 0.99)
    result["live_from_sample_p50_ms"] = pct(sampled, 0.5)
    result["live_events"] = len(written)
    if theirs is not None:
        for name, got in theirs.items():
            result[f"prometheus_{name}_p50_ms"] = pct(got["times"], 0.5)
            result[f"prometheus_{name}_p99_ms"] = pct(got["times"], 0.99)
        for name in ("query_range_24h", "query_range_30d_1h", "query_range"):
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
