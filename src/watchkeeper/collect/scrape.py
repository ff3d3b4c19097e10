"""Scraping Prometheus ``/metrics`` endpoints: another app, node_exporter, the Django integration.

Targets of a job are scraped concurrently; each gets ``up``,
``scrape_duration_seconds`` and ``scrape_samples_scraped`` with ``job`` and
``instance`` labels, as Prometheus does. A target that fails gives ``up 0``
and does not fail the job: the other targets' samples still count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from watchkeeper.collect.base import AsyncCollector, SampleBuilder, gauge
from watchkeeper.collect.service_errors import CollectionError, reason
from watchkeeper.config.headers import header_values
from watchkeeper.config.services import ScrapeConfig, redact_url
from watchkeeper.model import Labels, Sample

__all__ = ["ScrapeCollector", "parse_exposition"]

log = logging.getLogger(__name__)

_ACCEPT = "text/plain;version=0.0.4;q=0.9,*/*;q=0.1"


def parse_exposition(
    text: str, extra: dict[str, str], now_ms: int, *, honor_labels: bool, limit: int
) -> list[Sample]:
    """Samples of a text exposition, with ``extra`` labels applied as Prometheus would.

    ``_created`` series are dropped (Prometheus ignores them by default); a
    label clashing with ``extra`` is renamed ``exported_<name>`` unless
    ``honor_labels`` keeps the target's value.
    """
    from prometheus_client.parser import text_string_to_metric_families

    out: list[Sample] = []
    cache: dict[tuple[tuple[str, str], ...], Labels] = {}
    # In the text format a counter's `_created` comes as a separate gauge family.
    with_created: set[str] = set()
    for family in text_string_to_metric_families(text):
        if family.type in {"counter", "histogram", "summary"}:
            with_created.add(family.name)
        for s in family.samples:
            if s.name.endswith("_created") and (
                s.name[:-8] in with_created or family.type != "gauge"
            ):
                continue
            own = s.labels
            if own:
                merged = dict(extra)
                for k, v in own.items():
                    if k in extra and not honor_labels:
                        merged[f"exported_{k}"] = v
                    else:
                        merged[k] = v
                key = tuple(merged.items())
            else:
                key = tuple(extra.items())
            labels = cache.get(key)
            if labels is None:
                labels = cache[key] = Labels(key)
            ts = now_ms if s.timestamp is None else int(float(s.timestamp) * 1000)
            out.append(Sample(s.name, labels, ts, float(s.value)))
            if len(out) > limit:
                raise CollectionError(f"more than {limit} samples (sample_limit)")
    return out


class ScrapeCollector(AsyncCollector):
    metrics = (
        gauge("up", "1 when the target was scraped successfully.", labels=("job", "instance")),
        gauge("scrape_duration_seconds", "How long the scrape took.", "seconds"),
        gauge("scrape_samples_scraped", "Samples the target exposed."),
    )

    def __init__(self, cfg: ScrapeConfig, *, interval: float, timeout: float | None) -> None:
        super().__init__(f"scrape:{cfg.job}", interval=interval, timeout=timeout)
        self.cfg = cfg
        self.urls = cfg.urls()
        self._client: Any = None
        #: Why each failing target failed (instance -> reason).
        self.last_reasons: dict[str, str] = {}

    def _instance(self, url: str) -> str:
        return urlsplit(url).netloc.rpartition("@")[2]

    async def collect(self, now_ms: int) -> Iterable[Sample]:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                verify=self.cfg.verify_tls,
                timeout=self.timeout * 0.9,
                headers={
                    "Accept": _ACCEPT,
                    "User-Agent": "watchkeeper-scrape",
                    **header_values(self.cfg.headers),
                },
            )
        results = await asyncio.gather(*(self._scrape(url, now_ms) for url in self.urls))
        return [s for samples in results for s in samples]

    async def _scrape(self, url: str, now_ms: int) -> list[Sample]:
        instance = self._instance(url)
        target_labels = {**self.cfg.labels, "job": self.cfg.job, "instance": instance}
        started = time.perf_counter()
        samples: list[Sample] = []
        try:
            response = await self._client.get(url)
            if response.status_code != 200:
                raise CollectionError(f"HTTP {response.status_code}")
            # Off the event loop: a target at the sample limit takes a second to parse.
            samples = await asyncio.to_thread(
                parse_exposition,
                response.text,
                target_labels,
                now_ms,
                honor_labels=self.cfg.honor_labels,
                limit=self.cfg.sample_limit,
            )
        except Exception as exc:
            why = reason(exc, redact_url(url))
            if self.last_reasons.get(instance) != why:
                log.warning("%s: target %s down: %s", self.name, redact_url(url), why)
            self.last_reasons[instance] = why
            samples = []
            up = 0.0
        else:
            self.last_reasons.pop(instance, None)
            up = 1.0
        duration = time.perf_counter() - started
        b = SampleBuilder(now_ms)
        b.add("up", up, target_labels)
        b.add("scrape_duration_seconds", duration, target_labels)
        b.add("scrape_samples_scraped", len(samples), target_labels)
        samples.extend(b.samples)
        return samples

    def close(self) -> None:
        # Connections are pooled by httpx; dropping the client releases them at GC.
        self._client = None
