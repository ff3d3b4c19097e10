"""``path("monitoring/", include("watchkeeper.contrib.django.urls"))``.

The namespace ``watchkeeper`` is how the middleware recognises (and skips)
these URLs. ``dashboard/`` is the full watchkeeper web app for staff users.
"""

from __future__ import annotations

from django.urls import path, re_path

from watchkeeper.contrib.django import dashboard, views

app_name = "watchkeeper"

urlpatterns = [
    path("livez", views.livez, name="livez"),
    path("readyz", views.health, name="readyz"),
    path("health", views.health, name="health"),
    path("health/<str:component>", views.health, name="health-component"),
    path("metrics", views.metrics, name="metrics"),
    path("slow-requests", views.slow_requests, name="slow-requests"),
    path("security", views.security, name="security"),
    # The full watchkeeper dashboard and API, for staff (Django's login).
    re_path(r"^dashboard/(?P<subpath>.*)$", dashboard.dashboard, name="dashboard"),
    path("", views.status_page, name="status"),
]
