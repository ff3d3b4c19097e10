"""``/metrics``: watchkeeper's own metrics for a real Prometheus to scrape.

The ``watchkeeper_*`` families the self collector stores are exposed as they
were last written (so a scrape and a query of the store agree), through
prometheus_client's exposition code: the text format by default, OpenMetrics
when the scraper's ``Accept`` asks for it. The web adds its own live-update
counters, read at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from watchkeeper.model import MetricMeta, MetricType, Sample
from watchkeeper.web.authdb import Role
from watchkeeper.web.context import WebContext

__all__ = ["SelfMetrics", "metrics_router"]

SELF_PREFIX = "watchkeeper_"


class SelfMetrics(Collector):
    """A prometheus_client collector over the latest ``watchkeeper_*`` samples."""

    def __init__(self, ctx: WebContext, metadata: Sequence[MetricMeta]) -> None:
        self.ctx = ctx
        self.meta = {m.name: m for m in metadata if m.name.startswith(SELF_PREFIX)}
        self.latest: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def on_written(self, batch: Iterable[Sample]) -> None:
        """Writer callback: remember the newest value of every self series."""
        latest = self.latest
        for s in batch:
            if s.name.startswith(SELF_PREFIX):
                latest[(s.name, tuple(s.labels))] = s.value

    def collect(self) -> Iterator[Metric]:
        by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
        for (name, labels), value in list(self.latest.items()):
            by_name.setdefault(name, []).append((dict(labels), value))
        stats = self.ctx.stats
        if not by_name and stats is not None:
            # The self collector is off: the run loop's counters still matter.
            by_name = {
                "watchkeeper_samples_written_total": [({}, float(stats.samples_written))],
                "watchkeeper_samples_dropped_total": [({}, float(stats.samples_dropped))],
                "watchkeeper_buffered_samples": [({}, float(stats.buffered))],
                "watchkeeper_start_time_seconds": [({}, stats.started_at)],
            }
        for name in sorted(by_name):
            yield self._family(name, by_name[name])
        hub = self.ctx.hub
        yield GaugeMetricFamily(
            "watchkeeper_web_live_clients",
            "Browsers subscribed to live updates.",
            value=len(hub.clients),
        )
        yield CounterMetricFamily(
            "watchkeeper_web_live_clients_dropped",
            "Live clients dropped for falling behind.",
            value=hub.dropped_clients,
        )
        yield CounterMetricFamily(
            "watchkeeper_web_live_frames",
            "Live update frames queued to browsers.",
            value=hub.frames_sent,
        )

    def _family(self, name: str, rows: list[tuple[dict[str, str], float]]) -> Metric:
        meta = self.meta.get(name)
        help_text = meta.help if meta else f"watchkeeper's {name}."
        unit = meta.unit if meta and name.removesuffix("_total").endswith("_" + meta.unit) else ""
        label_names = sorted({k for labels, _ in rows for k in labels})
        family: GaugeMetricFamily | CounterMetricFamily
        is_counter = (meta.type is MetricType.COUNTER) if meta else name.endswith("_total")
        if is_counter:
            family = CounterMetricFamily(name, help_text, labels=label_names, unit=unit)
        else:
            family = GaugeMetricFamily(name, help_text, labels=label_names, unit=unit)
        for labels, value in sorted(rows, key=lambda r: sorted(r[0].items())):
            family.add_metric([labels.get(k, "") for k in label_names], value)
        return family


def metrics_router(ctx: WebContext, collector: SelfMetrics) -> APIRouter:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    router = APIRouter(tags=["metrics"])
    viewer = Depends(ctx.auth.require(Role.VIEWER, public=lambda: ctx.config.auth.public_metrics))

    @router.get("/metrics", dependencies=[viewer])
    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), media_type=None, headers={"Content-Type": content_type})

    return router
