"""``watchkeeper run`` records the health checks: a history and an alert, not only /health."""

from __future__ import annotations

from pathlib import Path

from watchkeeper.config.health import HealthConfig
from watchkeeper.config.model import Config
from watchkeeper.health.build import build_health_runner
from watchkeeper.health.collector import HealthCollector
from watchkeeper.runtime.build import build_runner
from wk_testing import free_port


async def test_each_check_is_a_state_set_of_its_status() -> None:
    refused = f"127.0.0.1:{free_port()}"  # nothing listens: the probe fails
    cfg = HealthConfig.model_validate(
        {
            "checks": [
                {"name": "shop", "type": "probe", "probe": {"type": "tcp", "target": refused}},
                {
                    "name": "disk",
                    "type": "disk",
                    "critical": False,
                    "warn_percent": 100,
                    "fail_percent": 100,
                },
            ]
        }
    )
    runner = build_health_runner(cfg)
    collector = HealthCollector(runner, interval=30, timeout=5)
    samples = list(await collector.collect(1_000))
    runner.close()
    status = {
        (s.labels.get("check"), s.labels.get("status"), s.labels.get("critical")): s.value
        for s in samples
        if s.name == "health_check_status"
    }
    assert status == {
        ("shop", "pass", "true"): 0.0,
        ("shop", "warn", "true"): 0.0,
        ("shop", "fail", "true"): 1.0,
        ("disk", "pass", "false"): 1.0,
        ("disk", "warn", "false"): 0.0,
        ("disk", "fail", "false"): 0.0,
    }
    durations = {s.labels.get("check") for s in samples if s.name.endswith("duration_seconds")}
    assert durations == {"shop", "disk"}


def test_run_records_the_checks_and_the_web_shares_their_cache(tmp_path: Path) -> None:
    cfg = Config.model_validate(
        {"storage": {"path": str(tmp_path / "wk.db")}, "web": {"port": free_port()}}
    )
    runner = build_runner(cfg)
    try:
        (health,) = [c for c in runner.collectors if isinstance(c, HealthCollector)]
        assert health.interval == 30
        web = next(s for s in runner.services if s.name == "web")
        assert web.app.state.ctx.health is health.runner  # type: ignore[attr-defined]
    finally:
        runner.store.close()
    off = Config.model_validate(
        {"storage": {"path": str(tmp_path / "wk2.db")}, "health": {"interval": 0}}
    )
    runner = build_runner(off)
    try:
        assert not [c for c in runner.collectors if isinstance(c, HealthCollector)]
    finally:
        runner.store.close()
