"""A real Django project written into a temporary directory for the integration tests.

Settings, URLs and views (sync and async) of a small shop; PostgreSQL is its
database (a private database created per test session) and the machine's
Redis its cache (Django's own ``RedisCache``, on database ``REDIS_DB``, keys
prefixed with the session's database name so runs never share keys).
``write_project`` returns the directory to run gunicorn, uvicorn and
manage.py from.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

#: The machine's Redis database the shop's cache uses (no other test uses it).
REDIS_DB = 9

SETTINGS = """
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "shop.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "watchkeeper.contrib.django",
]
MIDDLEWARE = [
    "watchkeeper.contrib.django.middleware.WatchkeeperMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["SHOP_DB"],
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": 60,
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("SHOP_REDIS_URL", "redis://127.0.0.1:6379/@REDIS_DB@"),
        "KEY_PREFIX": os.environ["SHOP_DB"],
    }
}
USE_TZ = True
LOGIN_URL = "/login/"
WATCHKEEPER = {
    "storage": {"path": os.environ.get("SHOP_STORE", str(BASE_DIR / "wk.db"))},
    "collectors": {"host": {"enabled": False}},
    "web": {"enabled": False},
    "django": {
        "metrics_tokens": ["scrape-token"],
        "operator_group": "Ops",
        "http": {"slow_threshold": 0.2},
        "failed_login_window": 3600,
    },
}
"""

URLS = """
from django.urls import include, path
from shop import views

urlpatterns = [
    path("items/<int:pk>/", views.item),
    path("async/<int:pk>/", views.async_item),
    path("boom/", views.boom),
    path("slow/", views.slow),
    path("cache/<str:key>/", views.cached),
    path("login/", views.login_view),
    path("pid/", views.pid),
    path("monitoring/", include("watchkeeper.contrib.django.urls")),
]
"""

VIEWS = """
import asyncio
import os
import time

from asgiref.sync import sync_to_async
from django.contrib.auth import authenticate, login
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt


def _three_queries(pk):
    with connection.cursor() as c:
        for i in range(3):
            c.execute("SELECT %s + %s", [pk, i])
            c.fetchone()


def item(request, pk):
    _three_queries(pk)
    return HttpResponse(f"item {pk}")


async def async_item(request, pk):
    await sync_to_async(_three_queries)(pk)
    await asyncio.sleep(0)
    return JsonResponse({"pk": pk})


def boom(request):
    raise ValueError("payment provider said no")


def slow(request):
    time.sleep(0.25)
    return HttpResponse("slow")


def cached(request, key):
    value = cache.get(key)
    if value is None:
        cache.set(key, "v")
    return HttpResponse(str(value))


def pid(request):
    return HttpResponse(str(os.getpid()))


@csrf_exempt
def login_view(request):
    user = authenticate(request, username=request.POST.get("username"),
                        password=request.POST.get("password"))
    if user is None:
        return HttpResponse("no", status=401)
    login(request, user)
    return HttpResponse("ok")
"""

MANAGE = """
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
"""

WSGI = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
"""

ASGI = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
from django.core.asgi import get_asgi_application
application = get_asgi_application()
"""


def write_project(root: Path) -> Path:
    pkg = root / "shop"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    for name, text in {
        "settings.py": SETTINGS.replace("@REDIS_DB@", str(REDIS_DB)),
        "urls.py": URLS,
        "views.py": VIEWS,
        "wsgi.py": WSGI,
        "asgi.py": ASGI,
    }.items():
        (pkg / name).write_text(textwrap.dedent(text))
    (root / "manage.py").write_text(textwrap.dedent(MANAGE))
    return root
