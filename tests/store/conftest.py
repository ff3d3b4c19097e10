from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from watchkeeper.store.tsdb import TSDBStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TSDBStore]:
    s = TSDBStore(tmp_path / "wk.db", background=False)
    yield s
    s.close()
