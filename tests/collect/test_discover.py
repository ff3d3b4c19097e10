"""Discovery of local services for ``watchkeeper init``."""

from __future__ import annotations

from watchkeeper.collect.discover import describe_discovery, discover_services
from watchkeeper.config.collectors import CollectorsConfig
from watchkeeper.config.health import HealthConfig
from wk_testing import require_service


def test_finds_redis_and_entries_validate() -> None:
    require_service("redis", port=6379)
    found = discover_services(timeout=0.5)
    kinds = {s.kind for s in found}
    assert "redis" in kinds
    # Every entry is valid configuration as written (after ${ENV:-default} expansion).
    redis = next(s for s in found if s.kind == "redis")
    cfg = CollectorsConfig.model_validate({"redis": [redis.config]})
    assert cfg.redis[0].port == 6379
    HealthConfig.model_validate({"checks": [redis.health_check]})
    assert "Redis on 127.0.0.1:6379" in describe_discovery(found)


def test_nothing_found_on_an_unused_address() -> None:
    found = discover_services(timeout=0.2, host="127.0.0.254")
    assert found == [] or all(s.host == "127.0.0.254" for s in found)
    if not found:
        assert describe_discovery([], "127.0.0.254").startswith("found no services on 127.0.0.254")
