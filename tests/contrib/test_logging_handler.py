"""log_messages_total from a real logging configuration."""

from __future__ import annotations

import logging
import logging.config
from pathlib import Path

from watchkeeper.contrib.exposition import collect
from watchkeeper.contrib.logging import LogCountHandler
from watchkeeper.contrib.metrics import Registry


def test_records_counted_by_level_and_logger(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    handler = LogCountHandler(logging.WARNING, registry=registry, max_loggers=3)
    log = logging.getLogger("shop.payments")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.setLevel(logging.DEBUG)
        for _ in range(4):
            log.error("card declined")
        log.warning("retrying")
        log.info("not counted: below the handler's level")
        for i in range(5):  # more loggers than the cap
            other = logging.getLogger(f"noisy.{i}")
            other.addHandler(handler)
            other.propagate = False
            other.error("x")
    finally:
        log.removeHandler(handler)
    counts = {
        tuple(sorted(s.labels.items())): s.value
        for f in collect(registry)
        for s in f.samples
        if s.name == "log_messages_total"
    }
    assert counts[(("level", "ERROR"), ("logger", "shop.payments"))] == 4
    assert counts[(("level", "WARNING"), ("logger", "shop.payments"))] == 1
    assert counts[(("level", "other"), ("logger", "other"))] == 4
    assert sum(counts.values()) == 10
