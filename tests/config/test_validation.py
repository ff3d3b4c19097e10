"""Values that cannot work, or contradict each other, are refused at the setting's line."""

from __future__ import annotations

import pytest

from watchkeeper.config.load import ConfigError, parse_config


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "watchkeeper.yml")
    return info.value.problems


def accepted(text: str) -> None:
    parse_config(text, "watchkeeper.yml")


# -- where errors land -------------------------------------------------------------


def test_a_key_written_twice_is_refused_not_silently_dropped() -> None:
    text = "collectors:\n  host:\n    interval: 30s\n  self: {}\n  host:\n    per_cpu: false\n"
    assert problems(text) == [
        "watchkeeper.yml:5: collectors.host: set twice (first on line 2); "
        "YAML would keep only this one: remove one"
    ]


def test_yaml_merge_keys_are_not_duplicates() -> None:
    cfg = parse_config(
        "collectors:\n  probes:\n"
        "    - &p {name: a, url: 'http://a/', interval: 1m}\n"
        "    - {<<: *p, name: b}\n",
        "watchkeeper.yml",
    )
    assert [(p.name, p.interval) for p in cfg.collectors.probes] == [("a", 60.0), ("b", 60.0)]


def test_errors_inside_a_typed_check_name_the_setting_and_its_line() -> None:
    text = "health:\n  checks:\n    - name: d\n      type: disk\n      warn_percent: 200\n"
    assert problems(text) == [
        "watchkeeper.yml:5: health.checks.0.warn_percent: "
        "Input should be less than or equal to 100, got 200"
    ]
    (found,) = problems("health:\n  checks:\n    - {name: d, type: disk, pth: /}\n")
    assert found == "watchkeeper.yml:3: health.checks.0.pth: unknown setting (did you mean 'path'?)"


def test_errors_inside_a_probe_check_name_the_probe_setting() -> None:
    text = "health:\n  checks:\n    - name: api\n      type: probe\n"
    assert problems(text) == [
        "watchkeeper.yml:3: health.checks.0.probe: required setting is missing"
    ]
    text += "      probe:\n        urll: http://x/\n"
    assert problems(text) == [
        "watchkeeper.yml:6: health.checks.0.probe.url: required setting is missing",
        "watchkeeper.yml:6: health.checks.0.probe.urll: unknown setting (did you mean 'url'?)",
    ]


def test_a_self_referencing_alias_is_an_error_not_a_hang() -> None:
    assert problems("global:\n  labels: &a {x: *a}\n") == [
        "watchkeeper.yml:2: global.labels.x: Input should be a valid string"
    ]


def test_errors_under_an_upper_case_key_keep_the_key() -> None:
    text = "rules:\n  alerts:\n    HostHighCpuUsage:\n      missed_evaluations: -1\n"
    assert problems(text) == [
        "watchkeeper.yml:4: rules.alerts.HostHighCpuUsage.missed_evaluations: "
        "Input should be greater than or equal to 0, got -1"
    ]


def test_a_literal_secret_of_the_wrong_type_is_not_echoed() -> None:
    text = "notify:\n  heartbeat:\n    url: 918273645\n"
    (found,) = problems(text)
    assert "918273645" not in found
    assert found == (
        "watchkeeper.yml:3: notify.heartbeat.url: Input should be a valid string "
        "(the value of a secret setting is not shown)"
    )


# -- collectors --------------------------------------------------------------------


def test_collector_timeout_longer_than_its_interval() -> None:
    assert problems("collectors:\n  host:\n    interval: 5s\n    timeout: 6s\n") == [
        "watchkeeper.yml:4: collectors.host.timeout: the timeout 6s is longer than the "
        "interval 5s: a collection must end before the next one is due "
        "(give a timeout up to the interval)"
    ]
    # Probes run every 30 s unless told otherwise: the default interval counts too.
    text = "collectors:\n  probes:\n    - name: home\n      url: https://x/\n      timeout: 45s\n"
    assert problems(text) == [
        "watchkeeper.yml:5: collectors.probes.0.timeout: the timeout 45s is longer than the "
        "interval 30s: a collection must end before the next one is due "
        "(give a timeout up to the interval)"
    ]
    accepted("collectors:\n  host:\n    interval: 5s\n    timeout: 5s\n")


def test_duplicate_instance_names_point_at_the_second_one() -> None:
    text = (
        "collectors:\n  redis:\n    - {name: cache}\n    - {name: queue}\n"
        "    - name: cache\n      port: 6380\n"
    )
    assert problems(text) == [
        "watchkeeper.yml:5: collectors.redis.2.name: duplicate name 'cache': another entry "
        "of this kind has it (give each instance its own name)"
    ]


def test_duplicate_scrape_jobs() -> None:
    text = (
        "collectors:\n  scrape:\n    - job: shop\n      targets: ['127.0.0.1:8000']\n"
        "    - job: shop\n      targets: ['127.0.0.1:8001']\n"
    )
    assert problems(text) == [
        "watchkeeper.yml:5: collectors.scrape.1.job: duplicate job 'shop': another scrape "
        "entry has it (list every target of a job under one entry, or give each its own job)"
    ]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "127.0.0.1:99999",
            "the port must be a number between 1 and 65535, got 'http://127.0.0.1:99999'",
        ),
        ("127.0.0.1:0", "the port must be between 1 and 65535, got 'http://127.0.0.1:0'"),
        (":9100", "the host is missing, got 'http://:9100'"),
        ("http://:9100/metrics", "the host is missing, got 'http://:9100/metrics'"),
        (
            "ftp://scraper:pw@10.0.0.7/metrics",
            "a target URL must start with http:// or https://, got 'ftp://scraper:***@10.0.0.7/metrics'",
        ),
        (
            "10.0.0.7:9100/metrics",
            "expected host:port (set the path with metrics_path) or a full URL, "
            "got '10.0.0.7:9100/metrics'",
        ),
    ],
)
def test_unusable_scrape_targets(target: str, message: str) -> None:
    text = f"collectors:\n  scrape:\n    - job: app\n      targets:\n        - '{target}'\n"
    assert problems(text) == [f"watchkeeper.yml:5: collectors.scrape.0.targets.0: {message}"]


def test_scrape_targets_that_work() -> None:
    accepted(
        "collectors:\n  scrape:\n    - job: app\n      targets: [localhost, '10.0.0.7:9100', "
        "'[::1]:9100', 'https://u:p@app.example/m?x=1']\n"
    )


def test_metrics_path_must_be_absolute() -> None:
    text = "collectors:\n  scrape:\n    - job: app\n      targets: [h:1]\n      metrics_path: m\n"
    assert problems(text) == [
        "watchkeeper.yml:5: collectors.scrape.0.metrics_path: the path must start with '/', got 'm'"
    ]


def test_probe_target_port_out_of_range_at_the_target_line() -> None:
    text = "collectors:\n  probes:\n    - name: smtp\n      type: tcp\n      target: mail:70000\n"
    assert problems(text) == [
        "watchkeeper.yml:5: collectors.probes.0.target: tcp probe 'smtp': the port must be "
        "between 1 and 65535, got 'mail:70000'"
    ]
    text = "collectors:\n  probes:\n    - name: home\n      url: 'https://:443/'\n"
    assert problems(text) == [
        "watchkeeper.yml:4: collectors.probes.0.url: http probe 'home': the host is missing, "
        "got 'https://:443/'"
    ]


def test_redis_needs_a_host_and_a_redis_url() -> None:
    text = "collectors:\n  redis:\n    - name: cache\n      host: ''\n"
    assert problems(text) == [
        "watchkeeper.yml:4: collectors.redis.0.host: the host is empty, got '': "
        "give a host name or address"
    ]
    text = "collectors:\n  redis:\n    - name: cache\n      url: 'http://:hunter2@cache:6379'\n"
    (found,) = problems(text)
    assert "hunter2" not in found
    assert found == (
        "watchkeeper.yml:4: collectors.redis.0.url: expected a redis://, rediss:// or "
        "unix:// URL, got scheme 'http'"
    )


def test_duplicate_query_names() -> None:
    text = (
        "collectors:\n  sql_metrics:\n    - queries:\n"
        "        - {name: orders, sql: SELECT 1}\n"
        "        - {name: orders, sql: SELECT 2}\n"
    )
    assert problems(text) == [
        "watchkeeper.yml:5: collectors.sql_metrics.0.queries.1.name: duplicate query name "
        "'orders': both queries would write the series sql_orders* (give each query its own name)"
    ]


# -- rules -------------------------------------------------------------------------


def test_warning_beyond_critical() -> None:
    text = "rules:\n  thresholds:\n    host_cpu_usage_percent: {warning: 90, critical: 75}\n"
    assert problems(text) == [
        "watchkeeper.yml:3: rules.thresholds.host_cpu_usage_percent.warning: warning 90 is "
        "above critical 75 with op '>': the warning level must be lower than (or equal to) "
        "the critical one"
    ]
    text = (
        "rules:\n  thresholds:\n    redis_hit_rate_percent:\n      op: '<='\n"
        "      warning: 50\n      critical: 70\n"
    )
    assert problems(text) == [
        "watchkeeper.yml:5: rules.thresholds.redis_hit_rate_percent.warning: warning 50 is "
        "below critical 70 with op '<=': the warning level must be higher than (or equal to) "
        "the critical one"
    ]
    accepted(
        "rules:\n  thresholds:\n    a: {warning: 80, critical: 80}\n"
        "    b: {warning: 85, critical: 70, op: '<'}\n"
        "    c: {warning: 2, critical: 1, op: '=='}\n"
    )


def test_resolve_margin_must_be_a_positive_distance_on_a_side() -> None:
    text = "rules:\n  thresholds:\n    m: {warning: 1, op: '!=', resolve_margin: 1}\n"
    assert problems(text) == [
        "watchkeeper.yml:3: rules.thresholds.m.resolve_margin: resolve_margin needs op >, >=, "
        "< or <=, got op '!=': an equality has no side to hold on"
    ]
    text = "rules:\n  thresholds:\n    m: {warning: 1, resolve_margin: -5}\n"
    assert problems(text) == [
        "watchkeeper.yml:3: rules.thresholds.m.resolve_margin: "
        "Input should be greater than or equal to 0, got -5"
    ]


def test_threshold_levels_must_be_numbers() -> None:
    text = "rules:\n  thresholds:\n    m:\n      critical: .nan\n"
    assert problems(text) == [
        "watchkeeper.yml:4: rules.thresholds.m.critical: Input should be a finite number, got nan"
    ]


def test_flap_detection_needs_both_settings() -> None:
    text = "rules:\n  alerts:\n    QueueBacklog:\n      flap_window: 30m\n"
    assert problems(text) == [
        "watchkeeper.yml:4: rules.alerts.QueueBacklog.flap_window: flap detection needs "
        "both flap_window and flap_max_changes, got flap_window 30m and flap_max_changes 0 "
        "(set both above 0, or neither)"
    ]
    text = "rules:\n  alerts:\n    QueueBacklog:\n      flap_max_changes: 4\n"
    assert problems(text) == [
        "watchkeeper.yml:4: rules.alerts.QueueBacklog.flap_max_changes: flap detection needs "
        "both flap_window and flap_max_changes, got flap_window 0s and flap_max_changes 4 "
        "(set both above 0, or neither)"
    ]


@pytest.mark.parametrize(
    "setting",
    [
        "rules:\n  evaluation_interval: 0",
        "storage:\n  flush_interval: 0",
        "web:\n  query_timeout: 0",
        "web:\n  auth:\n    session_lifetime: 0",
        "web:\n  auth:\n    login_window: 0",
    ],
)
def test_durations_that_must_not_be_zero(setting: str) -> None:
    *sections, last = setting.split("\n")
    where = ".".join(s.strip().rstrip(":") for s in sections) + "." + last.strip().split(":")[0]
    line = len(sections) + 1
    assert problems(setting + "\n") == [
        f"watchkeeper.yml:{line}: {where}: must be greater than 0, got 0s"
    ]


# -- health --------------------------------------------------------------------------


def test_warn_percent_above_fail_percent() -> None:
    text = "health:\n  checks:\n    - name: disk\n      type: disk\n      warn_percent: 97\n"
    assert problems(text) == [
        "watchkeeper.yml:5: health.checks.0.warn_percent: warn_percent 97 is above "
        "fail_percent 95: the check would fail before it could warn "
        "(give a warn_percent up to fail_percent)"
    ]
    text = "health:\n  checks:\n    - {name: mem, type: memory, fail_percent: 80}\n"
    assert problems(text) == [
        "watchkeeper.yml:3: health.checks.0.fail_percent: warn_percent 90 is above "
        "fail_percent 80: the check would fail before it could warn "
        "(give a warn_percent up to fail_percent)"
    ]


def test_duplicate_check_names_point_at_the_second_one() -> None:
    text = (
        "health:\n  checks:\n    - {name: disk, type: disk}\n"
        "    - {name: disk, type: disk, path: /var}\n"
    )
    assert problems(text) == [
        "watchkeeper.yml:4: health.checks.1.name: duplicate check name 'disk': /health/disk "
        "and the report could not tell the two apart (give each check its own name)"
    ]


# -- web -----------------------------------------------------------------------------


def test_web_address_and_proxies() -> None:
    text = "web:\n  listen: ''\n  trusted_proxies:\n    - 10.0.0.0/8\n    - proxy.internal\n"
    assert problems(text) == [
        "watchkeeper.yml:2: web.listen: the address is empty, got '': give 127.0.0.1 "
        "(this machine only) or 0.0.0.0 / :: (every interface)",
        "watchkeeper.yml:5: web.trusted_proxies.1: expected an IP address or network such as "
        "10.0.0.1 or 10.0.0.0/8, got 'proxy.internal'",
    ]
    accepted("web:\n  listen: '::'\n  trusted_proxies: [127.0.0.1, '::1', 10.1.2.3/16]\n")


# -- notify --------------------------------------------------------------------------


def test_smarthost_port_out_of_range() -> None:
    text = (
        "notify:\n  receivers:\n    - name: team\n      email_configs:\n"
        "        - to: [ops@shop.example]\n          smarthost: smtp.shop.example:0\n"
    )
    assert problems(text) == [
        "watchkeeper.yml:6: notify.receivers.0.email_configs.0.smarthost: the port must be "
        "between 1 and 65535, got 'smtp.shop.example:0'"
    ]


def test_duplicate_receiver_names_point_at_the_second_one() -> None:
    text = "notify:\n  receivers:\n    - name: team\n    - name: oncall\n    - name: team\n"
    assert problems(text) == [
        "watchkeeper.yml:5: notify.receivers.2.name: receiver name 'team' is defined twice: "
        "routes could not tell the two apart (give each receiver its own name)"
    ]


def test_unknown_receiver_points_at_the_reference() -> None:
    text = (
        "notify:\n  receivers:\n    - name: team\n  route:\n    receiver: team\n"
        "    routes:\n      - matchers: ['severity=\"critical\"']\n"
        "        escalate:\n          - {after: 15m, receiver: pagerdty}\n"
    )
    assert problems(text) == [
        "watchkeeper.yml:9: notify.route.routes.0.escalate.0.receiver: unknown receiver "
        "'pagerdty'; defined: console, team"
    ]


def test_duplicate_maintenance_window_names() -> None:
    text = (
        "notify:\n  maintenance:\n    - {name: backup, start: '01:00', end: '02:00'}\n"
        "    - name: backup\n      weekdays: [sunday]\n"
    )
    assert problems(text) == [
        "watchkeeper.yml:4: notify.maintenance.1.name: maintenance window name 'backup' is "
        "used twice: muted alerts and `watchkeeper maintenance list` could not tell the two "
        "apart (give each window its own name)"
    ]


def test_maintenance_windows_that_cannot_work() -> None:
    text = (
        "notify:\n  maintenance:\n"
        "    - {name: a, start: '02:00', end: '02:00'}\n"
        "    - {name: b, weekdays: []}\n"
        "    - {name: c, start: '24:00', end: '02:00'}\n"
    )
    assert problems(text) == [
        "watchkeeper.yml:3: notify.maintenance.0.end: the window starts and ends at 02:00, so "
        "it is empty or lasts the whole day: give a different end "
        "(for whole days: start 00:00, end 24:00)",
        "watchkeeper.yml:4: notify.maintenance.1.weekdays: no weekday is never, got []: list at "
        "least one day (or leave weekdays out for every day)",
        "watchkeeper.yml:5: notify.maintenance.2.start: 24:00 is only valid as the end of a "
        "window, got '24:00': start the window at 00:00 of the following day",
    ]
    accepted("notify:\n  maintenance:\n    - {name: all day, start: '00:00', end: '24:00'}\n")


def test_initial_backoff_longer_than_max_backoff() -> None:
    text = "notify:\n  delivery:\n    initial_backoff: 10m\n"
    assert problems(text) == [
        "watchkeeper.yml:3: notify.delivery.initial_backoff: initial_backoff 10m is longer "
        "than max_backoff 5m: the first retry would already be cut to max_backoff "
        "(give an initial_backoff up to max_backoff)"
    ]
    text = "notify:\n  delivery:\n    max_backoff: 500ms\n"
    assert problems(text) == [
        "watchkeeper.yml:3: notify.delivery.max_backoff: initial_backoff 1s is longer "
        "than max_backoff 500ms: the first retry would already be cut to max_backoff "
        "(give an initial_backoff up to max_backoff)"
    ]
