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
    args = parser.parse_args()
    result: dict[str, object] = {"benchmark": "django", "quick": args.quick}
    inproc = in_process(args.quick, not args.no_peer)
    result.update({k: round(v, 2) for k, v in inproc.items()})
    if "django_prometheus_overhead_us" in inproc:
        result["ratio"] = round(inproc["overhead_us"] / inproc["django_prometheus_overhead_us"], 3)
    result.update(under_gunicorn(args.quick))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
