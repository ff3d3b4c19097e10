"""JSON schemas of the receivers' documented payloads, written from their documentation.

- Alertmanager webhook (version 4): https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
- PagerDuty Events API v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
- Slack incoming webhooks with Block Kit: https://api.slack.com/messaging/webhooks,
  https://api.slack.com/reference/block-kit/blocks
"""

from __future__ import annotations

from typing import Any

_RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
_STRMAP = {"type": "object", "additionalProperties": {"type": "string"}}

ALERTMANAGER_WEBHOOK_V4: dict[str, Any] = {
    "type": "object",
    "required": [
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ],
    "properties": {
        "version": {"const": "4"},
        "groupKey": {"type": "string"},
        "truncatedAlerts": {"type": "integer", "minimum": 0},
        "status": {"enum": ["firing", "resolved"]},
        "receiver": {"type": "string"},
        "groupLabels": _STRMAP,
        "commonLabels": _STRMAP,
        "commonAnnotations": _STRMAP,
        "externalURL": {"type": "string"},
        "alerts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "status",
                    "labels",
                    "annotations",
                    "startsAt",
                    "endsAt",
                    "generatorURL",
                    "fingerprint",
                ],
                "properties": {
                    "status": {"enum": ["firing", "resolved"]},
                    "labels": _STRMAP,
                    "annotations": _STRMAP,
                    "startsAt": {"type": "string", "pattern": _RFC3339},
                    "endsAt": {"type": "string", "pattern": _RFC3339},
                    "generatorURL": {"type": "string"},
                    "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                },
            },
        },
    },
}

PAGERDUTY_EVENT_V2: dict[str, Any] = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "additionalProperties": False,
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "maxLength": 255},
        "client": {"type": "string"},
        "client_url": {"type": "string"},
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["href"],
                "properties": {"href": {"type": "string"}, "text": {"type": "string"}},
            },
        },
        "images": {"type": "array"},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "additionalProperties": False,
            "properties": {
                "summary": {"type": "string", "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string", "pattern": _RFC3339},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
    },
    "if": {"properties": {"event_action": {"const": "trigger"}}},
    "then": {"required": ["payload"]},
    "else": {"required": ["dedup_key"]},
}

_TEXT = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"enum": ["plain_text", "mrkdwn"]}, "text": {"type": "string"}},
}
_BLOCK = {
    "type": "object",
    "required": ["type"],
    "oneOf": [
        {
            "properties": {
                "type": {"const": "header"},
                "text": {
                    "type": "object",
                    "properties": {
                        "type": {"const": "plain_text"},
                        "text": {"type": "string", "maxLength": 150},
                    },
                },
            },
            "required": ["text"],
        },
        {
            "properties": {
                "type": {"const": "section"},
                "text": {
                    "type": "object",
                    "properties": {"text": {"type": "string", "maxLength": 3000}},
                },
            },
            "required": ["text"],
        },
        {
            "properties": {
                "type": {"const": "context"},
                "elements": {"type": "array", "maxItems": 10, "items": _TEXT},
            },
            "required": ["elements"],
        },
        {
            "properties": {
                "type": {"const": "actions"},
                "elements": {
                    "type": "array",
                    "maxItems": 25,
                    "items": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {
                            "type": {"const": "button"},
                            "text": _TEXT,
                            "url": {"type": "string", "maxLength": 3000},
                        },
                    },
                },
            },
            "required": ["elements"],
        },
    ],
}

SLACK_INCOMING_WEBHOOK: dict[str, Any] = {
    "type": "object",
    "required": ["text"],
    "properties": {
        "text": {"type": "string"},
        "username": {"type": "string"},
        "channel": {"type": "string"},
        "blocks": {"type": "array", "maxItems": 50, "items": _BLOCK},
        "attachments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "color": {
                        "type": "string",
                        "pattern": "^(#[0-9a-fA-F]{6}|good|warning|danger)$",
                    },
                    "blocks": {"type": "array", "maxItems": 50, "items": _BLOCK},
                },
            },
        },
    },
}
