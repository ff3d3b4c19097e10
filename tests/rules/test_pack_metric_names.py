"""Every metric the default rule pack and the dashboard's panels read is one watchkeeper makes.

A rule over a name no collector writes selects nothing, for ever, and says
nothing about it: the pack once read ``pg_stat_activity_count`` and
``redis_mem_fragmentation_ratio`` (other exporters' names) while the
collectors wrote ``pg_connections_used_ratio`` and
``redis_memory_fragmentation_ratio``, so those alerts could never fire.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

import watchkeeper.collect
import watchkeeper.contrib
from watchkeeper.collect.base import Collector
from watchkeeper.model import MetricType
from watchkeeper.rules.setup import default_pack_files
from watchkeeper.runtime.self_metrics import SelfCollector
from watchkeeper.web.panels import PANELS

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
#: ``registry.counter("name"`` and the like in the integrations (Django, WSGI/ASGI, Celery).
_CONTRIB_FAMILY = re.compile(r"\.(counter|gauge|histogram)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def made_by_watchkeeper() -> set[str]:
    """The series names the collectors declare and the integrations define."""
    for mod in pkgutil.iter_modules(watchkeeper.collect.__path__):
        importlib.import_module(f"watchkeeper.collect.{mod.name}")
    importlib.import_module("watchkeeper.health.collector")  # the health checks' recording
    names: set[str] = set()

    def add(name: str, histogram: bool) -> None:
        names.add(name)
        if histogram:
            names.update(name + s for s in HISTOGRAM_SUFFIXES)

    for cls in [*_subclasses(Collector), SelfCollector]:
        for meta in getattr(cls, "metrics", ()):
            add(meta.name, meta.type == MetricType.HISTOGRAM)
    for path in Path(watchkeeper.contrib.__path__[0]).rglob("*.py"):
        for kind, name in _CONTRIB_FAMILY.findall(path.read_text()):
            add(name, kind == "histogram")
    return names | {"ALERTS", "ALERTS_FOR_STATE"}


def selector_names(node: Any) -> Iterator[str]:
    if isinstance(node, promql_parser.VectorSelector):
        if node.name:
            yield node.name
        return
    for attr in ("expr", "lhs", "rhs", "param", "vector_selector"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, str | int | float):
            yield from selector_names(child)
    for arg in getattr(node, "args", None) or ():
        yield from selector_names(arg)


def pack_rules() -> list[tuple[str, str]]:
    out = []
    for path in default_pack_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                out.append((rule.get("alert") or rule["record"], rule["expr"]))
    return out


KNOWN = made_by_watchkeeper()
RECORDED = {name for name, _ in pack_rules()}


def test_the_scan_finds_what_it_must() -> None:
    # The lookups themselves: a collector's, an integration's histogram, the run loop's.
    assert {"host_cpu_usage_percent", "pg_connections_used_ratio"} <= KNOWN
    assert {"http_requests_total", "http_request_duration_seconds_bucket"} <= KNOWN
    assert "watchkeeper_collector_up" in KNOWN
    assert "pg_stat_activity_count" not in KNOWN


@pytest.mark.parametrize(("rule", "expr"), pack_rules(), ids=[n for n, _ in pack_rules()])
def test_each_pack_rule_reads_metrics_watchkeeper_writes(rule: str, expr: str) -> None:
    unknown = sorted(set(selector_names(promql_parser.parse(expr))) - KNOWN - RECORDED)
    assert unknown == [], f"{rule} reads {unknown}, which nothing in watchkeeper writes"


@pytest.mark.parametrize("panel", PANELS, ids=[p.id for p in PANELS])
def test_each_panel_reads_metrics_watchkeeper_writes(panel: Any) -> None:
    used = {panel.metric}
    for series in panel.series:
        used.update(selector_names(promql_parser.parse(series.expr)))
    assert sorted(used - KNOWN) == []


def test_each_report_figure_reads_metrics_watchkeeper_writes() -> None:
    from watchkeeper.report.build import FIGURES

    for fig in FIGURES:
        used = set(selector_names(promql_parser.parse(fig.expr.replace("{p}", "1h"))))
        assert sorted(used - KNOWN) == [], f"{fig.section} / {fig.label}"
