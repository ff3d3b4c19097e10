"""Views behind ``include("watchkeeper.contrib.django.urls")``.

Health status is public (load balancers), its details are for staff;
``/metrics`` is for staff, bearer tokens or everyone (``public_metrics``);
the slow-request and security lists are for staff only.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client.core import GaugeMetricFamily

from watchkeeper.contrib.django.access import bearer_allowed, is_monitoring_staff
from watchkeeper.contrib.django.state import get_instruments
from watchkeeper.contrib.exposition import render

__all__ = ["health", "livez", "metrics", "security", "slow_requests", "status_page"]

_MEDIA = "application/health+json"


def _user(request: HttpRequest) -> Any:
    return getattr(request, "user", None)


@never_cache
def livez(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b'{"status":"pass"}', content_type=_MEDIA)


@never_cache
def health(request: HttpRequest, component: str | None = None) -> HttpResponse:
    # Imported here: the checks pull in the whole configuration model, which
    # workers that are never asked for their health need not carry.
    from watchkeeper.contrib.django.health import get_report
    from watchkeeper.health.base import Status

    report = get_report()
    if component is not None and component not in report.results:
        body = {"status": "fail", "output": f"no health check named {component!r}"}
        return HttpResponse(json.dumps(body), status=404, content_type=_MEDIA)
    status = report.results[component].status if component else report.status
    details = is_monitoring_staff(_user(request))
    body = report.to_json(details=details, only=component)
    return HttpResponse(
        json.dumps(body), status=503 if status is Status.FAIL else 200, content_type=_MEDIA
    )


def _may_scrape(request: HttpRequest) -> bool:
    opts = get_instruments().site.options
    return opts.public_metrics or bearer_allowed(request) or is_monitoring_staff(_user(request))


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not _may_scrape(request):
        response = HttpResponse(b"authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="watchkeeper"'
        return response
    inst = get_instruments()
    busiest = GaugeMetricFamily(
        "auth_failed_logins_max_per_address",
        "Most failed logins from one client address in the current window (all workers).",
        value=inst.logins.max_per_address(),
    )
    body, content_type = render(inst.registry, request.META.get("HTTP_ACCEPT", ""), [busiest])
    return HttpResponse(body, content_type=content_type)


def _staff_only(request: HttpRequest) -> HttpResponse | None:
    user = _user(request)
    if is_monitoring_staff(user):
        return None
    if user is None or not user.is_authenticated:
        if "json" in request.META.get("HTTP_ACCEPT", "") or request.GET.get("format") == "json":
            return JsonResponse({"detail": "log in as a staff user"}, status=401)
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
    return JsonResponse({"detail": "staff only"}, status=403)


@never_cache
def slow_requests(request: HttpRequest) -> HttpResponse:
    denied = _staff_only(request)
    if denied is not None:
        return denied
    log = get_instruments().http.slow_log
    recent = [{**_entry(e), "app_seconds": round(e.app_seconds, 6)} for e in log.recent()[:50]]
    return JsonResponse({"endpoints": log.by_route(), "recent": recent})


def _entry(e: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(e)


@never_cache
def security(request: HttpRequest) -> HttpResponse:
    denied = _staff_only(request)
    if denied is not None:
        return denied
    inst = get_instruments()
    top = inst.logins.top()
    return JsonResponse(
        {
            "window_seconds": inst.logins.window,
            "failed_logins_by_address": [{"address": a, "count": n} for a, n in top],
        }
    )


@never_cache
def status_page(request: HttpRequest) -> HttpResponse:
    """A small staff page: health, slowest endpoints, failed-login sources."""
    denied = _staff_only(request)
    if denied is not None:
        return denied
    import html

    from watchkeeper.contrib.django.health import get_report

    inst = get_instruments()
    report = get_report()
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{r.status.value}</td>"
        f"<td>{html.escape(r.output)}</td></tr>"
        for n, r in report.results.items()
    )
    slow = "".join(
        f"<tr><td>{html.escape(r['method'])}</td><td>{html.escape(r['route'])}</td>"
        f"<td>{r['count']}</td><td>{r['max_seconds']:.3f}</td>"
        f"<td>{r['mean_db_seconds']:.3f}</td><td>{r['mean_db_queries']:.1f}</td></tr>"
        for r in inst.http.slow_log.by_route()[:20]
    )
    logins = "".join(
        f"<tr><td>{html.escape(a)}</td><td>{n}</td></tr>" for a, n in inst.logins.top(20)
    )
    page = (
        "<!doctype html><meta charset=utf-8><title>watchkeeper</title>"
        f"<h1>Health: {report.status.value}</h1>"
        '<p><a href="dashboard/">Open the dashboard</a></p>'
        f"<table><tr><th>check<th>status<th>output</tr>{rows}</table>"
        "<h2>Slowest endpoints</h2><table><tr><th>method<th>route<th>slow requests"
        f"<th>max s<th>mean db s<th>mean queries</tr>{slow}</table>"
        f"<h2>Failed logins by address</h2><table><tr><th>address<th>count</tr>{logins}</table>"
    )
    return HttpResponse(page)
