"""report room: what happened over a period, for people (``watchkeeper report``)."""

from watchkeeper.report.build import Figure, Report, Section, build_report
from watchkeeper.report.render import render_report

__all__ = ["Figure", "Report", "Section", "build_report", "render_report"]
