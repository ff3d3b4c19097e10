"""``python manage.py watchkeeper ...`` as a real subprocess, configured by settings.WATCHKEEPER."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contrib.conftest import manage, shop_env

pytestmark = [pytest.mark.services]


def test_health_json_uses_discovered_database(shop: Path, shop_db: str) -> None:
    done = manage(shop, shop_env(shop, shop_db, None), "watchkeeper", "health", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    check = body["checks"]["django-db-default:responseTime"][0]
    assert check["status"] == "pass"
    assert check["componentType"] == "datastore"


def test_collect_once_runs_discovered_postgres_collector(shop: Path, shop_db: str) -> None:
    done = manage(shop, shop_env(shop, shop_db, None), "watchkeeper", "collect", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "django-db-default" in done.stdout
    assert "pg_connections_max" in done.stdout


def _with_settings(tmp_path: Path, shop: Path, shop_db: str, line: str) -> dict[str, str]:
    (tmp_path / "bad_settings.py").write_text(f"from shop.settings import *\n{line}\n")
    env = shop_env(shop, shop_db, None, DJANGO_SETTINGS_MODULE="bad_settings")
    env["PYTHONPATH"] += f":{tmp_path}"
    return env


def test_bad_integration_option_fails_at_start(shop: Path, shop_db: str, tmp_path: Path) -> None:
    env = _with_settings(tmp_path, shop, shop_db, "WATCHKEEPER = {'django': {'htp': {}}}")
    done = manage(shop, env, "check")
    assert done.returncode != 0
    # Django reports ImproperlyConfigured from app loading; the last line names the problem.
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith('settings.WATCHKEEPER["django"]: htp: unknown option; expected one of: ')
    )


def test_bad_configuration_is_a_clear_command_error(
    shop: Path, shop_db: str, tmp_path: Path
) -> None:
    env = _with_settings(
        tmp_path, shop, shop_db, "WATCHKEEPER = {'storage': {'retention': 5, 'pth': 1}}"
    )
    done = manage(shop, env, "watchkeeper", "status")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "settings.WATCHKEEPER: storage.pth: unknown setting" in done.stderr
    assert "settings.WATCHKEEPER: storage.retention: must be at least 1h" in done.stderr
