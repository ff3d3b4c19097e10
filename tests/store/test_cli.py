"""``watchkeeper store stats|compact|check`` on a real store file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from watchkeeper.cli.store import app
from watchkeeper.model import Labels, Sample
from watchkeeper.store import open_store

BASE = 1_767_225_600_000


def _make(path: Path) -> None:
    with open_store(path, background=False) as store:
        for inst in ("a", "b"):
            store.append(
                [
                    Sample("m", Labels({"instance": inst}), BASE + i * 10_000, i / 4)
                    for i in range(2000)
                ]
            )
        store.cut(BASE + 1000 * 10_000)


def test_stats_compact_check(tmp_path: Path) -> None:
    path = tmp_path / "wk.db"
    _make(path)
    runner = CliRunner()
    res = runner.invoke(app, ["stats", "--path", str(path), "--json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.output)
    assert st["series"] == 2
    assert st["samples"] == 4000
    assert st["head_samples"] == 2000
    assert st["resolutions"]["1h"]["retention_ms"] == 730 * 86_400_000
    assert runner.invoke(app, ["stats", "--path", str(path)]).exit_code == 0
    res = runner.invoke(app, ["compact", "--path", str(path)])
    assert res.exit_code == 0, res.output
    st = json.loads(runner.invoke(app, ["stats", "--path", str(path), "--json"]).output)
    assert st["head_samples"] == 0
    assert st["samples"] == 4000
    assert runner.invoke(app, ["check", "--path", str(path)]).exit_code == 0

    db = sqlite3.connect(path)
    rid, blob = db.execute("SELECT id, data FROM blocks WHERE res = 0 LIMIT 1").fetchone()
    db.execute("UPDATE blocks SET data = ? WHERE id = ?", (blob[:-6] + b"garbage", rid))
    db.commit()
    db.close()
    res = runner.invoke(app, ["check", "--path", str(path)])
    assert res.exit_code == 1
    assert "damaged chunk" in res.output
    res = runner.invoke(app, ["check", "--path", str(path), "--repair"])
    assert res.exit_code == 1
    assert "quarantined" in res.output
    assert runner.invoke(app, ["check", "--path", str(path)]).exit_code == 0


def test_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["stats", "--path", str(tmp_path / "nope.db")])
    assert res.exit_code == 1
    assert "no store at" in res.output


def test_backup_while_the_store_is_being_written(tmp_path: Path) -> None:
    from watchkeeper.alerts.db import AlertsDB
    from watchkeeper.model import Matcher

    data = tmp_path / "data"
    data.mkdir()
    path = data / "watchkeeper.db"
    _make(path)
    AlertsDB(data / "alerts.db").close()
    (data / "alerts.db").chmod(0o600)
    config = tmp_path / "wk.yml"
    config.write_text(f"storage: {{path: {path}}}\n")
    out = tmp_path / "backup"
    runner = CliRunner()
    with open_store(path, background=False) as writer:  # `watchkeeper run` holds it
        writer.append([Sample("m", Labels({"instance": "c"}), BASE + 20_000_001, 7.0)])
        res = runner.invoke(app, ["backup", str(out), "-c", str(config)])
        assert res.exit_code == 0, res.output
        writer.append([Sample("m", Labels({"instance": "d"}), BASE + 20_000_002, 8.0)])
    assert sorted(p.name for p in out.iterdir()) == ["alerts.db", "watchkeeper.db"]
    assert (out / "alerts.db").stat().st_mode & 0o777 == 0o600  # as private as the original
    assert "the copy reads back: 3 series" in res.output
    with open_store(out / "watchkeeper.db", readonly=True, background=False) as copy:
        got = {
            d.series.labels.get("instance"): len(d)
            for d in copy.read_range([Matcher.equal("__name__", "m")], 0, 2**62)
        }
    assert got == {"a": 2000, "b": 2000, "c": 1}  # d came after the snapshot
    again = runner.invoke(app, ["backup", str(out), "-c", str(config)])
    assert again.exit_code == 1
    assert "already there" in again.output
    forced = runner.invoke(app, ["backup", str(out), "-c", str(config), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "the copy reads back: 4 series" in forced.output
