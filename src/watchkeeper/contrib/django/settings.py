"""``settings.WATCHKEEPER``: the Django integration's options and the watchkeeper configuration.

Three shapes are accepted::

    WATCHKEEPER = BASE_DIR / "watchkeeper.yml"          # a file, integration defaults
    WATCHKEEPER = {"config_file": "...", "django": {...}}
    WATCHKEEPER = {"storage": {...}, "health": {...}, "django": {...}}  # inline

``django`` holds the integration's own options (``DjangoOptions``); every
other key is watchkeeper.yml content, validated by the same code and with
the same messages (``settings.WATCHKEEPER: health.checks.0.type: ...``).
The site's ``DATABASES`` and ``CACHES`` are discovered: they become health
checks and collectors of ``manage.py watchkeeper run`` unless names clash
or ``discover`` is off.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

from watchkeeper.contrib.http import HttpOptions

if TYPE_CHECKING:
    from watchkeeper.config.model import Config

__all__ = ["DjangoOptions", "SiteSettings", "get_site_settings", "reset_site_settings"]


class ConfigError(Exception):
    """Problems with settings.WATCHKEEPER, one line each (like config.load.ConfigError)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# The integration's own options are plain dataclasses checked by hand, not
# pydantic models: every worker process loads them, and pydantic plus
# watchkeeper's configuration tree cost ~11 MiB of RSS per worker.


def _check(where: str, name: str, value: Any, kind: str) -> Any:
    ok = {
        "bool": isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool) and value > 0,
        "int": isinstance(value, int) and not isinstance(value, bool) and value >= 1,
        "str?": value is None or isinstance(value, str),
        "path?": value is None or isinstance(value, str | os.PathLike),
        "strs": isinstance(value, list | tuple) and all(isinstance(v, str) for v in value),
        "floats": isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value),
    }[kind]
    if not ok:
        expected = {
            "bool": "true or false",
            "float": "a positive number",
            "int": "a positive integer",
            "str?": "a string",
            "path?": "a directory path",
            "strs": "a list of strings",
            "floats": "a non-empty list of numbers",
        }[kind]
        raise ConfigError([f"{where}: {name}: expected {expected}, got {value!r}"])
    if kind == "path?" and value is not None:
        return Path(value).expanduser()
    if kind in ("strs", "floats"):
        return tuple(value)
    return value


def _fill(cls: Any, where: str, data: Any) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{where}: expected a dict, got {data!r}"])
    kinds: dict[str, str] = cls.KINDS
    unknown = sorted(set(data) - set(kinds))
    problems = [
        f"{where}: {key}: unknown option; expected one of: {', '.join(sorted(kinds))}"
        for key in unknown
    ]
    values = {}
    for key, value in data.items():
        if key in unknown:
            continue
        try:
            if kinds[key] == "http":
                values[key] = _fill(HttpSettings, f"{where}.http", value)
            else:
                values[key] = _check(where, key, value, kinds[key])
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return cls(**values)


@dataclass(frozen=True)
class HttpSettings(HttpOptions):
    """``WATCHKEEPER["django"]["http"]``: ``HttpOptions``, with the kind of each option."""

    KINDS: ClassVar[dict[str, str]] = {
        "slow_threshold": "float",
        "exact_status": "bool",
        "exclude_paths": "strs",
        "duration_buckets": "floats",
        "size_buckets": "floats",
        "max_series": "int",
    }

    def options(self) -> HttpOptions:
        return HttpOptions(**{f.name: getattr(self, f.name) for f in fields(HttpOptions)})


@dataclass(frozen=True)
class DjangoOptions:
    """``WATCHKEEPER["django"]``."""

    KINDS: ClassVar[dict[str, str]] = {
        "metrics_dir": "path?",
        "http": "http",
        "instrument_databases": "bool",
        "instrument_caches": "bool",
        "auth_signals": "bool",
        "staff_group": "str?",
        "operator_group": "str?",
        "admin_group": "str?",
        "metrics_tokens": "strs",
        "public_metrics": "bool",
        "trusted_proxies": "strs",
        "failed_login_window": "float",
        "failed_login_addresses": "int",
        "discover": "bool",
    }
    #: Where worker processes write their metrics; default ``$WATCHKEEPER_METRICS_DIR``,
    #: else ``$PROMETHEUS_MULTIPROC_DIR``, else in memory (one process only).
    metrics_dir: Path | None = None
    http: HttpSettings = field(default_factory=HttpSettings)
    #: Count database queries and their time (``connection.execute_wrapper``).
    instrument_databases: bool = True
    #: Count cache hits and misses per cache alias.
    instrument_caches: bool = True
    #: Count failed logins and staff logins (``django.contrib.auth`` signals).
    auth_signals: bool = True
    #: Who may see the status page, check details and /metrics: ``is_staff`` users,
    #: or members of this group (and superusers) when set.
    staff_group: str | None = None
    #: In the embedded dashboard, monitoring staff are operators (acknowledge,
    #: silence); with this set only its members are, the others viewers.
    operator_group: str | None = None
    #: Members of this group (and superusers) are the dashboard's admins.
    admin_group: str | None = None
    #: Bearer tokens that may scrape ``/metrics`` (a Prometheus has no session).
    metrics_tokens: tuple[str, ...] = field(default=(), repr=False)
    #: Let anyone scrape ``/metrics``.
    public_metrics: bool = False
    #: Addresses (or networks) of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    #: Failed logins are tracked per address over this window (seconds) ...
    failed_login_window: float = 300.0
    #: ... for at most this many addresses (the heaviest are kept).
    failed_login_addresses: int = 50
    #: Turn DATABASES and CACHES into health checks and collectors.
    discover: bool = True


class SiteSettings:
    """The parsed settings: the integration's options and watchkeeper's configuration.

    Worker processes only need ``options``; the full configuration (a large
    pydantic model tree, ~11 MiB per process) is validated when first used
    (health endpoints, ``manage.py watchkeeper``).
    """

    def __init__(
        self, options: DjangoOptions, raw: dict[str, Any] | None, config_file: Path | None
    ) -> None:
        self.options = options
        self._config: Config | None = None
        #: The inline configuration as written (secrets intact) for the CLI.
        self.raw = raw
        self.config_file = config_file

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = _parse_config(self.raw, self.config_file)
        return self._config

    @property
    def metrics_dir(self) -> Path | None:
        if self.options.metrics_dir is not None:
            return self.options.metrics_dir
        value = os.environ.get("WATCHKEEPER_METRICS_DIR") or os.environ.get(
            "PROMETHEUS_MULTIPROC_DIR"
        )
        return Path(value) if value else None

    def config_yaml(self) -> str:
        """watchkeeper.yml text for ``manage.py watchkeeper`` (discovered parts added)."""
        if self.config_file is not None:
            data = yaml.safe_load(self.config_file.read_text(encoding="utf-8")) or {}
        else:
            data = dict(self.raw or {})
        if self.options.discover:
            data = with_discovered(data)
        return yaml.safe_dump(_plain(data), sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def parse_site_settings(value: Any) -> SiteSettings:
    """Validate ``settings.WATCHKEEPER``; raise ConfigError with one line per problem."""
    where = "settings.WATCHKEEPER"
    if value is None:
        value = {}
    if isinstance(value, str | os.PathLike):
        value = {"config_file": value}
    if not isinstance(value, dict):
        raise ConfigError([f"{where}: expected a dict or the path of a watchkeeper.yml"])
    data = dict(value)
    django_part = data.pop("django", None) or {}
    config_file = data.pop("config_file", None)
    problems: list[str] = []
    options = DjangoOptions()
    try:
        options = _fill(DjangoOptions, f'{where}["django"]', django_part)
    except ConfigError as exc:
        problems += exc.problems
    if config_file is not None and data:
        problems.append(
            f"{where}: config_file is set, so move {', '.join(sorted(data))} into that file"
        )
    if problems:
        raise ConfigError(problems)
    path = Path(config_file) if config_file is not None else None
    return SiteSettings(options, None if path else data, path)


def _parse_config(raw: dict[str, Any] | None, path: Path | None) -> Config:
    """The full watchkeeper configuration; ConfigError names every problem."""
    from watchkeeper.config.load import ConfigError as FileConfigError
    from watchkeeper.config.load import parse_config

    where = "settings.WATCHKEEPER"
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"{where}: config_file {path}: cannot read: {exc}"]) from None
        try:
            return parse_config(text, str(path))  # type: ignore[no-any-return]
        except FileConfigError as exc:
            raise ConfigError(exc.problems) from None
    try:
        return parse_config(yaml.safe_dump(_plain(raw or {})), where)  # type: ignore[no-any-return]
    except FileConfigError as exc:
        # Line numbers of the YAML made from the dict mean nothing to the user.
        raise ConfigError(
            [re.sub(rf"^{re.escape(where)}:\d+: ", f"{where}: ", p) for p in exc.problems]
        ) from None


# -- discovery ---------------------------------------------------------------


def discovered_targets() -> dict[str, list[dict[str, Any]]]:
    """Collectors and health checks for the site's DATABASES and CACHES."""
    from django.conf import settings

    collectors: dict[str, list[dict[str, Any]]] = {"postgres": [], "mysql": [], "redis": []}
    checks: list[dict[str, Any]] = []
    for alias, db in getattr(settings, "DATABASES", {}).items():
        engine = str(db.get("ENGINE", ""))
        kind = "postgres" if "postgres" in engine else "mysql" if "mysql" in engine else None
        if kind is None:
            continue
        entry: dict[str, Any] = {"name": f"django-db-{alias}"}
        if db.get("HOST"):
            entry["host"] = db["HOST"]
        if db.get("PORT"):
            entry["port"] = int(db["PORT"])
        if db.get("USER"):
            entry["user"] = db["USER"]
        if db.get("PASSWORD"):
            entry["password"] = db["PASSWORD"]
        if db.get("NAME"):
            entry["database"] = db["NAME"]
        collectors[kind].append(entry)
        checks.append({**entry, "type": kind})
    for alias, cache in getattr(settings, "CACHES", {}).items():
        backend = str(cache.get("BACKEND", ""))
        location = cache.get("LOCATION")
        if "redis" not in backend.lower() or not location:
            continue
        url = location[0] if isinstance(location, list | tuple) else str(location)
        entry = {"name": f"django-cache-{alias}", "url": url}
        collectors["redis"].append(entry)
        checks.append({**entry, "type": "redis"})
    return {**collectors, "checks": checks}


def with_discovered(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` plus discovered collectors and checks whose names are not taken."""
    found = discovered_targets()
    data = dict(data)
    collectors = dict(data.get("collectors") or {})
    for kind in ("postgres", "mysql", "redis"):
        existing = list(collectors.get(kind) or [])
        names = {e.get("name") for e in existing}
        existing += [e for e in found[kind] if e["name"] not in names]
        if existing:
            collectors[kind] = existing
    data["collectors"] = collectors
    health = dict(data.get("health") or {})
    if "checks" in health or found["checks"]:
        checks = list(health.get("checks") or _default_check_dicts())
        names = {c.get("name") for c in checks}
        checks += [c for c in found["checks"] if c["name"] not in names]
        health["checks"] = checks
        data["health"] = health
    return data


def _default_check_dicts() -> list[dict[str, Any]]:
    return [
        {"name": "disk", "type": "disk", "critical": False},
        {"name": "memory", "type": "memory", "critical": False},
    ]


@lru_cache(maxsize=1)
def get_site_settings() -> SiteSettings:
    """The parsed ``settings.WATCHKEEPER`` (ImproperlyConfigured names every problem)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return parse_site_settings(getattr(settings, "WATCHKEEPER", None))
    except ConfigError as exc:
        raise ImproperlyConfigured("invalid WATCHKEEPER setting:\n" + str(exc)) from None


def reset_site_settings() -> None:
    get_site_settings.cache_clear()
