"""Benchmark host collection: cycle cost in-process, and `watchkeeper run` against Glances.

Usage: python bench/collect.py [--quick]

1. The cost of one full ``HostCollector`` collection (default options), many
   repetitions in this process: median and p95. For scale, the same run also
   times a naive psutil snapshot of the same information (what a collector
   built directly on psutil's convenience calls would pay) and the collector
   with named processes configured.
2. ``watchkeeper run --interval 1`` and Glances (``glances -q -t 1 --export csv``,
   installed into a throw-away venv under .bench/) run side by side, under the
   same conditions; after a start-up allowance their CPU time is measured over
   the window (delta of user+system / wall time, % of one core) and their RSS
   at its end, both with psutil.

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from watchkeeper.collect.host import HostCollector

ROOT = Path(__file__).resolve().parent.parent
GLANCES_VENV = ROOT / ".bench" / "glances"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_calls(fn: Callable[[], object], repetitions: int) -> list[float]:
    fn()
    fn()  # warm: first collections do the full process scan and fill caches
    out = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def naive_psutil_snapshot() -> None:
    """The same information through psutil's convenience calls, as a baseline."""
    psutil.cpu_times()
    psutil.cpu_times(percpu=True)
    psutil.cpu_stats()
    psutil.cpu_count(logical=False)
    psutil.getloadavg()
    psutil.virtual_memory()
    psutil.swap_memory()
    for part in psutil.disk_partitions():
        psutil.disk_usage(part.mountpoint)
    psutil.disk_io_counters(perdisk=True)
    psutil.net_io_counters(pernic=True)
    psutil.net_connections("tcp")
    psutil.pids()
    psutil.boot_time()


def measure_cycle(repetitions: int) -> dict[str, float]:
    collector = HostCollector()
    say(f"timing {repetitions} host collections (default options) ...")
    cycle = time_calls(lambda: collector.collect(int(time.time() * 1000)), repetitions)
    samples = len(collector.collect(int(time.time() * 1000)))
    with_procs = HostCollector(processes=["python3", "python", "sshd", "postgres", "redis-server"])
    say(f"timing {repetitions} collections with 5 named processes ...")
    procs = time_calls(lambda: with_procs.collect(int(time.time() * 1000)), repetitions)
    say(f"timing {repetitions // 2} naive psutil snapshots ...")
    naive = time_calls(naive_psutil_snapshot, max(repetitions // 2, 20))
    return {
        "collect_cycle_ms": round(statistics.median(cycle), 3),
        "collect_cycle_p95_ms": round(percentile(cycle, 0.95), 3),
        "collect_cycle_samples": samples,
        "collect_cycle_with_processes_ms": round(statistics.median(procs), 3),
        "naive_psutil_snapshot_ms": round(statistics.median(naive), 3),
        "cycle_repetitions": repetitions,
    }


def glances_command() -> list[str] | None:
    """Glances from the throw-away venv, installed on first use; None if impossible."""
    exe = GLANCES_VENV / "bin" / "glances"
    if not exe.exists():
        say(f"installing Glances into {GLANCES_VENV} ...")
        try:
            if shutil.which("uv"):
                subprocess.run(["uv", "venv", "-q", str(GLANCES_VENV)], check=True)
                env = {**os.environ, "VIRTUAL_ENV": str(GLANCES_VENV)}
                subprocess.run(["uv", "pip", "install", "-q", "glances"], check=True, env=env)
            else:
                subprocess.run([sys.executable, "-m", "venv", str(GLANCES_VENV)], check=True)
                pip = GLANCES_VENV / "bin" / "pip"
                subprocess.run([str(pip), "install", "-q", "glances"], check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            say(f"cannot install Glances ({exc}): measuring watchkeeper alone")
            return None
    return [str(exe)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def measure_processes(window: float, warmup: float) -> dict[str, float | str | None]:
    tmp = Path(tempfile.mkdtemp(prefix="wk-bench-"))
    # Two watchkeeper profiles side by side: the default product (collectors,
    # store, rules, notifier and the web dashboard on a free port) and the
    # agent without the web server, which is what Glances -q compares with.
    profiles = {
        "watchkeeper": f"web: {{port: {free_port()}}}\n",
        "agent": "web: {enabled: false}\n",
    }
    glances = glances_command()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {name: (tmp / f"{name}.log").open("wb") for name in (*profiles, "glances")}
    try:
        for name, extra in profiles.items():
            data = tmp / name
            data.mkdir()
            config = data / "watchkeeper.yml"
            config.write_text(f"storage: {{path: {data / 'wk.db'}}}\n{extra}")
            wk_cmd = [sys.executable, "-m", "watchkeeper", "run", "--config", str(config),
                      "--interval", "1"]  # fmt: skip
            say(f"starting {name}: {' '.join(wk_cmd)}")
            procs[name] = subprocess.Popen(
                wk_cmd,
                env={**os.environ, "WATCHKEEPER_DATA_DIR": str(data)},
                stdout=logs[name],
                stderr=subprocess.STDOUT,
            )
        if glances is not None:
            g_cmd = [*glances, "-q", "-t", "1", "--export", "csv",
                     "--export-csv-file", str(tmp / "glances.csv")]  # fmt: skip
            say(f"starting: {' '.join(g_cmd)}")
            procs["glances"] = subprocess.Popen(
                g_cmd, cwd=tmp, stdout=logs["glances"], stderr=subprocess.STDOUT
            )
        handles = {name: psutil.Process(p.pid) for name, p in procs.items()}
        say(f"start-up allowance {warmup:.0f} s (not counted), then a {window:.0f} s window ...")
        time.sleep(warmup)
        for name, p in procs.items():
            if p.poll() is not None:
                log = (tmp / f"{name}.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"{name} exited early ({p.returncode}):\n{log}")
        start_wall = time.monotonic()
        start_cpu = {name: cpu_seconds(h) for name, h in handles.items()}
        time.sleep(window)
        wall = time.monotonic() - start_wall
        result: dict[str, float | str | None] = {}
        for name, h in handles.items():
            prefix = "" if name == "watchkeeper" else f"{name}_"
            used = cpu_seconds(h) - start_cpu[name]
            result[f"{prefix}cpu_percent"] = round(used * 100.0 / wall, 2)
            result[f"{prefix}rss_mb"] = round(h.memory_info().rss / 2**20, 1)
            # At a 1 s interval, CPU per cycle is CPU time per second of wall time.
            result[f"{prefix}cpu_ms_per_cycle"] = round(used * 1000.0 / wall, 2)
        if glances is None:
            result.update(glances_cpu_percent=None, glances_rss_mb=None)
        result["window_s"] = round(wall, 1)
        result["startup_skipped_s"] = warmup
        result["interval_s"] = 1.0
        return result
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in logs.values():
            f.close()
        shutil.rmtree(tmp, ignore_errors=True)


#: The third-party libraries (and the standard library's asyncio and sqlite3)
#: the run process is built on: the agent's, then the dashboard's on top.
AGENT_LIBRARIES = ("asyncio", "sqlite3", "psutil", "numpy", "zstandard", "orjson", "yaml",
                   "pydantic", "promql_parser")  # fmt: skip
WEB_LIBRARIES = ("prometheus_client", "fastapi", "uvicorn", "jinja2")
#: Everything ``watchkeeper run`` imports before it starts (its own code included).
RUN_MODULES = ("watchkeeper.cli.app", "watchkeeper.cli.run", "watchkeeper.runtime.build",
               "watchkeeper.runtime.runner")  # fmt: skip


def import_floor_mb(modules: tuple[str, ...]) -> float:
    """RSS of a fresh interpreter that only imports ``modules``, then trims its heap.

    Why: it tells how much of ``rss_mb`` the libraries cost before
    watchkeeper collects, stores or serves anything: the floor no tuning of
    the run loop can go under.
    """
    code = (
        "import ctypes, importlib, sys\n"
        "for m in sys.argv[1:]: importlib.import_module(m)\n"
        "ctypes.CDLL(None).malloc_trim(0)\n"
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *modules], check=True, capture_output=True, text=True
    )
    return round(int(out.stdout.split()[-1]) / 1024, 1)


def measure_floors() -> dict[str, float]:
    web = (*RUN_MODULES, "watchkeeper.web.app")
    return {
        "interpreter_rss_mb": import_floor_mb(()),
        "agent_libraries_rss_mb": import_floor_mb(AGENT_LIBRARIES),
        "libraries_rss_mb": import_floor_mb((*AGENT_LIBRARIES, *WEB_LIBRARIES)),
        "agent_imports_rss_mb": import_floor_mb(RUN_MODULES),
        "imports_rss_mb": import_floor_mb(web),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short window, fewer repetitions")
    args = parser.parse_args()
    repetitions, window, warmup = (300, 20.0, 5.0) if args.quick else (3000, 60.0, 10.0)
    result: dict[str, object] = {"mode": "quick" if args.quick else "full"}
    result.update(measure_cycle(repetitions))
    say(f"cycle: {result['collect_cycle_ms']} ms median, {result['collect_cycle_p95_ms']} ms p95")
    result.update(measure_processes(window, warmup))
    result.update(measure_floors())
    result["cpu_count"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
