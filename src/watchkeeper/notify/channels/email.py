"""E-mail over SMTP: one message per group, multipart text + HTML from Jinja2 templates.

The HTML template is rendered with autoescaping on, because alert labels and
annotations come from the monitored systems (an attacker can put ``<script>``
in a URL path that ends up in a label). Templates are looked up first in the
receiver's ``template_dir``, then in watchkeeper's own. The ``Message-ID`` is
the notification's idempotency key, so a message re-sent after a crash
carries the same id and mail clients show it once.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from watchkeeper.config.headers import header_values
from watchkeeper.config.notify import EmailTarget, split_host_port
from watchkeeper.notify.channels.base import Channel, DeliveryError
from watchkeeper.notify.payload import Notification
from watchkeeper.notify.render import SEVERITY_COLOURS, runbook_link, safe_link, severity_colour

__all__ = ["EmailChannel", "render_email"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_SPACE = re.compile(r"\s+")


def _environments(template_dir: Path | None) -> tuple[jinja2.Environment, jinja2.Environment]:
    dirs = [str(template_dir)] if template_dir else []
    dirs.append(str(TEMPLATES))
    loader = jinja2.FileSystemLoader(dirs)
    html = SandboxedEnvironment(loader=loader, autoescape=True, undefined=jinja2.ChainableUndefined)
    text = SandboxedEnvironment(
        loader=loader,
        autoescape=False,
        undefined=jinja2.ChainableUndefined,
        keep_trailing_newline=True,
    )
    return html, text


def _context(n: Notification) -> dict[str, Any]:
    p = n.payload
    alerts = n.alerts
    return {
        "status": n.status,
        "kind": n.kind,
        "test": n.is_test,
        "receiver": p.get("receiver", ""),
        "group_labels": p.get("groupLabels", {}),
        "common_labels": p.get("commonLabels", {}),
        "common_annotations": p.get("commonAnnotations", {}),
        "external_url": p.get("externalURL", ""),
        "alerts": alerts,
        "firing": [a for a in alerts if a["status"] == "firing"],
        "resolved": [a for a in alerts if a["status"] == "resolved"],
        "truncated": p.get("truncatedAlerts", 0),
        "colour": severity_colour(n),
        "severity_colours": SEVERITY_COLOURS,
        # Links only through these (annotations and generatorURL are untrusted).
        "runbook": lambda a: runbook_link(a, p.get("externalURL", "")),
        "link": safe_link,
    }


def render_email(
    n: Notification, envs: tuple[jinja2.Environment, jinja2.Environment]
) -> tuple[str, str, str]:
    """(subject, text body, HTML body)."""
    html_env, text_env = envs
    ctx = _context(n)
    subject = _SPACE.sub(" ", text_env.get_template("subject.j2").render(ctx)).strip()[:250]
    ctx["subject"] = subject
    text = text_env.get_template("email.txt.j2").render(ctx)
    html = html_env.get_template("email.html.j2").render(ctx)
    return subject, text, html


class EmailChannel(Channel):
    def __init__(self, key: str, receiver: str, cfg: EmailTarget) -> None:
        self.key, self.receiver, self.cfg = key, receiver, cfg
        self.send_resolved = cfg.send_resolved
        self.rate_limit = cfg.rate_limit
        self.envs = _environments(cfg.template_dir)
        # Fail at start-up, not at the first alert, when an override is broken.
        for name in ("subject.j2", "email.txt.j2", "email.html.j2"):
            try:
                self.envs[0].get_template(name)
            except jinja2.TemplateError as exc:
                raise ValueError(f"receiver {receiver!r}: e-mail template {name}: {exc}") from None

    def build(self, n: Notification) -> EmailMessage:
        if n.kind == "report":  # a scheduled report brings its own text and HTML
            p = n.payload
            subject, text, html = str(p["subject"]), str(p["text"]), str(p["html"])
        else:
            subject, text, html = render_email(n, self.envs)
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = self.cfg.from_
        msg["To"] = ", ".join(self.cfg.to)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{n.idempotency_key}@watchkeeper>"
        msg["X-Watchkeeper-Sequence"] = str(n.id)
        if n.is_test:
            msg["X-Watchkeeper-Test"] = "1"
        for name, value in header_values(self.cfg.headers).items():
            del msg[name]
            msg[name] = _SPACE.sub(" ", value)
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        return msg

    def _tls_context(self) -> ssl.SSLContext:
        """The system's CAs (or ``ca_file``), host names checked, unless ``verify_tls`` is off."""
        ctx = ssl.create_default_context(
            cafile=str(self.cfg.ca_file) if self.cfg.ca_file is not None else None
        )
        if not self.cfg.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _send_sync(self, msg: EmailMessage) -> None:
        host, port = split_host_port(self.cfg.smarthost)
        timeout = self.cfg.timeout
        smtp: smtplib.SMTP
        if self.cfg.tls == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._tls_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if self.cfg.tls == "starttls":
                smtp.starttls(context=self._tls_context())
            if self.cfg.username:
                password = self.cfg.password.get_secret_value() if self.cfg.password else ""
                smtp.login(self.cfg.username, password)
            smtp.send_message(msg)

    async def send(self, n: Notification) -> None:
        msg = self.build(n)
        try:
            await asyncio.to_thread(self._send_sync, msg)
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise DeliveryError(
                f"e-mail {self.key}: SMTP {exc.smtp_code} {text}", retryable=exc.smtp_code < 500
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"e-mail {self.key}: recipients refused: {exc.recipients}", retryable=False
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"e-mail {self.key}: {type(exc).__name__}: {exc}") from None
