"""The sort-based set helpers agree with numpy's own, and keep numpy.ma out of the run loop."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from watchkeeper.arraysets import isin_sorted, runs_of_sorted, union, unique

ints = arrays(np.int64, st.integers(0, 60), elements=st.integers(-5, 5))


@given(ints, ints)
def test_helpers_agree_with_numpy(a: np.ndarray, b: np.ndarray) -> None:
    assert np.array_equal(unique(a), np.unique(a))
    assert np.array_equal(union(a, b), np.union1d(a, b))
    s = np.sort(a)
    assert np.array_equal(runs_of_sorted(s), np.unique(s, return_inverse=True)[1])
    assert np.array_equal(isin_sorted(b, np.unique(a)), np.isin(b, a))


def test_the_store_and_queries_never_import_numpy_ma(tmp_path: object) -> None:
    """numpy.ma costs ~9 MB resident once imported; nothing in the agent's path needs it."""
    code = textwrap.dedent(
        f"""
        import sys
        from watchkeeper.model import Labels, Sample
        from watchkeeper.query import range_query, instant_query
        from watchkeeper.store.tsdb import TSDBStore

        store = TSDBStore({str(tmp_path)!r} + "/wk.db", background=False)
        t0 = 1_767_225_600_000
        for k in range(400):
            store.append([Sample("m", Labels({{"i": str(i)}}), t0 + k * 10_000, float(k + i))
                          for i in range(30)])
        store.cut(t0 + 300 * 10_000)
        store.compact(full=True)
        store.run_maintenance()
        store.enforce_retention()
        range_query(store, "rate(m[5m])", t0, t0 + 4_000_000, 60_000)
        instant_query(store, "sum by (i) (m)", t0 + 3_990_000)
        store.close()
        print("numpy.ma" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
