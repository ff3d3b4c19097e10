"""E-mail over TLS with a login, against a real SMTP server (aiosmtpd) with its own certificate.

The common production set-up (a relay on 587 with STARTTLS and a password,
or 465 with TLS from the start) and what must not happen: a password sent
before TLS, a certificate from nobody the configuration trusts accepted.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.config.load import ConfigError, parse_config
from watchkeeper.config.notify import split_host_port
from watchkeeper.model import Labels
from wk_testing import self_signed_cert

from .conftest import notify_config, running
from .peers import SmtpSink

USER, PASSWORD = "alerts@shop.example", "s3cret-smtp-pass"


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path)


def server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    return ctx


@pytest.fixture
def starttls_sink(cert: tuple[Path, Path]) -> Iterator[SmtpSink]:
    sink = SmtpSink(starttls=server_context(cert), login=(USER, PASSWORD)).start()
    yield sink
    sink.stop()


def email_cfg(sink: SmtpSink, **target: object) -> object:
    return notify_config(
        receivers=[
            {
                "name": "ops",
                "email_configs": [
                    {"to": ["ops@shop.example"], "smarthost": f"localhost:{sink.port}", **target}
                ],
            }
        ],
        route={"receiver": "ops", "group_wait": 0, "group_by": ["alertname"]},
        delivery={"initial_backoff": "100ms", "max_backoff": "200ms"},
    )


def disk_full() -> InboundAlert:
    return InboundAlert(
        Labels({"alertname": "DiskFull", "instance": "db-1", "severity": "critical"}),
        {"summary": "disk almost full"},
        starts_at_ms=now_ms() - 1000,
    )


async def test_starttls_and_login_deliver(
    starttls_sink: SmtpSink,
    cert: tuple[Path, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = email_cfg(
        starttls_sink, tls="starttls", ca_file=str(cert[0]), username=USER, password=PASSWORD
    )
    async with running(cfg, tmp_path / "alerts.db") as notifier:  # type: ignore[arg-type]
        notifier.receive([disk_full()])
        assert await asyncio.to_thread(starttls_sink.wait_for, 1)
    assert starttls_sink.items[0]["Subject"] == "[FIRING:1] DiskFull (CRITICAL)"
    assert [(user, ok) for _, user, ok in starttls_sink.auth_attempts] == [(USER, True)]
    assert PASSWORD not in caplog.text


# The sink lets AUTH through on its implicit-TLS port (see peers.SmtpSink).
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_tls_from_the_start_delivers(cert: tuple[Path, Path], tmp_path: Path) -> None:
    sink = SmtpSink(implicit_tls=server_context(cert), login=(USER, PASSWORD)).start()
    try:
        cfg = email_cfg(sink, tls="ssl", ca_file=str(cert[0]), username=USER, password=PASSWORD)
        async with running(cfg, tmp_path / "alerts.db") as notifier:  # type: ignore[arg-type]
            notifier.receive([disk_full()])
            assert await asyncio.to_thread(sink.wait_for, 1)
        assert [(user, ok) for _, user, ok in sink.auth_attempts] == [(USER, True)]
    finally:
        sink.stop()


async def test_an_untrusted_certificate_keeps_the_mail_queued(
    starttls_sink: SmtpSink, tmp_path: Path
) -> None:
    # No ca_file: the system's CAs do not know this server's certificate.
    cfg = email_cfg(starttls_sink, tls="starttls", username=USER, password=PASSWORD)
    async with running(cfg, tmp_path / "alerts.db") as notifier:  # type: ignore[arg-type]
        notifier.receive([disk_full()])

        def failed_once() -> list[object]:
            return notifier.db.query(
                "SELECT state, attempts, last_error FROM outbox WHERE attempts > 0"
            )

        while not (rows := await asyncio.to_thread(failed_once)):
            await asyncio.sleep(0.05)
    state, _, error = tuple(rows[0])  # type: ignore[arg-type]
    assert state == "pending"  # kept for the next try, not dropped
    assert "CERTIFICATE_VERIFY_FAILED" in error
    assert starttls_sink.items == []
    assert starttls_sink.auth_attempts == []  # the password never left


async def test_verify_tls_off_accepts_any_certificate(
    starttls_sink: SmtpSink, tmp_path: Path
) -> None:
    cfg = email_cfg(
        starttls_sink, tls="starttls", verify_tls=False, username=USER, password=PASSWORD
    )
    async with running(cfg, tmp_path / "alerts.db") as notifier:  # type: ignore[arg-type]
        notifier.receive([disk_full()])
        assert await asyncio.to_thread(starttls_sink.wait_for, 1)


def test_a_password_in_clear_text_to_a_remote_relay_is_refused() -> None:
    text = f"""
notify:
  receivers:
    - name: ops
      email_configs:
        - to: [ops@shop.example]
          smarthost: smtp.shop.example:25
          username: {USER}
          password: {PASSWORD}
  route: {{receiver: ops}}
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "watchkeeper.yml")
    (problem,) = info.value.problems
    assert problem.startswith("watchkeeper.yml:8: notify.receivers.0.email_configs.0.username: ")
    assert "clear text" in problem
    assert "smtp.shop.example" in problem
    assert PASSWORD not in problem
    # A relay on this machine may take a login without TLS.
    parse_config(text.replace("smtp.shop.example", "127.0.0.1"), "watchkeeper.yml")


@pytest.mark.parametrize(
    ("smarthost", "local"),
    [
        ("localhost:25", True),
        ("LOCALHOST.:25", True),
        ("localhost.localdomain:25", True),
        ("127.0.0.2:25", True),
        ("[::1]:25", True),
        ("[::ffff:127.0.0.1]:25", True),
        ("mail.shop.example:25", False),
        ("10.0.0.5:25", False),
        ("[2001:db8::1]:25", False),
    ],
)
def test_what_counts_as_a_relay_on_this_machine(smarthost: str, local: bool) -> None:
    text = (
        "notify:\n  receivers:\n    - name: ops\n      email_configs:\n"
        f"        - {{to: [a@b.c], smarthost: '{smarthost}', username: u}}\n"
        "  route: {receiver: ops}\n"
    )
    if local:
        parse_config(text, "watchkeeper.yml")
    else:
        with pytest.raises(ConfigError, match="clear text"):
            parse_config(text, "watchkeeper.yml")


def test_ipv6_smarthosts_lose_their_brackets_for_the_connection() -> None:
    assert split_host_port("[::1]:2525") == ("::1", 2525)
    assert split_host_port("mail.example:587") == ("mail.example", 587)
    with pytest.raises(ValueError, match="host:port"):
        split_host_port("mail.example")


def test_a_ca_file_that_is_not_a_bundle_is_refused_at_start(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("hello\n")
    text = (
        "notify:\n  receivers:\n    - name: ops\n      email_configs:\n"
        f"        - {{to: [a@b.c], tls: starttls, ca_file: '{not_pem}'}}\n"
        "  route: {receiver: ops}\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "watchkeeper.yml")
    (problem,) = info.value.problems
    assert problem.startswith("watchkeeper.yml:5: notify.receivers.0.email_configs.0.ca_file: ")
    assert "CA bundle" in problem
