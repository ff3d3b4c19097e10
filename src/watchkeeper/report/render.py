"""A report as text, Markdown, HTML (an e-mail body) or JSON.

Values are formatted for people (``42.1 %``, ``1.3 GiB``, ``250 ms``); the
JSON keeps the raw numbers. Label values come from monitored systems, so the
HTML escapes everything (Jinja2 autoescape).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, tzinfo
from typing import Literal

import jinja2

from watchkeeper.report.build import Report, Row

__all__ = ["Format", "format_value", "render_report"]

Format = Literal["text", "markdown", "html", "json"]


def format_value(row: Row) -> str:
    v = row.value
    if row.unit in ("percent", "ratio_percent"):
        return f"{v:.1f} %"
    if row.unit == "bytes":
        sign, size = ("-" if v < 0 else ""), abs(v)
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if size < 1024 or unit == "TiB":
                return f"{sign}{size:.0f} {unit}" if unit == "B" else f"{sign}{size:.1f} {unit}"
            size /= 1024
    if row.unit == "seconds":
        return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"
    return f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:.2f}"


def _when(ms: int, zone: tzinfo | None) -> str:
    return datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M %Z").strip()


def _title(r: Report, zone: tzinfo | None) -> str:
    return f"watchkeeper report, {_when(r.start_ms, zone)} to {_when(r.end_ms, zone)}"


def _text(r: Report, markdown: bool, zone: tzinfo | None) -> str:
    title = _title(r, zone)
    out = [f"# {title}" if markdown else title, ""]
    for section in r.sections:
        out += [f"## {section.title}" if markdown else section.title.upper(), ""]
        if markdown:
            out += ["| figure | of | value |", "|---|---|---|"]
        width = min(48, max(len(row.name or "-") for row in section.rows))
        for row in section.rows:
            name = row.name or "-"
            if markdown:
                out.append(f"| {row.figure} | {_md(name)} | {format_value(row)} |")
            else:
                out.append(f"  {row.figure:<28} {name:<{width}} {format_value(row):>12}")
        out.append("")
    out += ["## Alerts" if markdown else "ALERTS", ""]
    if r.alerts_fired:
        for a in r.alerts_fired:
            sev = f" [{a.severity}]" if a.severity else ""
            out.append(
                f"- {_md(a.name) if markdown else a.name}{sev}: fired {a.times_fired} time(s)"
            )
    else:
        out.append("No alert fired in this period.")
    if r.firing_now:
        out += ["", "Firing now:"]
        out += [f"- {a.get('alertname', '?')} on {a.get('instance', '-')}" for a in r.firing_now]
    if r.errors:
        out += ["", "Figures that could not be computed:"] + [f"- {e}" for e in r.errors]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


_HTML = jinja2.Environment(
    loader=jinja2.PackageLoader("watchkeeper.report", "templates"), autoescape=True
).get_template("report.html.j2")


def render_report(report: Report, fmt: Format = "text", *, zone: tzinfo | None = None) -> str:
    """``zone``: the times in the title (default: this machine's local time)."""
    if fmt == "json":
        return json.dumps(asdict(report), indent=2) + "\n"
    if fmt == "html":
        return _HTML.render(
            title=_title(report, zone),
            sections=report.sections,
            fired=report.alerts_fired,
            firing_now=report.firing_now,
            errors=report.errors,
            fmt=format_value,
        )
    return _text(report, fmt == "markdown", zone)
