"""A watchkeeper notifier in its own process, for the kill -9 test.

Like the rule engine, it re-sends the current alerts (read from a scenario
file the test rewrites) every 50 ms. Usage:
    python notifier_child.py DB SMTP_PORT HTTP_PORT SCENARIO
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

from watchkeeper.alerts.db import AlertsDB
from watchkeeper.alerts.model import InboundAlert
from watchkeeper.config.notify import NotifyConfig
from watchkeeper.model import Labels
from watchkeeper.notify.build import build_channels
from watchkeeper.notify.notifier import Notifier


def config(smtp_port: int, http_port: int) -> NotifyConfig:
    return NotifyConfig.model_validate(
        {
            "receivers": [
                {
                    "name": "ops",
                    "email_configs": [
                        {
                            "to": ["ops@example.com"],
                            "smarthost": f"127.0.0.1:{smtp_port}",
                            "rate_limit": 20,
                            "timeout": 2,
                        }
                    ],
                    "webhook_configs": [
                        {
                            "url": f"http://127.0.0.1:{http_port}/hook",
                            "rate_limit": 20,
                            "timeout": 2,
                        }
                    ],
                }
            ],
            "route": {
                "receiver": "ops",
                "group_wait": 0,
                "group_interval": "1s",
                "group_by": ["alertname"],
            },
            "delivery": {"initial_backoff": 0.05, "max_backoff": 0.3, "max_attempts": 1000},
        }
    )


def alerts(scenario: Path) -> list[InboundAlert]:
    try:
        items = json.loads(scenario.read_text())
    except (OSError, ValueError):
        return []
    return [
        InboundAlert(Labels(i["labels"]), {"summary": "s"}, i["startsAt"], i["endsAt"])
        for i in items
    ]


async def main() -> None:
    db_path, smtp_port, http_port, scenario = sys.argv[1:5]
    cfg = config(int(smtp_port), int(http_port))
    db = AlertsDB(db_path)
    notifier = Notifier(cfg, db, build_channels(cfg))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    task = asyncio.create_task(notifier.serve(stop))
    await notifier.ready.wait()
    print("ready", flush=True)
    while not stop.is_set():
        notifier.receive(alerts(Path(scenario)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)
    await task


if __name__ == "__main__":
    asyncio.run(main())
