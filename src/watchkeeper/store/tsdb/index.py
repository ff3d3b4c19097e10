"""The series index: label matchers answered from postings, not a scan.

Why in memory: a few thousand series take a few megabytes, and selecting
100 of 10,000 series must take well under a millisecond. The postings map
each (label, value) pair, ``__name__`` included, to the set of series ids;
an equality matcher is one dict lookup, a regex is evaluated once per
distinct *value* of its label (not per series), and negative matchers
subtract from what the positive ones found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from watchkeeper.model import NAME_LABEL, Matcher, MatchOp
from watchkeeper.store.base import Series

__all__ = ["SeriesIndex"]

#: Selections remembered between changes of the index (rule selectors repeat
#: every evaluation; sorting thousands of label sets each time is not free).
_SELECT_CACHE = 4096


class SeriesIndex:
    """Series by id, by (name, labels), and by label pair."""

    def __init__(self) -> None:
        self.by_id: dict[int, Series] = {}
        #: label name -> value -> series ids.
        self._postings: dict[str, dict[str, set[int]]] = {}
        #: Bumped after every change (overall, and per metric name), so a
        #: remembered selection from before the change is not used.
        self._version = 0
        self._name_version: dict[str, int] = {}
        #: matchers -> (index version, sorted series, their ids).
        self._selections: dict[
            tuple[Matcher, ...], tuple[int, list[Series], npt.NDArray[np.int64]]
        ] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def add(self, series: Series) -> None:
        if series.id in self.by_id:
            return
        self.by_id[series.id] = series
        for name, value in _pairs(series):
            self._postings.setdefault(name, {}).setdefault(value, set()).add(series.id)
        self._changed(series.name)

    def remove(self, sid: int) -> None:
        series = self.by_id.pop(sid, None)
        if series is None:
            return
        for name, value in _pairs(series):
            values = self._postings.get(name, {})
            ids = values.get(value)
            if ids is not None:
                ids.discard(sid)
                if not ids:
                    del values[value]
            if not values:
                self._postings.pop(name, None)
        self._changed(series.name)

    def _changed(self, name: str) -> None:
        self._name_version[name] = self._name_version.get(name, 0) + 1
        self._version += 1

    def _version_for(self, matchers: Sequence[Matcher]) -> int:
        """The version a selection depends on: its metric name's when it fixes one."""
        for m in matchers:
            if m.name == NAME_LABEL and m.op is MatchOp.EQ:
                return self._name_version.get(m.value, 0)
        return self._version

    def label_names(self) -> list[str]:
        return sorted(self._postings)

    def label_values(self, name: str) -> list[str]:
        return sorted(self._postings.get(name, {}))

    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        """Matching series sorted by (name, labels)."""
        return list(self.selection(matchers)[0])

    def selection(self, matchers: Sequence[Matcher]) -> tuple[list[Series], npt.NDArray[np.int64]]:
        """``select`` and the ids of its series, remembered until the index changes.

        The list is shared between callers: do not modify it.
        """
        key = tuple(matchers)
        version = self._version_for(key)
        hit = self._selections.get(key)
        if hit is not None and hit[0] == version:
            return hit[1], hit[2]
        found = [self.by_id[i] for i in self.select_ids(matchers)]
        found.sort(key=lambda s: (s.name, s.labels))
        ids = np.fromiter((s.id for s in found), dtype=np.int64, count=len(found))
        if len(self._selections) >= _SELECT_CACHE:
            self._selections.clear()
        # Tagged with the version seen before selecting: a change meanwhile voids it.
        self._selections[key] = (version, found, ids)
        return found, ids

    def select_ids(self, matchers: Sequence[Matcher]) -> set[int]:
        # Positive sets first (smallest first), then subtract the negatives.
        positive: list[set[int]] = []
        negative: list[set[int]] = []
        for m in matchers:
            matched, inverted = self._match(m)
            (negative if inverted else positive).append(matched)
        if positive:
            positive.sort(key=len)
            result = set(positive[0])
            for other in positive[1:]:
                result &= other
                if not result:
                    return result
        else:
            result = set(self.by_id)
        for other in negative:
            result -= other
        return result

    def _match(self, m: Matcher) -> tuple[set[int], bool]:
        """(ids, inverted): the series matching ``m``, or (inverted) those failing it."""
        values = self._postings.get(m.name, {})
        if m.op in (MatchOp.EQ, MatchOp.NE):
            if m.value == "":
                # {l=""} is "l missing or empty": the complement of "l set to a value".
                has = _union(v for k, v in values.items() if k != "")
                return has, m.op is MatchOp.EQ
            return set(values.get(m.value, ())), m.op is MatchOp.NE
        # Regexes: evaluate against each distinct value once.
        regex = m.regex
        hits = _union(ids for value, ids in values.items() if regex.fullmatch(value))
        if regex.fullmatch("") is not None:
            # The empty string matches, so series without the label match too:
            # express it as the complement of the set-valued non-matches.
            misses = _union(ids for value, ids in values.items() if not regex.fullmatch(value))
            return misses, m.op is MatchOp.RE
        return hits, m.op is MatchOp.NRE


def _pairs(series: Series) -> Iterable[tuple[str, str]]:
    yield NAME_LABEL, series.name
    yield from series.labels


def _union(sets: Iterable[set[int]]) -> set[int]:
    out: set[int] = set()
    for s in sets:
        out |= s
    return out
