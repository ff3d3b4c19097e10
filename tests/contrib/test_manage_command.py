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


def test_run_status_rules_alerts_mirror_the_cli(shop: Path, shop_db: str, tmp_path: Path) -> None:
    """``run`` until SIGTERM, then the reading commands against what it wrote."""
    import signal
    import subprocess
    import time

    from contrib.conftest import PYTHON

    store = tmp_path / "wk.db"
    env = shop_env(shop, shop_db, None, SHOP_STORE=str(store), COLUMNS="200")
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        run = subprocess.Popen(
            [PYTHON, "manage.py", "watchkeeper", "run", "--interval", "1"],
            cwd=shop,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            # Wait for the discovered PostgreSQL collector to report (status exits 0).
            deadline = time.monotonic() + 60
            while True:
                assert run.poll() is None, log.read_text()
                status = manage(shop, env, "watchkeeper", "status")
                if status.returncode == 0 and "django-db-default" in status.stdout:
                    break
                assert time.monotonic() < deadline, status.stdout + status.stderr
        finally:
            run.send_signal(signal.SIGTERM)
            code = run.wait(30)
    assert code == 0, log.read_text()[-3000:]
    assert "django-db-default" in status.stdout

    rules = manage(shop, env, "watchkeeper", "rules", "list")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "Rules" in rules.stdout

    alerts = manage(shop, env, "watchkeeper", "alerts", "list", "--json")
    assert alerts.returncode == 0, alerts.stdout + alerts.stderr
    assert isinstance(json.loads(alerts.stdout), list | dict)

    # Options of the CLI reach the CLI: --help of a subcommand, exit codes of a bad query.
    helped = manage(shop, env, "watchkeeper", "alerts", "--help")
    assert helped.returncode == 0
    assert "list" in helped.stdout
    bad = manage(shop, env, "watchkeeper", "query", "rate(")
    assert bad.returncode != 0
    assert "Traceback" not in bad.stderr
