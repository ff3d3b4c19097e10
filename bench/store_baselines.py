"""The two baselines bench/store.py measures the engine against, on the same data.

* ``RowStore``: the plain SQLite row table the first store used
  (``samples(series_id, ts, value) WITHOUT ROWID``, WAL mode), kept here only
  as a baseline now that the engine replaced it.
* ``DjangoStore``: the seeds' approach with real Django: the model
  ``SystemMetric(metric_type, metric_name, value DecimalField(15, 4), unit,
  timestamp, server_id)`` with its two indexes, created by Django's schema
  editor on SQLite (WAL on) and written with ``bulk_create``.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from watchkeeper.model import Labels, Sample

_UTC = dt.UTC


class RowStore:
    """One SQLite row per sample (the v1 store's schema and write path)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(
            "CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL,"
            " UNIQUE (name, labels));"
            "CREATE TABLE samples (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL,"
            " PRIMARY KEY (series_id, ts)) WITHOUT ROWID;"
        )
        self.ids: dict[tuple[str, Labels], int] = {}

    def _sid(self, name: str, labels: Labels) -> int:
        sid = self.ids.get((name, labels))
        if sid is None:
            text = json.dumps(labels.as_dict(), sort_keys=True, separators=(",", ":"))
            cur = self.db.execute("INSERT INTO series (name, labels) VALUES (?, ?)", (name, text))
            sid = self.ids[(name, labels)] = int(cur.lastrowid or 0)
        return sid

    def append(self, samples: Sequence[Sample]) -> int:
        self.db.execute("BEGIN IMMEDIATE")
        rows = [(self._sid(s.name, s.labels), s.timestamp_ms, s.value) for s in samples]
        self.db.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?)", rows)
        self.db.execute("COMMIT")
        return len(rows)

    def select(self, instance: str) -> list[tuple[int, str, Labels]]:
        """As the v1 store did: scan the series table, parse labels, match."""
        out = []
        for sid, name, text in self.db.execute("SELECT id, name, labels FROM series"):
            labels = Labels(json.loads(text))
            if labels.get("instance") == instance:
                out.append((sid, name, labels))
        return out

    def sid_of(self, name: str, labels: Labels) -> int:
        return self.ids[(name, labels)]

    def range(self, sid: int, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.db.execute(
            "SELECT ts, value FROM samples WHERE series_id = ? AND ts BETWEEN ? AND ? ORDER BY ts",
            (sid, start, end),
        ).fetchall()
        arr = np.array(rows, dtype=np.float64).reshape(-1, 2)
        return arr[:, 0].astype(np.int64), arr[:, 1].copy()

    def range_hourly(self, sid: int, start: int, end: int) -> list[tuple[Any, ...]]:
        """The best a row table can do for 30 days at 1 h: aggregate in SQL."""
        return self.db.execute(
            "SELECT ts / 3600000, min(value), max(value), sum(value), count(*) FROM samples"
            " WHERE series_id = ? AND ts BETWEEN ? AND ? GROUP BY ts / 3600000",
            (sid, start, end),
        ).fetchall()

    def bytes(self) -> int:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return self.path.stat().st_size

    def close(self) -> None:
        self.db.close()


_DJANGO: dict[str, Any] = {}


def _django(path: Path) -> Any:
    """Configure Django once for this process, on a SQLite file at ``path``."""
    if "model" in _DJANGO:
        return _DJANGO["model"]
    from django.conf import settings

    import django

    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(path),
                "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
            }
        },
        INSTALLED_APPS=[],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()
    from django.db import models

    class SystemMetric(models.Model):
        # The seeds' model (Context7BaseModel's extra audit columns left out;
        # ``auto_now_add`` dropped so that the historical timestamps load).
        metric_type = models.CharField(max_length=50)
        metric_name = models.CharField(max_length=100)
        value = models.DecimalField(max_digits=15, decimal_places=4)
        unit = models.CharField(max_length=20)
        timestamp = models.DateTimeField()
        server_id = models.CharField(max_length=50, null=True)

        class Meta:
            app_label = "seeds"
            indexes = [
                models.Index(fields=["metric_type", "timestamp"]),
                models.Index(fields=["metric_name", "timestamp"]),
            ]

    _DJANGO["model"] = SystemMetric
    return SystemMetric


class DjangoStore:
    """The seeds' Django model, written with ``bulk_create`` (real Django)."""

    def __init__(self, path: Path) -> None:
        from django.db import connection

        self.path = path
        self.model = _django(path)
        with connection.schema_editor() as editor:
            editor.create_model(self.model)

    def objects(self, samples: Sequence[Sample]) -> list[Any]:
        m = self.model
        return [
            m(
                metric_type=s.name.split("_")[0],
                metric_name=s.name + str(s.labels),
                value=s.value,
                unit="",
                timestamp=dt.datetime.fromtimestamp(s.timestamp_ms / 1000, _UTC),
                server_id=s.labels.get("instance"),
            )
            for s in samples
        ]

    def append(self, objs: list[Any]) -> int:
        self.model.objects.bulk_create(objs)
        return len(objs)

    def select(self, instance: str) -> list[str]:
        return list(
            self.model.objects.filter(server_id=instance)
            .values_list("metric_name", flat=True)
            .distinct()
        )

    def range(self, metric_name: str, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        rows = (
            self.model.objects.filter(
                metric_name=metric_name,
                timestamp__gte=dt.datetime.fromtimestamp(start / 1000, _UTC),
                timestamp__lte=dt.datetime.fromtimestamp(end / 1000, _UTC),
            )
            .order_by("timestamp")
            .values_list("timestamp", "value")
        )
        ts = np.array([int(t.timestamp() * 1000) for t, _ in rows], dtype=np.int64)
        vals = np.array([float(v) for _, v in rows], dtype=np.float64)
        return ts, vals

    def range_hourly(self, metric_name: str, start: int, end: int) -> list[dict[str, Any]]:
        from django.db.models import Count, Max, Min, Sum
        from django.db.models.functions import TruncHour

        return list(
            self.model.objects.filter(
                metric_name=metric_name,
                timestamp__gte=dt.datetime.fromtimestamp(start / 1000, _UTC),
                timestamp__lte=dt.datetime.fromtimestamp(end / 1000, _UTC),
            )
            .annotate(h=TruncHour("timestamp"))
            .values("h")
            .annotate(mn=Min("value"), mx=Max("value"), sm=Sum("value"), n=Count("id"))
            .order_by("h")
        )

    def bytes(self) -> int:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return self.path.stat().st_size

    def truncate(self) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {self.model._meta.db_table}")
            cur.execute("VACUUM")
