"""Slack incoming webhook: Block Kit in an attachment coloured by severity."""

from __future__ import annotations

import json
from typing import Any

from watchkeeper.config.notify import SlackTarget
from watchkeeper.notify.channels.base import Channel, http_client, post_json
from watchkeeper.notify.payload import Notification
from watchkeeper.notify.render import runbook_link, severity_colour, summary_line, title

__all__ = ["SlackChannel", "slack_message"]

#: Slack limits a section's text to 3000 characters and a message to 50 blocks.
MAX_TEXT = 2900
MAX_ALERT_BLOCKS = 20


def _escape(text: str) -> str:
    """Slack's mrkdwn control characters; alert text must not inject mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _report_text(text: str) -> str:
    """A report's text for one block: cut at a line, with a word that it was cut."""
    room = MAX_TEXT - 40
    if len(_escape(text)) <= room:
        return _escape(text)
    kept: list[str] = []
    used = 0
    for line in text.splitlines():
        escaped = _escape(line)
        if used + len(escaped) + 1 > room:
            break
        kept.append(escaped)
        used += len(escaped) + 1
    return "\n".join(kept) + "\n... (cut: the e-mail report has it all)"


def slack_message(n: Notification, *, channel: str | None, username: str) -> dict[str, Any]:
    p = n.payload
    if n.kind == "report":
        report: dict[str, Any] = {
            "text": _escape(str(p["subject"])),
            "username": username,
            "blocks": [
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"```{_report_text(str(p['text']))}```",
                    },
                }
            ],
        }
        if channel:
            report["channel"] = channel
        return report
    head = _escape(title(n))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head[:150], "emoji": True}}
    ]
    for a in n.alerts[:MAX_ALERT_BLOCKS]:
        text = f"*{_escape(summary_line(a))}*"
        desc = a["annotations"].get("description")
        if desc:
            text += "\n" + _escape(desc)
        labels = ", ".join(f"`{_escape(k)}={_escape(v)}`" for k, v in sorted(a["labels"].items()))
        text += "\n" + labels
        runbook = runbook_link(a, p.get("externalURL", ""))
        if runbook and not any(c in runbook for c in "<>|"):
            text += f"\n<{runbook}|Runbook>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_TEXT]}})
    hidden = len(n.alerts) - MAX_ALERT_BLOCKS + int(p.get("truncatedAlerts", 0))
    if hidden > 0:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {hidden} more"}]}
        )
    if p.get("externalURL"):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open dashboard"},
                        "url": p["externalURL"],
                    }
                ],
            }
        )
    msg: dict[str, Any] = {
        "text": head,  # the notification text on phones
        "username": username,
        "attachments": [{"color": severity_colour(n), "blocks": blocks}],
    }
    if channel:
        msg["channel"] = channel
    return msg


class SlackChannel(Channel):
    def __init__(self, key: str, receiver: str, cfg: SlackTarget) -> None:
        self.key, self.receiver, self.cfg = key, receiver, cfg
        self.send_resolved = cfg.send_resolved
        self.rate_limit = cfg.rate_limit
        self.client = http_client(cfg.timeout)

    async def send(self, n: Notification) -> None:
        body = json.dumps(
            slack_message(n, channel=self.cfg.channel, username=self.cfg.username)
        ).encode()
        await post_json(self.client, self.cfg.api_url.get_secret_value(), body, f"slack {self.key}")

    async def aclose(self) -> None:
        await self.client.aclose()
