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
from watchkeeper.alerts.service import AlertService
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
    rows = outbox(db)
    # The storm's groups went out once its batch was merged, then the
    # resolution that came after it: in the order they arrived.
    assert [r[2] for r in rows if r[2][0].startswith("web-0:")] == [
        ["web-0:firing"],
        ["web-0:resolved"],
    ]
    assert sorted(r[2][0] for r in rows if not r[2][0].startswith("web-0:")) == sorted(
        f"web-{i}:firing" for i in range(1, 2 * INGEST_SLICE)
    )


def test_alerts_that_keep_coming_do_not_hold_flushes_back(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(tmp_path, clock, budget_s=0.0, route=ROUTE)
    # Each turn receives more than a turn merges: the inbox never empties.
    for turn in range(40):
        n.receive([alert(clock, instance=f"web-{turn}-{i}") for i in range(INGEST_SLICE + 44)])
        n.step()
    assert queued_count(db) > 0


def test_an_inhibition_that_arrives_while_a_storm_flushes_applies(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(
        tmp_path,
        clock,
        budget_s=0.0,
        route=ROUTE,
        inhibit_rules=[
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["instance"],
            }
        ],
    )
    n.receive([alert(clock, instance=f"web-{i}") for i in range(50)])
    while queued_count(db) < 5:  # the storm's groups are going out one per turn
        assert n.step() is True
    n.receive(
        [
            alert(clock, "DiskFull", instance="db-1", severity="critical"),
            alert(clock, "DiskLow", instance="db-1", severity="warning"),
        ]
    )
    while n.step():
        pass
    sent = [r for r in outbox(db) if r[2][0].startswith("db-1:")]
    assert len(sent) == 1  # the critical one; its warning is inhibited


def test_a_silence_made_while_a_storm_flushes_applies(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(tmp_path, clock, budget_s=0.0, route=ROUTE)
    n.receive([alert(clock, instance=f"web-{i}") for i in range(50)])
    while queued_count(db) < 5:
        assert n.step() is True
    # Another connection (the web) silences web-40 and up.
    service = AlertService(AlertsDB(tmp_path / "alerts.db"), n.config)
    service.add_silence(
        ['instance=~"web-4[0-9]"'], by="ops", comment="maintenance", duration_s=3600,
        starts_at_ms=clock() - 1000,
    )  # fmt: skip
    while n.step():
        pass
    sent = {r[2][0] for r in outbox(db)}
    assert not any(s.startswith("web-4") and len(s.split(":")[0]) == 6 for s in sent)
    assert "web-39:firing" in sent


def test_escalation_routes_do_not_make_a_storm_quadratic(tmp_path: Path) -> None:
    clock = Clock()
    route = {**ROUTE, "escalate": [{"after": "10m", "receiver": "oncall"}]}
    n, db = make(tmp_path, clock, budget_s=0.0, route=route)
    calls = 0
    escalate = n._escalate

    def counting(*args: object) -> None:
        nonlocal calls
        calls += 1
        escalate(*args)  # type: ignore[arg-type]

    n._escalate = counting  # type: ignore[method-assign]
    n.receive([alert(clock, instance=f"web-{i}") for i in range(200)])
    while n.step():
        pass
    assert queued_count(db) == 200
    assert calls < 200  # not once per flushed group per turn (that was ~20,000)


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
