"""The state machine, restore after restart, the extras and threshold sugar."""

from __future__ import annotations

from pathlib import Path

from watchkeeper.config.rules import AlertOptions, RulesConfig, Threshold
from watchkeeper.model import Labels, Sample
from watchkeeper.query.memory import MemoryStore
from watchkeeper.query.values import is_stale_nan
from watchkeeper.rules import RuleGroupRunner, load_rule_groups, parse_rule_text
from watchkeeper.rules.alerting import RuleOptions

RULES = """\
groups:
- name: g
  rules:
  - alert: High
    expr: v > 90
    for: 5m
    labels: {severity: critical}
  - alert: Broken
    expr: a + on(x) b
  - record: v:doubled
    expr: v * 2
"""
M = 60_000


def _runner(store: MemoryStore, options: dict[str, RuleOptions] | None = None) -> RuleGroupRunner:
    res = parse_rule_text(RULES, "r.yml")
    assert not res.errors
    return RuleGroupRunner(res.groups[0], store, interval=60, options=options)


def _feed(store: MemoryStore, minute: int, value: float | None) -> None:
    if value is not None:
        store.append([Sample("v", Labels({"host": "h"}), minute * M, value)])


def _state(runner: RuleGroupRunner) -> str:
    alerts = [a for a in runner.active_alerts() if a.labels.get("alertname") == "High"]
    return alerts[0].state.value if alerts else "inactive"


def test_pending_firing_resolved_and_failing_rule_isolated() -> None:
    st = MemoryStore()
    r = _runner(st)
    states = []
    for minute in range(9):
        st.append(
            [Sample("a", Labels({"x": "1", "y": str(i)}), minute * M, 1.0) for i in range(2)]
            + [Sample("b", Labels({"x": "1", "z": str(i)}), minute * M, 1.0) for i in range(2)]
        )
        _feed(st, minute, 95 if minute < 7 else 10)
        out = r.evaluate(minute * M)
        st.append(out)
        states.append(_state(r))
    assert states == ["pending"] * 5 + ["firing", "firing", "inactive", "inactive"]
    broken = next(x for x in r.rules if x.name == "Broken")
    assert broken.health == "err"
    assert "many-to-many" in broken.last_error
    doubled = next(x for x in r.rules if x.name == "v:doubled")
    assert doubled.health == "ok"


def test_alerts_series_and_stale_markers() -> None:
    st = MemoryStore()
    r = _runner(st)
    _feed(st, 0, 95)
    out0 = r.evaluate(0)
    names = {(s.name, s.labels.get("alertstate")) for s in out0}
    assert ("ALERTS", "pending") in names
    assert ("ALERTS_FOR_STATE", None) in names
    _feed(st, 1, 10)
    out1 = r.evaluate(M)
    stale = [s for s in out1 if s.name == "ALERTS"]
    import numpy as np

    assert stale
    assert all(is_stale_nan(np.array([s.value])) for s in stale)


def test_restore_after_restart_keeps_pending_time() -> None:
    st = MemoryStore()
    first = _runner(st)
    for minute in range(5):  # pending 4 of its 5 minutes at minute 4
        _feed(st, minute, 95)
        st.append(first.evaluate(minute * M))
    assert _state(first) == "pending"
    # Process stops for 2 minutes; a new runner starts at minute 7.
    second = _runner(st)
    second.enable_restore()
    _feed(st, 7, 95)
    st.append(second.evaluate(7 * M))
    _feed(st, 8, 95)
    st.append(second.evaluate(8 * M))
    assert _state(second) == "firing"  # 4 min before + 1 min after the restart
    fresh = _runner(MemoryStore())
    st2 = fresh.store
    assert isinstance(st2, MemoryStore)
    for minute in (7, 8):
        _feed(st2, minute, 95)
        fresh.evaluate(minute * M)
    assert _state(fresh) == "pending"  # without restore it starts from zero


def test_missed_evaluations_tolerated() -> None:
    st = MemoryStore()
    r = _runner(st, {"High": RuleOptions(missed_evaluations=1)})
    values = [95, 95, None, 95, 95, 95, 95]  # one missing scrape beyond lookback
    states = []
    for minute, v in enumerate(values):
        if v is not None:
            st.append([Sample("v", Labels({"host": "h"}), minute * M, v)])
        else:
            st.append([Sample("v", Labels({"host": "h"}), minute * M, 10.0)])
        r.evaluate(minute * M)
        states.append(_state(r))
    assert states[-2:] == ["firing", "firing"]
    plain = _runner(MemoryStore())
    pst = plain.store
    assert isinstance(pst, MemoryStore)
    for minute, v in enumerate(values):
        pst.append([Sample("v", Labels({"host": "h"}), minute * M, 10.0 if v is None else v)])
        plain.evaluate(minute * M)
    assert _state(plain) == "pending"  # Prometheus restarts `for`


def test_hysteresis_keep_while() -> None:
    st = MemoryStore()
    r = _runner(st, {"High": RuleOptions(keep_while="v > 80")})
    for minute, v in enumerate([95] * 6 + [85, 85, 70]):
        _feed(st, minute, v)
        r.evaluate(minute * M)
        if minute == 7:
            assert _state(r) == "firing"  # 85 is below 90 but above the resolve level
    assert _state(r) == "inactive"


def test_missing_data_policies() -> None:
    for policy, want in (("keep", "firing"), ("resolve", "inactive")):
        st = MemoryStore()
        r = _runner(st, {"High": RuleOptions(missing_data=policy)})  # type: ignore[arg-type]
        for minute in range(7):
            _feed(st, minute, 95)
            r.evaluate(minute * M)
        r.evaluate(20 * M)  # data gone for longer than the lookback
        assert _state(r) == want, policy
    st = MemoryStore()
    r = _runner(st, {"High": RuleOptions(missing_data="alert")})
    r.evaluate(0)
    names = {a.labels.get("alertname") for a in r.active_alerts()}
    assert "HighNoData" in names


def test_flap_detection_holds_firing() -> None:
    text = "groups:\n- name: g\n  rules:\n  - alert: High\n    expr: v > 90\n"
    spec = parse_rule_text(text).groups[0]
    st = MemoryStore()
    r = RuleGroupRunner(
        spec, st, interval=60, options={"High": RuleOptions(flap_window_s=600, flap_max_changes=3)}
    )
    for minute, v in enumerate([95, 10, 95, 10, 95, 10, 10]):
        _feed(st, minute, v)
        r.evaluate(minute * M)
    alerts = r.active_alerts()
    assert alerts
    assert alerts[0].state == "firing"
    assert alerts[0].flapping
    assert "flapping" in alerts[0].annotations


def test_thresholds_and_load_rule_groups(tmp_path: Path) -> None:
    rules = tmp_path / "r.yml"
    rules.write_text(RULES)
    cfg = RulesConfig(
        rule_files=[str(tmp_path / "*.yml")],
        thresholds={"host_cpu_usage_percent": Threshold(warning=75, critical=90, resolve_margin=5)},
        alerts={"High": AlertOptions(missed_evaluations=2)},
    )
    st = MemoryStore()
    groups = load_rule_groups(cfg, st, external_labels={"cluster": "c"})
    names = {r.name for g in groups for r in g.rules}
    assert {
        "HostCpuUsagePercentWarning",
        "HostCpuUsagePercentCritical",
        "High",
        "Watchdog",
    } <= names
    th = next(g for g in groups if g.name == "watchkeeper-thresholds")
    crit = next(r for r in th.rules if r.name.endswith("Critical"))
    assert crit.spec.labels["severity"] == "critical"  # type: ignore[union-attr]
    assert crit.options.keep_while == "host_cpu_usage_percent > 85"  # type: ignore[union-attr]
    st.append([Sample("host_cpu_usage_percent", Labels({"instance": "h"}), 0, 95.0)])
    out = [s for g in groups for s in g.evaluate(0)]
    firing = {s.labels.get("alertname") for s in out if s.name == "ALERTS"}
    assert {"Watchdog", "HostCpuUsagePercentWarning", "HostCpuUsagePercentCritical"} <= firing


def test_load_rule_groups_reports_all_errors(tmp_path: Path) -> None:
    import pytest

    from watchkeeper.rules import RuleFileError

    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n- name: g\n  rules:\n  - alert: X\n    expr: foo{\n")
    cfg = RulesConfig(
        rule_files=[str(bad), str(tmp_path / "missing-*.yml")],
        alerts={"Nope": AlertOptions()},
    )
    with pytest.raises(RuleFileError) as info:
        load_rule_groups(cfg, MemoryStore())
    text = str(info.value)
    assert "could not parse expression" in text
    assert "matches no file" in text
    assert "rules.alerts.Nope" in text


def test_a_default_pack_alert_can_be_turned_off_and_replaced() -> None:
    # The seeds' CPU levels (75/90) instead of the pack's HostHighCpuUsage at 85 %.
    cfg = RulesConfig(
        thresholds={"host_cpu_usage_percent": Threshold(warning=75, critical=90, for_=0)},
        alerts={
            "HostHighCpuUsage": AlertOptions(enabled=False),
            "watchkeeper-host/HostSwapUsage": AlertOptions(enabled=False),
        },
    )
    st = MemoryStore()
    groups = load_rule_groups(cfg, st)
    names = {r.name for g in groups for r in g.rules}
    assert "HostHighCpuUsage" not in names
    assert "HostSwapUsage" not in names
    assert {"HostHighMemoryUsage", "HostCpuUsagePercentWarning"} <= names  # the rest stays
    st.append([Sample("host_cpu_usage_percent", Labels({"instance": "h"}), 0, 95.0)])
    out = [s for g in groups for s in g.evaluate(0)]
    firing = {s.labels.get("alertname") for s in out if s.name == "ALERTS"}
    assert "HostHighCpuUsage" not in firing
    assert "HostCpuUsagePercentCritical" in firing
