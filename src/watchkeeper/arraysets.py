"""Set operations on numpy arrays, written with sorts instead of numpy's own.

Why not ``np.unique``/``np.union1d``/``np.isin``: in numpy 2.x ``np.unique``
(which the others call) first asks ``np.ma.is_masked``, and that lazily
imports ``numpy.ma``: about 9 MB of resident memory, never given back, in a
process that has no use for masked arrays. The run loop hit it the first
time the store's maintenance thread ran (bench/collect.py's RSS stepped up
after 30 s). These helpers do the same work with ``sort`` and comparisons.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["isin_sorted", "runs_of_sorted", "union", "unique"]

T = TypeVar("T", bound=np.generic)


def unique(a: npt.NDArray[T]) -> npt.NDArray[T]:
    """The distinct values of ``a``, ascending (``np.unique(a)``)."""
    s = np.sort(a, axis=None)
    if s.size < 2:
        return s
    new = np.empty(s.size, bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    return s[new]


def union(a: npt.NDArray[T], b: npt.NDArray[T]) -> npt.NDArray[T]:
    """The distinct values of both, ascending (``np.union1d(a, b)``)."""
    return unique(np.concatenate([a.ravel(), b.ravel()]))


def runs_of_sorted(a: npt.NDArray[np.generic]) -> npt.NDArray[np.intp]:
    """For a non-decreasing ``a``: the rank of each element's value among the
    distinct values (``np.unique(a, return_inverse=True)[1]`` for sorted input)."""
    if a.size == 0:
        return np.zeros(0, np.intp)
    new = np.empty(a.size, np.intp)
    new[0] = 0
    np.not_equal(a[1:], a[:-1], out=new[1:])
    out: npt.NDArray[np.intp] = np.cumsum(new)
    return out


def isin_sorted(values: npt.NDArray[T], sorted_set: npt.NDArray[T]) -> npt.NDArray[np.bool_]:
    """Which of ``values`` occur in ``sorted_set`` (ascending): ``np.isin`` by binary search."""
    if not sorted_set.size:
        return np.zeros(values.shape, bool)
    pos = np.searchsorted(sorted_set, values)
    hit: npt.NDArray[np.bool_] = pos < sorted_set.size
    hit[hit] = sorted_set[pos[hit]] == values[hit]
    return hit
