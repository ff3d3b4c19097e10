"""Header values (scrape, probe, e-mail) are secrets: never in a repr, a dump or an error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchkeeper.cli.app import app
from watchkeeper.config.headers import header_values
from watchkeeper.config.load import ConfigError, parse_config
from watchkeeper.config.model import Config

TOKEN = "wk-s3cret-token-0123456789"

CONFIG = f"""\
collectors:
  scrape:
    - job: shop
      targets: [127.0.0.1:8000]
      headers: {{Authorization: "Bearer {TOKEN}"}}
  probes:
    - name: api
      url: https://shop.example/api
      headers: {{X-Api-Key: "{TOKEN}"}}
notify:
  receivers:
    - name: team
      email_configs:
        - to: [ops@shop.example]
          headers: {{X-Mailer-Token: "{TOKEN}"}}
"""


def loaded() -> Config:
    cfg = parse_config(CONFIG, "watchkeeper.yml")
    assert isinstance(cfg, Config)
    return cfg


def test_header_values_are_hidden_in_reprs_and_dumps() -> None:
    cfg = loaded()
    scrape = cfg.collectors.scrape[0]
    probe = cfg.collectors.probes[0]
    email = cfg.notify.receivers[0].email_configs[0]
    for shown in (
        repr(cfg),
        str(cfg),
        repr(scrape),
        repr(scrape.headers),
        str(probe.headers),
        repr(email),
        str(cfg.model_dump()),
        str(cfg.model_dump(by_alias=True)),
        cfg.model_dump_json(),
        scrape.model_dump_json(),
    ):
        assert TOKEN not in shown
    assert "Authorization" in repr(scrape.headers)  # the names stay visible
    assert "**********" in scrape.model_dump_json()


def test_the_senders_get_the_real_values() -> None:
    cfg = loaded()
    assert header_values(cfg.collectors.scrape[0].headers) == {"Authorization": f"Bearer {TOKEN}"}
    assert header_values(cfg.collectors.probes[0].headers) == {"X-Api-Key": TOKEN}
    email = cfg.notify.receivers[0].email_configs[0]
    assert header_values(email.headers) == {"X-Mailer-Token": TOKEN}


def test_header_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WK_SCRAPE_TOKEN", TOKEN)
    cfg = parse_config(
        "collectors:\n  scrape:\n    - job: a\n      targets: [h:1]\n"
        "      headers: {Authorization: 'Bearer ${WK_SCRAPE_TOKEN}'}\n",
        "x.yml",
    )
    assert header_values(cfg.collectors.scrape[0].headers) == {"Authorization": f"Bearer {TOKEN}"}
    assert TOKEN not in repr(cfg)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            # A token written as a bare number is refused without being shown.
            "{X-Api-Key: 918273645012}",
            "watchkeeper.yml:5: collectors.scrape.0.headers.X-Api-Key: the value of header "
            "'X-Api-Key' must be a string, got a number (quote it in YAML; the value is not shown)",
        ),
        (
            "{X-Api-Key: [918273645012]}",
            "watchkeeper.yml:5: collectors.scrape.0.headers.X-Api-Key: the value of header "
            "'X-Api-Key' must be a string, got a list (quote it in YAML; the value is not shown)",
        ),
        (
            '{X-Api-Key: "918273645012\\r\\nX-Admin: 1"}',
            "watchkeeper.yml:5: collectors.scrape.0.headers.X-Api-Key: the value of header "
            "'X-Api-Key' contains a line break, which HTTP does not allow (the value is not shown)",
        ),
        (
            '{"X Api Key": "918273645012"}',
            "watchkeeper.yml:5: collectors.scrape.0.headers.X Api Key: invalid header name "
            "'X Api Key': use letters, digits and - (no spaces or ':')",
        ),
    ],
)
def test_bad_headers_are_refused_without_showing_the_value(headers: str, expected: str) -> None:
    text = f"collectors:\n  scrape:\n    - job: a\n      targets: [h:1]\n      headers: {headers}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "watchkeeper.yml")
    assert info.value.problems == [expected]
    assert "918273645012" not in str(info.value)


def test_other_errors_next_to_a_header_do_not_show_it() -> None:
    text = CONFIG.replace("127.0.0.1:8000", "127.0.0.1:99999").replace(
        "ops@shop.example]", "ops@shop.example]\n          smarthost: nowhere"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "watchkeeper.yml")
    assert len(info.value.problems) == 2
    assert TOKEN not in str(info.value)


def test_config_check_never_prints_a_header_value(data_dir: Path) -> None:
    runner = CliRunner()
    good = data_dir / "watchkeeper.yml"
    good.write_text(CONFIG)
    result = runner.invoke(app, ["config", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    bad = data_dir / "bad.yml"
    bad.write_text(CONFIG.replace("job: shop", "job: 'shop!'"))
    result = runner.invoke(app, ["config", "check", str(bad)])
    assert result.exit_code == 2
    assert "collectors.scrape.0.job" in result.output
    assert TOKEN not in result.output


def test_logging_a_config_does_not_leak(caplog: pytest.LogCaptureFixture) -> None:
    cfg = loaded()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("watchkeeper.test").info("config: %s / %r", cfg, cfg.collectors)
    assert "config:" in caplog.text
    assert TOKEN not in caplog.text
