"""From the ``notify:`` configuration to channels keyed by integration."""

from __future__ import annotations

from watchkeeper.config.notify import DEFAULT_RECEIVER, NotifyConfig, ReceiverConfig
from watchkeeper.notify.channels.base import Channel

__all__ = ["build_channels", "receiver_channels"]


def receiver_channels(rc: ReceiverConfig) -> list[Channel]:
    """The channels of one receiver, keyed ``<receiver>/<type>/<index>``."""
    from watchkeeper.notify.channels.alertmanager import AlertmanagerChannel
    from watchkeeper.notify.channels.apprise import AppriseChannel
    from watchkeeper.notify.channels.command import CommandChannel
    from watchkeeper.notify.channels.console import ConsoleChannel
    from watchkeeper.notify.channels.email import EmailChannel
    from watchkeeper.notify.channels.pagerduty import PagerDutyChannel
    from watchkeeper.notify.channels.slack import SlackChannel
    from watchkeeper.notify.channels.webhook import WebhookChannel

    name = rc.name
    out: list[Channel] = []
    out += [EmailChannel(f"{name}/email/{i}", name, c) for i, c in enumerate(rc.email_configs)]
    out += [SlackChannel(f"{name}/slack/{i}", name, c) for i, c in enumerate(rc.slack_configs)]
    out += [
        WebhookChannel(f"{name}/webhook/{i}", name, c) for i, c in enumerate(rc.webhook_configs)
    ]
    out += [
        PagerDutyChannel(f"{name}/pagerduty/{i}", name, c)
        for i, c in enumerate(rc.pagerduty_configs)
    ]
    out += [
        AlertmanagerChannel(f"{name}/alertmanager/{i}", name, c)
        for i, c in enumerate(rc.alertmanager_configs)
    ]
    out += [
        CommandChannel(f"{name}/command/{i}", name, c) for i, c in enumerate(rc.command_configs)
    ]
    out += [
        AppriseChannel(f"{name}/apprise/{i}", name, c) for i, c in enumerate(rc.apprise_configs)
    ]
    if rc.console:
        out.append(ConsoleChannel(f"{name}/console/0", name))
    return out


def build_channels(config: NotifyConfig) -> dict[str, list[Channel]]:
    """Receiver name -> its channels; ``console`` always exists (the default receiver)."""
    out = {rc.name: receiver_channels(rc) for rc in config.receivers}
    if DEFAULT_RECEIVER not in out:
        from watchkeeper.notify.channels.console import ConsoleChannel

        out[DEFAULT_RECEIVER] = [ConsoleChannel(f"{DEFAULT_RECEIVER}/console/0", DEFAULT_RECEIVER)]
    return out
