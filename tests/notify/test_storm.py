"""An alert storm is taken in slices, so the run loop it shares stays responsive.

The notifier runs on the run loop with the collectors' scheduling and the
web server. With a zero time budget every turn does the least it may (one
slice of the inbox, or one group), which makes the slicing observable
without timing anything.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from watchkeeper.alerts.db import AlertsDB
from watchkeeper.notify.notifier import INGEST_SLICE

from .test_pipeline import Clock, alert, make, outbox

STORM = 600
ROUTE = {
    "receiver": "team",
    "group_wait": "0s",
    "group_interval": "1m",
    "repeat_interval": "15m",
    "group_by": ["alertname", "instance"],
}


def queued_count(db: AlertsDB) -> int:
    return int(db.query("SELECT count(*) AS n FROM outbox")[0]["n"])


def test_storm_is_merged_in_slices_then_flushed_in_whole_groups(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(tmp_path, clock, budget_s=0.0, route=ROUTE)
    n.receive([alert(clock, instance=f"web-{i}") for i in range(STORM)])
    merged, queued = [], []
    more = True
    while more:
        more = n.step()
        merged.append(len(n.records))
        queued.append(queued_count(db))
    slices = -(-STORM // INGEST_SLICE)
    assert merged[:slices] == [min(STORM, INGEST_SLICE * (i + 1)) for i in range(slices)]
    # Nothing is flushed while part of what arrived is still unmerged; then one
    # group per turn at the least budget (the first in the turn that merged the
    # last slice), every group exactly once.
    assert queued[: slices - 1] == [0] * (slices - 1)
    assert queued[slices - 1 :] == list(range(1, STORM + 1))
    rows = outbox(db)
    assert sorted(r[2][0] for r in rows) == sorted(f"web-{i}:firing" for i in range(STORM))


def test_arrivals_during_a_storm_keep_their_order(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(tmp_path, clock, budget_s=0.0, route=ROUTE)
    n.receive([alert(clock, instance=f"web-{i}") for i in range(2 * INGEST_SLICE)])
    assert n.step() is True  # one slice merged, one left
    clock.advance(1000)
    # web-0 resolves while the rest of the first batch is still in the inbox.
    n.receive([alert(clock, instance="web-0", resolved=True)])
    while n.step():
        pass
    web0 = [r for r in n.records.values() if r.alert.labels.get("instance") == "web-0"]
    assert len(web0) == 1
    assert web0[0].alert.resolved(clock())
    by_instance = {r[2][0].split(":")[0]: r[2][0] for r in outbox(db)}
    # Merged after the rest of its batch, the resolution wins: web-0 was never
    # told as firing, so its group sends nothing; every other alert fires.
    assert "web-0" not in by_instance
    assert sorted(by_instance.values()) == sorted(
        f"web-{i}:firing" for i in range(1, 2 * INGEST_SLICE)
    )


async def test_other_tasks_run_in_the_middle_of_a_storm(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(tmp_path, clock, budget_s=0.0, route=ROUTE)
    stop = asyncio.Event()
    seen: list[int] = []

    async def ticker() -> None:
        # Another task on the same loop (a collector's schedule, a web request).
        while not stop.is_set():
            seen.append(n.enqueued)
            if n.enqueued >= STORM:
                stop.set()
            await asyncio.sleep(0)

    n.receive([alert(clock, instance=f"web-{i}") for i in range(STORM)])
    await asyncio.wait_for(asyncio.gather(n.serve(stop), ticker()), 60)
    assert len(outbox(db)) == STORM
    middle = [e for e in seen if 0 < e < STORM]
    assert len(middle) > STORM // 2  # the ticker ran between most of the groups' flushes
