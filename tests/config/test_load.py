"""Configuration errors must name the file, line and field, and what was expected."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from watchkeeper.config.duration import format_duration, parse_duration
from watchkeeper.config.load import ConfigError, load_config, parse_config
from watchkeeper.config.model import Config


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "watchkeeper.yml")
    return info.value.problems


def test_no_file_means_defaults(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(data_dir)
    loaded = load_config(None)
    assert loaded.path is None
    cfg = loaded.config
    assert cfg.collectors.host.enabled
    assert cfg.collectors.host.interval == 10.0
    assert cfg.storage.retention == 15 * 86400
    assert cfg.storage.retention_ms() == {
        0: 15 * 86400_000,
        60_000: 90 * 86400_000,
        3_600_000: 2 * 365 * 86400_000,
    }
    assert cfg.storage.path == data_dir / "watchkeeper.db"
    assert "instance" in cfg.global_.labels


def test_empty_file_and_empty_sections_are_defaults() -> None:
    assert parse_config("", "x.yml") == Config()
    assert parse_config("collectors:\n  host:\n", "x.yml") == Config()


def test_interval_out_of_range_names_line_and_field() -> None:
    text = "\n".join(["# header"] * 10) + "\ncollectors:\n  host:\n    interval: 0\n"
    assert problems(text) == [
        "watchkeeper.yml:13: collectors.host.interval: must be between 1 and 3600, got 0"
    ]


def test_durations_accept_prometheus_syntax() -> None:
    cfg = parse_config("collectors:\n  host:\n    interval: 1m30s\n", "x.yml")
    assert cfg.collectors.host.interval == 90.0
    assert parse_duration("500ms") == 0.5
    assert format_duration(5400) == "1h30m"
    assert problems("collectors:\n  host:\n    interval: soon\n") == [
        "watchkeeper.yml:3: collectors.host.interval: expected a duration such as 10s, 5m "
        "or 1h30m, got 'soon'"
    ]


def test_every_error_is_reported_in_line_order() -> None:
    text = (
        "log:\n"
        "  level: loud\n"
        "collectors:\n"
        "  hots: {}\n"
        "  host:\n"
        "    interval: 7200\n"
        "storage:\n"
        "  batch_size: many\n"
    )
    found = problems(text)
    assert len(found) == 4
    assert found[0].startswith("watchkeeper.yml:2: log.level: Input should be 'debug'")
    assert found[0].endswith("got 'loud'")
    assert found[1] == "watchkeeper.yml:4: collectors.hots: unknown setting (did you mean 'host'?)"
    assert found[2] == (
        "watchkeeper.yml:6: collectors.host.interval: must be between 1 and 3600, got 7200"
    )
    assert found[3].startswith(
        "watchkeeper.yml:8: storage.batch_size: Input should be a valid integer"
    )


def test_unknown_setting_without_close_match_lists_the_choices() -> None:
    (found,) = problems("storage:\n  zzz: 1\n")
    assert found.startswith("watchkeeper.yml:2: storage.zzz: unknown setting; expected one of:")
    assert "retention" in found


def test_error_inside_a_list_points_at_the_item() -> None:
    text = "collectors:\n  host:\n    processes:\n      - nginx\n      - {name: web, colour: red}\n"
    (found,) = problems(text)
    assert found.startswith(
        "watchkeeper.yml:5: collectors.host.processes.1.colour: unknown setting"
    )


def test_environment_interpolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WK_PATH", "/srv/wk.db")
    monkeypatch.setenv("WK_ENV", "prod")
    cfg = parse_config(
        "storage:\n  path: ${WK_PATH}\nglobal:\n  labels: {env: '${WK_ENV}', cost: '$$5',"
        " region: '${WK_REGION:-eu}'}\n",
        "x.yml",
    )
    assert str(cfg.storage.path) == "/srv/wk.db"
    assert cfg.global_.labels == {
        "instance": socket.gethostname(),
        "env": "prod",
        "cost": "$5",
        "region": "eu",
    }


def test_missing_environment_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WK_NOT_SET", raising=False)
    assert problems("log:\n  format: json\nstorage:\n  path: ${WK_NOT_SET}\n") == [
        "watchkeeper.yml:4: environment variable WK_NOT_SET is not set "
        "(write ${WK_NOT_SET:-default} for a fallback)"
    ]


def test_secret_from_environment_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WK_SECRET", "hunter2-very-secret")
    (found,) = problems("log:\n  level: ${WK_SECRET}\n")
    assert "hunter2" not in found
    assert found.startswith("watchkeeper.yml:2: log.level:")
    assert "from the environment (not shown)" in found


def test_invalid_yaml_names_the_line() -> None:
    (found,) = problems("log:\n  level: [info\nstorage: {}\n")
    assert found.startswith("watchkeeper.yml:")
    assert "invalid YAML" in found


def test_top_level_must_be_a_mapping() -> None:
    assert problems("- a\n- b\n") == [
        "watchkeeper.yml:1: expected a mapping of settings at the top level"
    ]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.yml")
    assert info.value.problems[0].startswith(f"{tmp_path / 'missing.yml'}: cannot read")


def test_invalid_global_label_name() -> None:
    (found,) = problems("global:\n  labels: {'bad-name': x}\n")
    assert found.startswith("watchkeeper.yml:2: global.labels: invalid label name 'bad-name'")


def test_shipped_example_is_valid_and_equals_defaults() -> None:
    from watchkeeper.cli.config_cmd import example_config

    cfg = parse_config(example_config(), "example.yml")
    defaults = Config()
    # The example writes `labels: {}`, so only the instance default differs.
    assert cfg.model_dump(exclude={"global_"}) == defaults.model_dump(exclude={"global_"})


def test_instance_label_is_kept_unless_dropped() -> None:
    cfg = parse_config("global:\n  labels: {env: prod}\n", "x.yml")
    assert cfg.global_.labels == {"instance": socket.gethostname(), "env": "prod"}
    cfg = parse_config("global:\n  labels: {instance: web-1}\n", "x.yml")
    assert cfg.global_.labels == {"instance": "web-1"}
    cfg = parse_config("global:\n  labels: {instance: ''}\n", "x.yml")
    assert cfg.global_.labels == {}


def test_negative_durations_are_refused() -> None:
    (found,) = problems("storage:\n  flush_interval: -1\n")
    assert found == (
        "watchkeeper.yml:2: storage.flush_interval: a duration cannot be negative, got -1"
    )
