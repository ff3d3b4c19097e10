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
   (multiprocess directory set) vs bare, for a trivial view and for a view
   making 3 PostgreSQL queries, runs interleaved; worker RSS after the load.
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


def wrk(url: str, prefix: str, seconds: int, script_dir: Path) -> float:
    script = script_dir / f"{prefix}.lua"
    script.write_text(f'PREFIX = "{prefix}"\n' + WRK_LUA)
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if match is None or errors is not None:
        raise SystemExit(f"wrk failed:\n{out}")
    return float(match.group(1))


def worker_rss_mib(proc: subprocess.Popen[bytes]) -> float:
    import psutil

    children = psutil.Process(proc.pid).children()
    return statistics.mean(c.memory_info().rss for c in children) / 2**20


def under_gunicorn(quick: bool) -> dict[str, float]:
    if shutil.which("wrk") is None:
        log("wrk not installed (apt-get install -y wrk): skipping the gunicorn part")
        return {}
    seconds, reps = (3, 2) if quick else (10, 3)
    tmp = Path(tempfile.mkdtemp(prefix="wk-bench-django-"))
    site = tmp / "site"
    (site / "benchsite").mkdir(parents=True)
    (site / "benchsite" / "__init__.py").write_text("")
    (site / "benchsite" / "settings.py").write_text(textwrap.dedent(SETTINGS))
    (site / "benchsite" / "urls.py").write_text(textwrap.dedent(URLS))
    (site / "benchsite" / "wsgi.py").write_text(
        "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n"
    )
    rps: dict[tuple[str, str], list[float]] = {}
    rss: dict[str, float] = {}
    requests_sent = 0
    try:
        for rep in range(reps):
            for variant in ("bare", "watchkeeper") if rep % 2 == 0 else ("watchkeeper", "bare"):
                proc, url = start_gunicorn(site, variant, tmp / "metrics")
                try:
                    for prefix in ("items", "q3"):
                        wrk(url, prefix, 1, tmp)  # warm-up: connections, caches
                        value = wrk(url, prefix, seconds, tmp)
                        rps.setdefault((variant, prefix), []).append(value)
                        log(f"{variant} /{prefix}/: {value:.0f} req/s")
                    rss[variant] = worker_rss_mib(proc)
                    if variant == "watchkeeper":
                        import httpx

                        text = httpx.get(
                            url + "/monitoring/metrics", headers={"Authorization": "Bearer t"}
                        ).text
                        requests_sent = int(
                            sum(
                                float(line.rsplit(" ", 1)[1])
                                for line in text.splitlines()
                                if line.startswith("http_requests_total{")
                            )
                        )
                finally:
                    proc.terminate()
                    proc.wait(20)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in rps.items()}
    return {
        "bare_rps_trivial": round(med[("bare", "items")]),
        "rps_ratio": round(med[("watchkeeper", "items")] / med[("bare", "items")], 3),
        "bare_rps_3_queries": round(med[("bare", "q3")]),
        "rps_ratio_3_queries": round(med[("watchkeeper", "q3")] / med[("bare", "q3")], 3),
        "worker_rss_mib_bare": round(rss["bare"], 1),
        "worker_rss_mib_watchkeeper": round(rss["watchkeeper"], 1),
        "last_run_requests_counted": requests_sent,
    }


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
