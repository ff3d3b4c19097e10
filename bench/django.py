"""Benchmark the Django integration against bare Django and django-prometheus.

Usage: python bench/django.py [--quick] [--no-peer]

1. In-process: a trivial view through the whole middleware chain
   (``BaseHandler.get_response`` with a ``RequestFactory`` request), bare
   Django vs watchkeeper's middleware vs django-prometheus's two middlewares
   (plain, and with ``PROMETHEUS_MULTIPROC_DIR`` set: its multiprocess mode),
   all in one process, rounds interleaved; ``overhead_us`` is the median
   per-request time minus bare Django's. django-prometheus lives in a
   throw-away venv under ``.bench/`` that also sees this project's packages.
2. Under gunicorn (2 sync workers) + wrk: requests/s with watchkeeper
   (multiprocess directory set) vs bare, both servers up side by side and
   short wrk runs alternated round by round; ``rps_ratio`` is the median of
   the paired per-round ratios (with IQR and range), for a trivial view and
   (full mode) a view making 3 PostgreSQL queries; worker RSS after the load.
3. In-process, the same method for the WSGI and ASGI middlewares: a trivial
   Flask view through ``app.wsgi_app`` (``flask_overhead_us``), trivial
   Starlette and FastAPI endpoints through the whole ASGI app on one event
   loop (``starlette_overhead_us``, ``fastapi_overhead_us``), bare vs
   instrumented (multiprocess directory set), rounds interleaved.

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
PEER_VENV = BENCH_DIR / "django-prometheus"
MAIN_SITE = Path(sys.executable).resolve().parent.parent / "lib/python3.11/site-packages"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- 1. in-process -----------------------------------------------------------

INPROC = r"""
import json, os, random, statistics, sys, tempfile, time
import django
from django.conf import settings

variants = json.loads(sys.argv[1])
rounds, batch = int(sys.argv[2]), int(sys.argv[3])
mp_dir = tempfile.mkdtemp()
apps = ["django.contrib.contenttypes", "django.contrib.auth", "watchkeeper.contrib.django"]
if "django_prometheus" in variants:
    apps.append("django_prometheus")
settings.configure(
    DEBUG=False, SECRET_KEY="x", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
    INSTALLED_APPS=apps, MIDDLEWARE=[],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    WATCHKEEPER={"django": {"metrics_dir": tempfile.mkdtemp()}},
)
from django.http import HttpResponse
from django.urls import path

def trivial(request, pk):
    return HttpResponse(b"hello world")

urlpatterns = [path("items/<int:pk>/", trivial)]
django.setup()
from django.core.handlers.base import BaseHandler
from django.test import RequestFactory

CHAINS = {
    "bare": [],
    "watchkeeper": ["watchkeeper.contrib.django.middleware.WatchkeeperMiddleware"],
    "django_prometheus": [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ],
}
handlers = {}
for name in variants:
    settings.MIDDLEWARE = CHAINS[name]
    h = BaseHandler()
    h.load_middleware()
    handlers[name] = h
rf = RequestFactory()
rng = random.Random(8)
requests = [rf.get(f"/items/{rng.randint(1, 10**6)}/") for _ in range(batch)]
from django.urls import set_urlconf
set_urlconf(None)
for h in handlers.values():  # warm-up: caches, label series
    for r in requests[:50]:
        h.get_response(r)
times = {n: [] for n in handlers}
order = list(handlers)
for i in range(rounds):
    rng.shuffle(order)
    for n in order:
        h = handlers[n]
        t0 = time.perf_counter()
        for r in requests:
            h.get_response(r)
        times[n].append((time.perf_counter() - t0) / batch * 1e6)
print(json.dumps({n: statistics.median(v) for n, v in times.items()}))
"""


def peer_python() -> str | None:
    """The throw-away venv's python with django-prometheus (created on first use)."""
    py = PEER_VENV / "bin" / "python"
    if not py.exists():
        uv = shutil.which("uv")
        if uv is None:
            return None
        log("creating .bench/django-prometheus venv ...")
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(PEER_VENV)], check=True)
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(py), "django-prometheus==2.5.0"],
            check=True,
        )
        # Everything else (Django, prometheus_client, watchkeeper) comes from this project.
        site = next((PEER_VENV / "lib").glob("python*/site-packages"))
        (site / "zz_main.pth").write_text(f"{MAIN_SITE}\n{ROOT / 'src'}\n")
    return str(py)


def in_process(quick: bool, peer: bool) -> dict[str, float]:
    rounds, batch = (30, 300) if quick else (80, 500)
    python = sys.executable
    variants = ["bare", "watchkeeper"]
    if peer:
        found = peer_python()
        if found:
            python = found
            variants.append("django_prometheus")
    results: dict[str, float] = {}
    for mode, extra in (("plain", {}), ("multiprocess", {"PROMETHEUS_MULTIPROC_DIR": ""})):
        if mode == "multiprocess" and "django_prometheus" not in variants:
            break
        env = dict(os.environ)
        env.pop("WATCHKEEPER_METRICS_DIR", None)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if extra:
            env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()
        out = subprocess.run(
            [python, "-c", INPROC, json.dumps(variants), str(rounds), str(batch)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"in-process benchmark failed:\n{out.stderr[-3000:]}")
        medians = json.loads(out.stdout.strip().splitlines()[-1])
        log(f"in-process ({mode}): {medians}")
        if mode == "plain":
            results["bare_us"] = medians["bare"]
            results["overhead_us"] = medians["watchkeeper"] - medians["bare"]
            if "django_prometheus" in medians:
                results["django_prometheus_overhead_us"] = (
                    medians["django_prometheus"] - medians["bare"]
                )
        else:
            results["django_prometheus_multiproc_overhead_us"] = (
                medians["django_prometheus"] - medians["bare"]
            )
    return results


# -- 3. WSGI / ASGI middlewares, in-process ---------------------------------------

FRAMEWORKS = r"""
import asyncio, json, os, random, statistics, sys, tempfile, time
os.environ["WATCHKEEPER_METRICS_DIR"] = tempfile.mkdtemp()
rounds, batch = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(8)
ids = [rng.randint(1, 10**6) for _ in range(batch)]

from flask import Flask
from watchkeeper.contrib.flask import instrument as flask_instrument

def flask_app(instrumented):
    app = Flask("bench")
    @app.get("/items/<int:pk>")
    def item(pk):
        return "hello world"
    if instrumented:
        flask_instrument(app)
    return app.wsgi_app

def environ(pk):
    return {"REQUEST_METHOD": "GET", "PATH_INFO": f"/items/{pk}", "QUERY_STRING": "",
            "SERVER_NAME": "bench", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http", "wsgi.input": None, "wsgi.errors": sys.stderr,
            "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
            "REMOTE_ADDR": "127.0.0.1"}

def start_response(status, headers, exc_info=None):
    return None

def run_wsgi(app):
    for pk in ids:
        it = app(environ(pk), start_response)
        for _ in it:
            pass
        close = getattr(it, "close", None)
        if close is not None:
            close()

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse as FastText
from watchkeeper.contrib.starlette import instrument as asgi_instrument

def starlette_app(instrumented):
    async def item(request):
        return PlainTextResponse("hello world")
    app = Starlette(routes=[Route("/items/{pk:int}", item)])
    if instrumented:
        asgi_instrument(app)
    return app

def fastapi_app(instrumented):
    app = FastAPI()
    @app.get("/items/{pk}", response_class=FastText)
    async def item(pk: int):
        return "hello world"
    if instrumented:
        asgi_instrument(app)
    return app

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    return None

def scope(pk):
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": f"/items/{pk}", "raw_path": f"/items/{pk}".encode(),
            "root_path": "", "query_string": b"", "headers": [(b"host", b"bench")],
            "client": ("127.0.0.1", 1), "server": ("bench", 80), "state": {}}

loop = asyncio.new_event_loop()

def run_asgi(app):
    async def many():
        for pk in ids:
            await app(scope(pk), receive, send)
    loop.run_until_complete(many())

variants = {
    "flask_bare": (run_wsgi, flask_app(False)),
    "flask": (run_wsgi, flask_app(True)),
    "starlette_bare": (run_asgi, starlette_app(False)),
    "starlette": (run_asgi, starlette_app(True)),
    "fastapi_bare": (run_asgi, fastapi_app(False)),
    "fastapi": (run_asgi, fastapi_app(True)),
}
for run, app in variants.values():  # warm-up: caches, label series, lifespan-free start
    run(app)
times = {n: [] for n in variants}
order = list(variants)
for i in range(rounds):
    rng.shuffle(order)
    for n in order:
        run, app = variants[n]
        t0 = time.perf_counter()
        run(app)
        times[n].append((time.perf_counter() - t0) / batch * 1e6)
print(json.dumps({n: statistics.median(v) for n, v in times.items()}))
"""


def frameworks_in_process(quick: bool) -> dict[str, float]:
    rounds, batch = (30, 300) if quick else (80, 500)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHKEEPER_", "PROMETHEUS"))}
    out = subprocess.run(
        [sys.executable, "-c", FRAMEWORKS, str(rounds), str(batch)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"framework benchmark failed:\n{out.stderr[-3000:]}")
    med = json.loads(out.stdout.strip().splitlines()[-1])
    log(f"in-process (WSGI/ASGI): {med}")
    result: dict[str, float] = {}
    for name in ("flask", "starlette", "fastapi"):
        result[f"{name}_bare_us"] = round(med[f"{name}_bare"], 2)
        result[f"{name}_overhead_us"] = round(med[name] - med[f"{name}_bare"], 2)
    return result


# -- 2. gunicorn + wrk ---------------------------------------------------------

SETTINGS = """
import os
SECRET_KEY = "x"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "benchsite.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
MIDDLEWARE = []
if os.environ["BENCH_VARIANT"] == "watchkeeper":
    INSTALLED_APPS.append("watchkeeper.contrib.django")
    MIDDLEWARE = ["watchkeeper.contrib.django.middleware.WatchkeeperMiddleware"]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "test",
             "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432", "CONN_MAX_AGE": 600}}
WATCHKEEPER = {"django": {"metrics_tokens": ["t"]}}
"""
URLS = """
from django.db import connection
from django.http import HttpResponse
from django.urls import include, path

def trivial(request, pk):
    return HttpResponse(b"hello world")

def queries(request, pk):
    with connection.cursor() as c:
        for i in range(3):
            c.execute("SELECT %s + %s", [pk, i])
            c.fetchone()
    return HttpResponse(b"three queries")

urlpatterns = [path("items/<int:pk>/", trivial), path("q3/<int:pk>/", queries)]
import os
if os.environ["BENCH_VARIANT"] == "watchkeeper":
    urlpatterns.append(path("monitoring/", include("watchkeeper.contrib.django.urls")))
"""
WRK_LUA = """
math.randomseed(8)
request = function()
  return wrk.format("GET", string.format("/%s/%d/", PREFIX, math.random(1, 100000)))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(
    site: Path, variant: str, metrics_dir: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHKEEPER", "PROMETHEUS"))}
    env.update(
        PYTHONPATH=str(site), DJANGO_SETTINGS_MODULE="benchsite.settings", BENCH_VARIANT=variant
    )
    if variant == "watchkeeper":
        shutil.rmtree(metrics_dir, ignore_errors=True)
        env["WATCHKEEPER_METRICS_DIR"] = str(metrics_dir)
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    proc = subprocess.Popen(
        [
            gunicorn,
            "benchsite.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
        ],
        cwd=site,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/items/1/", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"gunicorn ({variant}) did not start")


def wrk(url: str, prefix: str, seconds: int, script_dir: Path) -> tuple[float, int]:
    """Requests/s and requests completed by one wrk run against ``/<prefix>/<random id>/``."""
    script = script_dir / f"{prefix}.lua"
    script.write_text(f'PREFIX = "{prefix}"\n' + WRK_LUA)
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in ", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if match is None or done is None or errors is not None:
        raise SystemExit(f"wrk failed:\n{out}")
    return float(match.group(1)), int(done.group(1))


def worker_rss_mib(proc: subprocess.Popen[bytes]) -> float:
    import psutil

    children = psutil.Process(proc.pid).children()
    return statistics.mean(c.memory_info().rss for c in children) / 2**20


def workers_cpu_s(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) used so far by the server's worker processes."""
    import psutil

    total = 0.0
    for child in psutil.Process(proc.pid).children():
        times = child.cpu_times()
        total += times.user + times.system
    return total


def write_site(tmp: Path) -> Path:
    site = tmp / "site"
    (site / "benchsite").mkdir(parents=True)
    (site / "benchsite" / "__init__.py").write_text("")
    (site / "benchsite" / "settings.py").write_text(textwrap.dedent(SETTINGS))
    (site / "benchsite" / "urls.py").write_text(textwrap.dedent(URLS))
    (site / "benchsite" / "wsgi.py").write_text(
        "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n"
    )
    return site


def counted_requests(url: str) -> int:
    """The sum of ``http_requests_total`` on the instrumented server's /metrics."""
    import httpx

    text = httpx.get(url + "/monitoring/metrics", headers={"Authorization": "Bearer t"}).text
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("http_requests_total{")
        )
    )


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def under_gunicorn(quick: bool, rounds: int | None = None) -> dict[str, object]:
    """rps with watchkeeper / bare: both servers up at once, short wrk runs alternated.

    The machine is shared and its speed drifts by 2x within seconds, so one
    long run per variant measures the drift, not the middleware. Both
    gunicorns (same settings: 2 sync workers) stay up side by side; each
    round runs wrk against one then the other (order flipped every round)
    and gives one paired ratio; the figure is the median of those ratios,
    with its spread. ``--quick`` measures the trivial view only.

    The workers' CPU time per request (user + system, from /proc) is far
    less sensitive to what else runs on the machine than requests/s:
    ``rps_ratio_cpu`` (bare CPU per request / instrumented, median of the
    paired rounds) is the throughput ratio of CPU-bound workers.
    """
    if shutil.which("wrk") is None:
        log("wrk not installed (apt-get install -y wrk): skipping the gunicorn part")
        return {}
    seconds = 2 if quick else 3
    rounds = rounds or (6 if quick else 15)
    prefixes = ("items",) if quick else ("items", "q3")
    tmp = Path(tempfile.mkdtemp(prefix="wk-bench-django-"))
    site = write_site(tmp)
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    rps: dict[tuple[str, str], list[float]] = {}
    ratios: dict[str, list[float]] = {}
    cpu_us: dict[tuple[str, str], list[float]] = {}
    cpu_ratios: dict[str, list[float]] = {}
    sent = 0
    try:
        for variant in ("bare", "watchkeeper"):
            servers[variant] = start_gunicorn(site, variant, tmp / "metrics")
        for prefix in prefixes:
            for _, url in servers.values():
                wrk(url, prefix, 1, tmp)  # warm-up: connections, caches, label series
        before = counted_requests(servers["watchkeeper"][1])
        for i in range(rounds):
            order = ("bare", "watchkeeper") if i % 2 == 0 else ("watchkeeper", "bare")
            for prefix in prefixes:
                got: dict[str, float] = {}
                cpu: dict[str, float] = {}
                for variant in order:
                    proc, url = servers[variant]
                    cpu_before = workers_cpu_s(proc)
                    got[variant], done = wrk(url, prefix, seconds, tmp)
                    cpu[variant] = (workers_cpu_s(proc) - cpu_before) / done * 1e6
                    rps.setdefault((variant, prefix), []).append(got[variant])
                    cpu_us.setdefault((variant, prefix), []).append(cpu[variant])
                    if variant == "watchkeeper":
                        sent += done
                ratios.setdefault(prefix, []).append(got["watchkeeper"] / got["bare"])
                cpu_ratios.setdefault(prefix, []).append(cpu["bare"] / cpu["watchkeeper"])
                log(
                    f"round {i + 1}/{rounds} /{prefix}/: bare {got['bare']:.0f}, "
                    f"watchkeeper {got['watchkeeper']:.0f} req/s, "
                    f"ratio {ratios[prefix][-1]:.3f}; worker CPU/request bare "
                    f"{cpu['bare']:.0f} µs, watchkeeper {cpu['watchkeeper']:.0f} µs, "
                    f"ratio {cpu_ratios[prefix][-1]:.3f}"
                )
        counted = counted_requests(servers["watchkeeper"][1]) - before
        rss = {variant: worker_rss_mib(proc) for variant, (proc, _) in servers.items()}
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)
    result: dict[str, object] = {"rps_rounds": rounds, "rps_seconds_per_run": seconds}
    for prefix, suffix in (("items", ""), ("q3", "_3_queries")):
        if prefix not in ratios:
            continue
        r = ratios[prefix]
        result[f"bare_rps{suffix or '_trivial'}"] = round(statistics.median(rps[("bare", prefix)]))
        result[f"rps_ratio{suffix}"] = round(statistics.median(r), 3)
        iqr = [round(quantile(r, 0.25), 3), round(quantile(r, 0.75), 3)]
        result[f"rps_ratio{suffix}_iqr"] = iqr
        result[f"rps_ratio{suffix}_range"] = [round(min(r), 3), round(max(r), 3)]
        c = cpu_ratios[prefix]
        for variant in ("bare", "watchkeeper"):
            result[f"cpu_us_per_request{suffix}_{variant}"] = round(
                statistics.median(cpu_us[(variant, prefix)]), 1
            )
        result[f"rps_ratio_cpu{suffix}"] = round(statistics.median(c), 3)
        result[f"rps_ratio_cpu{suffix}_iqr"] = [
            round(quantile(c, 0.25), 3),
            round(quantile(c, 0.75), 3),
        ]
    result.update(
        worker_rss_mib_bare=round(rss["bare"], 1),
        worker_rss_mib_watchkeeper=round(rss["watchkeeper"], 1),
        # wrk does not count responses cut off when its time is up: counted >= sent.
        measured_requests_sent=sent,
        measured_requests_counted=counted,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument("--no-peer", action="store_true", help="skip django-prometheus")
    parser.add_argument(
        "--frameworks-only", action="store_true", help="only the WSGI/ASGI middlewares (part 3)"
    )
    args = parser.parse_args()
    result: dict[str, object] = {"benchmark": "django", "quick": args.quick}
    if args.frameworks_only:
        result.update(frameworks_in_process(args.quick))
        print(json.dumps(result))
        return
    inproc = in_process(args.quick, not args.no_peer)
    result.update({k: round(v, 2) for k, v in inproc.items()})
    if "django_prometheus_overhead_us" in inproc:
        result["ratio"] = round(inproc["overhead_us"] / inproc["django_prometheus_overhead_us"], 3)
    result.update(frameworks_in_process(args.quick))
    result.update(under_gunicorn(args.quick))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
