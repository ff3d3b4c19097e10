"""Issue 8's figures: Django middleware overhead vs django-prometheus, and rps under gunicorn.

Usage: python bench/middleware.py [--quick] [--rounds N]

- ``overhead_us``: median added time per request of watchkeeper's middleware
  (metrics directory set, as in production), a ``RequestFactory`` request
  through the whole middleware chain (``BaseHandler.get_response``) versus
  the same chain with no monitoring; ``django_prometheus_overhead_us``: the
  same for django-prometheus's two middlewares, in the same process and run,
  rounds interleaved in random order; ``ratio`` = ours / theirs.
  (``django_prometheus_multiproc_overhead_us`` is theirs in multiprocess mode,
  the mode comparable to ours under gunicorn.)
- ``rps_ratio``: requests/s under gunicorn (2 sync workers, PostgreSQL
  configured) + wrk with watchkeeper / without, the median of paired
  per-round ratios with both servers up side by side and short wrk runs
  alternated (``rps_ratio_iqr``, ``rps_ratio_range``: the spread).
  ``rps_ratio_cpu``: the same from the workers' CPU time per request, far
  steadier than requests/s on a shared machine.

The measuring code is bench/django.py's (parts 1 and 2); this script picks
the issue's keys. Progress goes to stderr; the last stdout line is one JSON
object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent
# The bench folder goes last: bench/django.py must not shadow Django.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]


def django_bench() -> ModuleType:
    """bench/django.py loaded under another name (``import django`` would be Django's)."""
    spec = importlib.util.spec_from_file_location("bench_django", _HERE / "django.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument(
        "--rounds", type=int, default=None, help="gunicorn A/B rounds (default 6 quick, 15 full)"
    )
    args = parser.parse_args()
    bench = django_bench()
    result: dict[str, object] = {"benchmark": "middleware", "quick": args.quick}
    inproc = bench.in_process(args.quick, peer=True)
    if "django_prometheus_overhead_us" not in inproc:
        raise SystemExit("django-prometheus could not be installed into .bench/ (uv needed)")
    ours, theirs = inproc["overhead_us"], inproc["django_prometheus_overhead_us"]
    result.update(
        bare_us=round(inproc["bare_us"], 2),
        overhead_us=round(ours, 2),
        django_prometheus_overhead_us=round(theirs, 2),
        ratio=round(ours / theirs, 3),
        django_prometheus_multiproc_overhead_us=round(
            inproc["django_prometheus_multiproc_overhead_us"], 2
        ),
    )
    result.update(bench.under_gunicorn(args.quick, args.rounds))
    if "rps_ratio" not in result:
        raise SystemExit("wrk is needed for rps_ratio: apt-get install -y wrk")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
