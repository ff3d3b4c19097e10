"""The evaluator's internal values: whole query ranges at once, as numpy arrays.

Every node evaluates for all steps of a query together (an instant query is a
range of one step), so the per-sample work is numpy's, not Python's:

- :class:`VBlock` an instant vector over ``k`` steps: one row per label set,
  ``values``/``present`` of shape ``(n, k)``. Presence is kept apart from the
  value because NaN is a legitimate PromQL value.
- :class:`SBlock` a scalar per step; :class:`StrVal` a string.
- :class:`MBlock` a range vector: each series' raw points, flattened, plus the
  window end of each step. Range functions cut windows out of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.model import NAME_LABEL, Labels
from watchkeeper.query.values import QueryError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

__all__ = ["MBlock", "SBlock", "StrVal", "VBlock", "drop_name", "merge_rows", "sorted_labels"]


@dataclass(slots=True)
class VBlock:
    labels: list[Labels]
    values: F64
    present: Bool
    #: Sample timestamps, only for raw selector output (``timestamp()`` needs them).
    sample_ts: I64 | None = None

    @staticmethod
    def empty(k: int) -> VBlock:
        return VBlock([], np.zeros((0, k)), np.zeros((0, k), dtype=bool))

    @property
    def k(self) -> int:
        return int(self.values.shape[1])

    def take(self, rows: npt.NDArray[np.intp] | list[int]) -> VBlock:
        r = np.asarray(rows, dtype=np.intp)
        ts = self.sample_ts[r] if self.sample_ts is not None else None
        return VBlock([self.labels[i] for i in r], self.values[r], self.present[r], ts)

    def compact(self) -> VBlock:
        """Drop rows that are absent at every step."""
        keep = self.present.any(axis=1)
        if keep.all():
            return self
        return self.take(np.flatnonzero(keep))


@dataclass(slots=True)
class SBlock:
    values: F64


@dataclass(slots=True)
class StrVal:
    value: str


@dataclass(slots=True)
class MBlock:
    labels: list[Labels]
    ts: I64
    v: F64
    #: Row ``i``'s points are ``ts[offsets[i]:offsets[i+1]]``.
    offsets: I64
    #: Window end of each step (evaluation time minus offset, or the @ time).
    refs: I64
    range_ms: int

    def windows(self) -> tuple[I64, I64]:
        """Flat indices ``[lo, hi)`` of each (row, step) window, shape ``(n, k)``.

        Windows are closed on both ends, ``[ref - range, ref]``, as in
        Prometheus 2.x. One ``searchsorted`` over a (row, time) composite key
        does every row and step at once.
        """
        n = len(self.labels)
        k = int(self.refs.shape[0])
        if n == 0:
            z = np.zeros((0, k), dtype=np.int64)
            return z, z
        if k == 1 and self.ts.size:
            ref = int(self.refs[0])
            if int(self.ts.min()) >= ref - self.range_ms and int(self.ts.max()) <= ref:
                # One step and every point inside its window (the selector
                # read exactly that range): each row is its own window.
                return self.offsets[:-1, None].copy(), self.offsets[1:, None].copy()
        lengths = np.diff(self.offsets)
        base = min(int(self.ts.min()) if self.ts.size else 0, int(self.refs.min()) - self.range_ms)
        top = max(int(self.ts.max()) if self.ts.size else 0, int(self.refs.max()))
        span = top - base + 2
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        comp = rows * span + (self.ts - base)
        row_base = (np.arange(n, dtype=np.int64) * span)[:, None]
        lo = np.searchsorted(comp, row_base + (self.refs - self.range_ms - base)[None, :], "left")
        hi = np.searchsorted(comp, row_base + (self.refs - base)[None, :], "right")
        return lo.astype(np.int64), hi.astype(np.int64)


def sorted_labels(pairs: Iterable[tuple[str, str]]) -> Labels:
    """Labels from pairs already in sorted order (a filtered Labels, say).

    ``Labels(...)`` sorts its input; filtering a sorted tuple keeps it sorted,
    so the hot paths (dropping ``__name__``, grouping keys) skip the sort.
    """
    return tuple.__new__(Labels, pairs)


def drop_name(labels: Labels) -> Labels:
    """The labels without ``__name__`` (what most operators and functions return)."""
    for key, _ in labels:
        if key == NAME_LABEL:
            return sorted_labels([p for p in labels if p[0] != NAME_LABEL])
    return labels


def merge_rows(
    block: VBlock, error: str = "vector cannot contain metrics with the same labelset"
) -> VBlock:
    """Fold rows with equal label sets into one; overlapping presence is an error.

    Two rows may legitimately share labels when they are present at different
    steps (e.g. after ``label_replace`` over a range); present at the same step
    they are the duplicate Prometheus refuses.
    """
    labels = block.labels
    if len(set(labels)) == len(labels):
        return block
    index: dict[Labels, int] = {}
    owner = np.empty(len(labels), dtype=np.intp)
    for i, lab in enumerate(labels):
        owner[i] = index.setdefault(lab, len(index))
    g = len(index)
    counts = np.zeros((g, block.k), dtype=np.int64)
    np.add.at(counts, owner, block.present.astype(np.int64))
    if (counts > 1).any():
        bad = next(lab for lab, j in index.items() if (counts[j] > 1).any())
        raise QueryError(f"{error}: {bad}")
    values = np.zeros((g, block.k))
    present = counts > 0
    for i in range(len(labels)):
        p = block.present[i]
        values[owner[i], p] = block.values[i, p]
    return VBlock(list(index), values, present)
