"""Structured logs: one JSON object per line, with call-site fields and per-logger levels."""

from __future__ import annotations

import json
import logging

import pytest

from watchkeeper.logs import configure_logging


def test_json_lines_carry_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    logging.getLogger("watchkeeper.runtime").error(
        "collector %s failed", "postgres:main", extra={"collector": "postgres:main", "failures": 3}
    )
    logging.getLogger("watchkeeper.runtime").debug("hidden at info")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["level"] == "error"
    assert doc["logger"] == "watchkeeper.runtime"
    assert doc["msg"] == "collector postgres:main failed"
    assert doc["collector"] == "postgres:main"
    assert doc["failures"] == 3
    assert doc["ts"].endswith("Z")


def test_level_per_logger_and_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("warning", "console", {"watchkeeper.store": "debug"})
    logging.getLogger("watchkeeper.store").debug("store detail")
    logging.getLogger("watchkeeper.runtime").info("runtime info")
    err = capsys.readouterr().err
    assert "store detail" in err
    assert "runtime info" not in err
    configure_logging("warning", "console", verbose=1)
    logging.getLogger("watchkeeper.runtime").debug("now visible")
    assert "now visible" in capsys.readouterr().err
    logging.getLogger("watchkeeper").setLevel(logging.NOTSET)
    logging.getLogger("watchkeeper.store").setLevel(logging.NOTSET)
