"""The always-firing Watchdog alert never floods ordinary receivers by default."""

from __future__ import annotations

from watchkeeper.config.load import parse_config
from watchkeeper.config.notify import NotifyConfig
from watchkeeper.notify.notifier import watchdog_alertname


def notify(text: str) -> NotifyConfig:
    cfg: NotifyConfig = parse_config(text, "x.yml").notify
    return cfg


def test_watchdog_is_kept_from_receivers_by_default() -> None:
    assert watchdog_alertname(notify("notify: {}\n")) == "Watchdog"


def test_a_route_naming_it_lets_it_through() -> None:
    cfg = notify(
        "notify:\n"
        "  receivers: [{name: snitch, webhook_configs: [{url: 'http://127.0.0.1:9/x'}]}]\n"
        "  route:\n"
        "    routes: [{matchers: ['alertname=\"Watchdog\"'], receiver: snitch}]\n"
    )
    assert watchdog_alertname(cfg) is None


def test_a_heartbeat_consumes_its_own_alertname() -> None:
    cfg = notify("notify:\n  heartbeat: {url: 'http://127.0.0.1:9/ping', alertname: Deadman}\n")
    assert watchdog_alertname(cfg) == "Deadman"


def test_default_inhibition_covers_threshold_pairs_only_with_an_inhibit_key() -> None:
    rules = notify("notify: {}\n").inhibit_rules
    keyed = [r for r in rules if "inhibit_key" in r.equal]
    assert len(keyed) == 1
    assert 'inhibit_key=~".+"' in keyed[0].target_matchers
