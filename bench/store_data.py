"""The benchmark data set: realistic host metrics, generated with a fixed seed.

10,000 series (100 hosts x 100 series) mixing noisy gauges with decimals
(daily cycle + slow waves + noise), monotonic counters with resets (integer
byte counters and 2-decimal CPU-seconds counters), constants and step
changes, every 10 s with per-host jitter of 0-19 ms (a scheduler's wake-up
and collection time), so the timestamps are not a perfect grid.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.model import Labels

INTERVAL_MS = 10_000
DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
KINDS = ("gauge", "counter", "constant", "step")
_GAUGES = (
    "host_cpu_usage_percent",
    "host_load1",
    "host_memory_usage_percent",
    "host_disk_io_time_ms",
    "app_request_duration_ms",
)
_COUNTERS = ("host_network_receive_bytes_total", "host_cpu_seconds_total", "app_requests_total")
_CONSTANTS = ("host_cpu_count", "host_memory_total_bytes", "up")
_STEPS = ("host_processes", "app_workers", "db_connections")


@dataclass
class DataSet:
    n_series: int
    seed: int
    names: list[str]
    labels: list[Labels]
    kinds: npt.NDArray[np.int8]
    hosts: npt.NDArray[np.int32]

    def series_text(self, i: int) -> str:
        return self.names[i] + str(self.labels[i])


def make_dataset(n_series: int = 10_000, seed: int = 42, per_host: int = 100) -> DataSet:
    rng = np.random.default_rng(seed)
    kinds = rng.choice(4, size=n_series, p=[0.4, 0.25, 0.2, 0.15]).astype(np.int8)
    hosts = (np.arange(n_series) // per_host).astype(np.int32)
    names, labels = [], []
    for i in range(n_series):
        pool = (_GAUGES, _COUNTERS, _CONSTANTS, _STEPS)[kinds[i]]
        names.append(pool[i % len(pool)])
        labels.append(
            Labels({"instance": f"host-{hosts[i]:03d}", "job": "node", "idx": str(i % per_host)})
        )
    return DataSet(n_series, seed, names, labels, kinds, hosts)


class Generator:
    """Values per cycle block for chosen series; state carries across blocks."""

    def __init__(
        self, ds: DataSet, series: npt.NDArray[np.intp] | None = None, seed: int = 7
    ) -> None:
        self.ds = ds
        self.idx = np.arange(ds.n_series) if series is None else np.asarray(series)
        s = self.idx.size
        self.rng = np.random.default_rng(seed)
        r = np.random.default_rng(ds.seed + 1)
        p = {k: r.random(ds.n_series)[self.idx] for k in ("a", "b", "c", "d", "e")}
        self.kind = ds.kinds[self.idx]
        self.host = ds.hosts[self.idx]
        self.mu = 5 + 60 * p["a"]
        self.amp = self.mu * 0.3 * p["b"]
        self.phase = 2 * np.pi * p["c"]
        self.sigma = self.mu * (0.005 + 0.05 * p["d"])
        self.decimals = np.where(p["e"] < 0.5, 1, 2)
        self.rate = 10 ** (1 + 4 * p["b"])  # counter increments per second
        self.int_counter = p["e"] < 0.6
        self.const = np.choose((p["a"] * 5).astype(int), [0.0, 1.0, 4.0, 16.0, 17179869184.0])
        self.level = np.floor(20 + 200 * p["c"])
        self.total = np.floor(1e6 * p["d"])
        self.cycle = 0
        self.out = np.empty(s)

    def block(self, cycles: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """(ts[cycles, series], values[cycles, series]) for the next ``cycles`` cycles."""
        rng = self.rng
        c = np.arange(self.cycle, self.cycle + cycles)[:, None]
        self.cycle += cycles
        n_hosts = int(self.ds.hosts.max()) + 1
        # Jitter per host and cycle (hashing keeps it the same for every series of a host).
        jr = np.random.default_rng([self.ds.seed, int(c[0, 0])])
        jitter = jr.integers(0, 20, size=(cycles, n_hosts))[:, self.host]
        ts = START_MS + c * INTERVAL_MS + jitter
        t_day = (c * INTERVAL_MS) / DAY_MS
        shape = (cycles, self.idx.size)
        vals = np.empty(shape)
        g = self.kind == 0
        if g.any():
            wave = self.amp[g] * np.sin(2 * np.pi * t_day + self.phase[g])
            slow = 0.5 * self.amp[g] * np.sin(2 * np.pi * t_day * 7.3 + 2 * self.phase[g])
            noise = rng.normal(0, 1, (cycles, int(g.sum()))) * self.sigma[g]
            v = np.maximum(self.mu[g] + wave + slow + noise, 0)
            vals[:, g] = np.round(v * 10.0 ** self.decimals[g]) / 10.0 ** self.decimals[g]
        k = self.kind == 1
        if k.any():
            inc = self.rate[k] * 10 * rng.lognormal(0, 0.3, (cycles, int(k.sum())))
            inc = np.where(self.int_counter[k], np.round(inc), np.round(inc / 1000, 2))
            tot = self.total[k] + np.cumsum(inc, axis=0)
            resets = rng.random(tot.shape) < 2e-5
            if resets.any():  # a restart: the counter starts again from 0
                pos = np.where(resets, np.arange(cycles)[:, None], -1)
                last = np.maximum.accumulate(pos, axis=0)
                base = np.where(last >= 0, np.take_along_axis(tot - inc, np.maximum(last, 0), 0), 0)
                tot = tot - base
            self.total[k] = tot[-1]
            vals[:, k] = np.round(tot, 2)
        z = self.kind == 2
        vals[:, z] = self.const[z]
        st = self.kind == 3
        if st.any():
            change = rng.random((cycles, int(st.sum()))) < 0.002
            new = np.floor(rng.uniform(10, 400, change.shape))
            pos = np.where(change, np.arange(cycles)[:, None], -1)
            last = np.maximum.accumulate(pos, axis=0)
            picked = np.take_along_axis(new, np.maximum(last, 0), 0)
            lv = np.where(last >= 0, picked, self.level[st])
            self.level[st] = lv[-1]
            vals[:, st] = lv
        return ts.astype(np.int64), vals

    def cycles(
        self, n: int, block: int = 60
    ) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
        """One (ts[series], values[series]) per cycle."""
        done = 0
        while done < n:
            m = min(block, n - done)
            ts, vals = self.block(m)
            done += m
            for i in range(m):
                yield ts[i], vals[i]
