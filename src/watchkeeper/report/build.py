"""A period's figures, computed with PromQL over the store and read from alerts.db.

Why PromQL: every figure is an instant query at the period's end over a
``[period]`` window (``quantile_over_time``, ``increase``...), so a report says
exactly what the same expression says in Grafana or Prometheus, and a section
whose metrics were never collected simply has no rows. The figures are
declared in ``FIGURES``; adding one is a line.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from watchkeeper.query import QueryError, Vector, instant_query
from watchkeeper.store.base import Store

__all__ = ["FIGURES", "Figure", "Report", "Row", "Section", "build_report"]

Unit = Literal["percent", "bytes", "seconds", "count", "ratio_percent"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of a section: a PromQL template over ``{p}``, the period."""

    section: str
    label: str
    expr: str
    unit: Unit
    #: Label whose value names each row ("" = one row).
    by: str = ""
    #: Rows largest first (a top-5 list), else by name.
    largest_first: bool = False


def _load_figures() -> tuple[Figure, ...]:
    import yaml

    text = (resources.files("watchkeeper.report") / "figures.yml").read_text(encoding="utf-8")
    return tuple(Figure(**entry) for entry in yaml.safe_load(text)["figures"])


#: The report's figures, from figures.yml beside this module.
FIGURES: tuple[Figure, ...] = _load_figures()


@dataclass(frozen=True, slots=True)
class Row:
    figure: str
    name: str
    value: float
    unit: Unit


@dataclass(slots=True)
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)


@dataclass(slots=True)
class AlertSummary:
    name: str
    times_fired: int
    severity: str


@dataclass(slots=True)
class Report:
    """What ``render_report`` writes out."""

    start_ms: int
    end_ms: int
    sections: list[Section]
    alerts_fired: list[AlertSummary]
    firing_now: list[dict[str, str]]
    #: Figures whose query failed, with the reason (shown, not hidden).
    errors: list[str] = field(default_factory=list)


def _duration(ms: int) -> str:
    """The period in PromQL's duration syntax (whole seconds)."""
    return f"{max(1, ms // 1000)}s"


def _figures(store: Store, end_ms: int, period_ms: int, errors: list[str]) -> list[Section]:
    sections: dict[str, Section] = {}
    p = _duration(period_ms)
    for fig in FIGURES:
        try:
            result = instant_query(store, fig.expr.replace("{p}", p), end_ms)
        except (QueryError, ValueError) as exc:
            errors.append(f"{fig.section} / {fig.label}: {exc}")
            continue
        if not isinstance(result, Vector):
            continue
        rows = [
            Row(fig.label, (s.labels.get(fig.by) or "") if fig.by else "", s.value, fig.unit)
            for s in result.samples
            if not math.isnan(s.value)
        ]
        if fig.largest_first:
            rows.sort(key=lambda r: (-r.value, r.name))
        else:
            rows.sort(key=lambda r: r.name)
        if rows:
            sections.setdefault(fig.section, Section(fig.section)).rows.extend(rows)
    return list(sections.values())  # in the order their first figure is declared


def _alerts(
    alerts_db: Path | None, start_ms: int, end_ms: int
) -> tuple[list[AlertSummary], list[dict[str, str]]]:
    if alerts_db is None or not alerts_db.exists():
        return [], []
    from watchkeeper.store.tsdb.db import connect

    conn = connect(alerts_db, readonly=True)
    try:
        fired: Counter[str] = Counter()
        severity: dict[str, str] = {}
        rows = conn.execute(
            "SELECT h.fingerprint, a.labels FROM alert_history h JOIN alerts a USING (fingerprint)"
            " WHERE h.event = 'firing' AND h.at >= ? AND h.at <= ?",
            (start_ms, end_ms),
        ).fetchall()
        for _, labels_text in rows:
            labels = json.loads(labels_text)
            name = labels.get("alertname", "?")
            fired[name] += 1
            severity.setdefault(name, labels.get("severity", ""))
        # The status column is the notifier's word (ends_at is refreshed lazily);
        # "firing now" means something only for a period ending now.
        now_rows = (
            conn.execute(
                "SELECT labels FROM alerts WHERE status = 'firing' ORDER BY starts_at"
            ).fetchall()
            if abs(time.time() * 1000 - end_ms) < 300_000
            else []
        )
    finally:
        conn.close()
    summary = [AlertSummary(n, c, severity[n]) for n, c in fired.most_common()]
    firing_now = [json.loads(r[0]) for r in now_rows]
    return summary, firing_now


def build_report(
    store: Store, *, end_ms: int, period_ms: int, alerts_db: Path | None = None
) -> Report:
    """The figures of ``[end_ms - period_ms, end_ms]``; sections without data are left out."""
    errors: list[str] = []
    sections = _figures(store, end_ms, period_ms, errors)
    fired, firing_now = _alerts(alerts_db, end_ms - period_ms, end_ms)
    return Report(end_ms - period_ms, end_ms, sections, fired, firing_now, errors)
