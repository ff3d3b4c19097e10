"""Blackbox probes: HTTP(S), TCP connect, DNS resolution, TLS certificate expiry.

A probe that fails is not a failed collection: the collector worked and
reports ``probe_success 0`` (as the Prometheus blackbox exporter does), logs
the reason when the state changes, and keeps it in ``last_reason`` for the
health check. Each probe gives up a little before the collector's timeout
so the answer is "the target is slow", not "the collector hung".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
import time
from calendar import timegm
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.collect.base import AsyncCollector, SampleBuilder, gauge
from watchkeeper.collect.service_errors import reason
from watchkeeper.config.headers import header_values
from watchkeeper.config.services import ProbeConfig, redact_url
from watchkeeper.model import Sample

__all__ = ["ProbeCollector", "ProbeResult", "Prober", "cert_not_after"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ProbeResult:
    success: bool
    duration: float
    reason: str = ""
    #: Probe-specific series: metric name -> value.
    values: dict[str, float] = field(default_factory=dict)


class Prober:
    """Runs one configured probe; holds what can be reused between runs (TLS context, client)."""

    def __init__(self, cfg: ProbeConfig, timeout: float) -> None:
        self.cfg = cfg
        self.timeout = timeout
        self._client: Any = None
        self._regex = re.compile(cfg.body_regex) if cfg.body_regex else None

    def _ssl_context(self, verify: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.cfg.ca_file)
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def run(self) -> ProbeResult:
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(self._run(), self.timeout)
        except TimeoutError:
            result = ProbeResult(False, 0.0, f"no answer within {self.timeout:g}s")
        except Exception as exc:
            result = ProbeResult(False, 0.0, reason(exc, self._target_text()))
        result.duration = time.perf_counter() - started
        return result

    def _target_text(self) -> str:
        return redact_url(self.cfg.target)

    async def _run(self) -> ProbeResult:
        kind = self.cfg.type
        if kind == "http":
            return await self._http()
        if kind == "tcp":
            return await self._tcp()
        if kind == "dns":
            return await self._dns()
        return await self._tls()

    async def _http(self) -> ProbeResult:
        import httpx

        cfg = self.cfg
        if self._client is None:
            verify: Any = self._ssl_context(True) if cfg.verify_tls else False
            # No keep-alive: each probe opens a connection, as a new visitor would.
            self._client = httpx.AsyncClient(
                verify=verify,
                follow_redirects=cfg.follow_redirects,
                limits=httpx.Limits(max_keepalive_connections=0),
                timeout=self.timeout,
                headers={"User-Agent": "watchkeeper-probe", **header_values(cfg.headers)},
            )
        values: dict[str, float] = {}
        async with self._client.stream(cfg.method, cfg.target, content=cfg.body) as response:
            stream = response.extensions.get("network_stream")
            ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
            body = await response.aread()
        status = response.status_code
        values["probe_http_status_code"] = status
        values["probe_http_content_length_bytes"] = len(body)
        values["probe_http_redirects"] = len(response.history)
        values["probe_http_ssl"] = 1.0 if response.url.scheme == "https" else 0.0
        if ssl_object is not None:
            der = ssl_object.getpeercert(binary_form=True)
            if der:
                values["probe_ssl_earliest_cert_expiry"] = cert_not_after(der)
        expected = cfg.expected_status
        if (expected and status not in expected) or (not expected and not 200 <= status < 300):
            want = ", ".join(map(str, expected)) if expected else "2xx"
            return ProbeResult(False, 0, f"HTTP {status}, expected {want}", values)
        text = body.decode(response.encoding or "utf-8", errors="replace")
        if cfg.body_contains is not None and cfg.body_contains not in text:
            return ProbeResult(False, 0, f"body does not contain {cfg.body_contains!r}", values)
        if self._regex is not None and not self._regex.search(text):
            return ProbeResult(False, 0, f"body does not match /{cfg.body_regex}/", values)
        return ProbeResult(True, 0, "", values)

    def _host_port(self) -> tuple[str, int]:
        host, _, port = self.cfg.target.rpartition(":")
        return host.strip("[]"), int(port)

    async def _tcp(self) -> ProbeResult:
        host, port = self._host_port()
        started = time.perf_counter()
        _, writer = await asyncio.open_connection(host, port)
        connect = time.perf_counter() - started
        writer.close()
        await writer.wait_closed()
        return ProbeResult(True, 0, "", {"probe_tcp_connect_duration_seconds": connect})

    async def _dns(self) -> ProbeResult:
        family = socket.AF_INET if self.cfg.record_type == "A" else socket.AF_INET6
        started = time.perf_counter()
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                self.cfg.target, None, family=family, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            return ProbeResult(False, 0, f"cannot resolve {self.cfg.target}: {exc.strerror}")
        lookup = time.perf_counter() - started
        answers = {info[4][0] for info in infos}
        values = {"probe_dns_lookup_time_seconds": lookup, "probe_dns_answers": len(answers)}
        return ProbeResult(bool(answers), 0, "" if answers else "no answer", values)

    async def _tls(self) -> ProbeResult:
        host, port = self._host_port()
        problem = ""
        try:
            der = await self._peer_cert(host, port, verify=self.cfg.verify_tls)
        except ssl.SSLCertVerificationError as exc:
            # Still read the expiry: "expired" is the most common verification failure.
            problem = f"certificate verify failed: {exc.verify_message}"
            der = await self._peer_cert(host, port, verify=False)
        values: dict[str, float] = {}
        if der:
            expiry = cert_not_after(der)
            values["probe_ssl_earliest_cert_expiry"] = expiry
            if not problem and expiry < time.time():
                problem = "certificate expired"
        return ProbeResult(not problem, 0, problem, values)

    async def _peer_cert(self, host: str, port: int, *, verify: bool) -> bytes | None:
        _, writer = await asyncio.open_connection(
            host, port, ssl=self._ssl_context(verify), server_hostname=host
        )
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            return ssl_object.getpeercert(binary_form=True) if ssl_object else None
        finally:
            writer.close()
            # Servers often drop TLS without close_notify.
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                await writer.wait_closed()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class ProbeCollector(AsyncCollector):
    metrics = (
        gauge("probe_success", "1 when the probe succeeded.", labels=("probe", "type")),
        gauge("probe_duration_seconds", "How long the probe took.", "seconds"),
        gauge("probe_http_status_code", "Status code of the (last) HTTP response."),
        gauge("probe_http_content_length_bytes", "Length of the HTTP body.", "bytes"),
        gauge("probe_http_redirects", "Redirects followed."),
        gauge("probe_http_ssl", "1 when the final URL used TLS."),
        gauge("probe_ssl_earliest_cert_expiry", "Expiry of the peer certificate (Unix time)."),
        gauge("probe_tcp_connect_duration_seconds", "TCP connect time.", "seconds"),
        gauge("probe_dns_lookup_time_seconds", "DNS resolution time.", "seconds"),
        gauge("probe_dns_answers", "Addresses the name resolved to."),
    )

    def __init__(self, name: str, cfg: ProbeConfig, *, interval: float, timeout: float | None):
        super().__init__(name, interval=interval, timeout=timeout)
        self.prober = Prober(cfg, timeout=self.timeout * 0.9)
        self._labels = {"probe": cfg.name, "type": cfg.type}
        self.last_reason = ""
        self._was_up: bool | None = None

    async def collect(self, now_ms: int) -> Iterable[Sample]:
        result = await self.prober.run()
        if result.success != self._was_up:
            if not result.success:
                log.warning("probe %s failed: %s", self.prober.cfg.name, result.reason)
            elif self._was_up is False:
                log.info("probe %s recovered", self.prober.cfg.name)
        self._was_up = result.success
        self.last_reason = result.reason
        b = SampleBuilder(now_ms)
        b.add("probe_success", result.success, self._labels)
        b.add("probe_duration_seconds", result.duration, self._labels)
        for metric, value in result.values.items():
            b.add(metric, value, self._labels)
        return b.samples

    def close(self) -> None:
        # The httpx client holds only sockets closed per request (no keep-alive).
        self.prober._client = None


# -- certificates ------------------------------------------------------------


def _der_item(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER item at ``pos``."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    return tag, pos, pos + length


def cert_not_after(der: bytes) -> float:
    """The ``notAfter`` of a DER X.509 certificate, as Unix time.

    A few lines of DER walking instead of a dependency: the path to the
    validity field is fixed by RFC 5280 (version?, serial, signature, issuer,
    validity).
    """
    _, start, _ = _der_item(der, 0)  # Certificate
    _, pos, _ = _der_item(der, start)  # TBSCertificate content
    tag, _, end = _der_item(der, pos)
    if tag == 0xA0:  # explicit version
        pos = end
        tag, _, end = _der_item(der, pos)
    pos = end  # after serialNumber
    for _ in range(2):  # signature algorithm, issuer
        _, _, pos = _der_item(der, pos)
    _, validity, _ = _der_item(der, pos)
    _, _, after_not_before = _der_item(der, validity)
    tag, s, e = _der_item(der, after_not_before)
    text = der[s:e].decode("ascii").rstrip("Z")
    if tag == 0x17:  # UTCTime: YYMMDDHHMMSS, years 50-99 are 19xx
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    return float(
        timegm(
            (
                int(text[0:4]),
                int(text[4:6]),
                int(text[6:8]),
                int(text[8:10]),
                int(text[10:12]),
                int(text[12:14]),
                0,
                0,
                0,
            )
        )
    )
