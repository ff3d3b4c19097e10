"""Checking what a collector returned before it reaches the store.

A collector is third-party code as far as the run loop is concerned: it may
return garbage. Bad items are dropped and counted; the good ones are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from watchkeeper.model import Labels, Sample, is_valid_label_name, is_valid_metric_name

__all__ = ["Checked", "check_samples"]


@dataclass
class Checked:
    samples: list[Sample] = field(default_factory=list)
    rejected: int = 0
    #: The first problem found, for the log line.
    problem: str | None = None


def check_samples(result: object, now_ms: int) -> Checked:
    """Keep the well-formed samples of ``result``; describe the first bad one."""
    out = Checked()
    if result is None:
        return out
    if isinstance(result, str | bytes) or not isinstance(result, Iterable):
        out.rejected = 1
        out.problem = f"collector returned {type(result).__name__}, expected samples"
        return out
    for item in result:
        problem = _problem(item, now_ms)
        if problem is None:
            assert isinstance(item, Sample)
            out.samples.append(
                item if type(item.value) is float else item._replace(value=float(item.value))
            )
            continue
        out.rejected += 1
        if out.problem is None:
            out.problem = problem
    return out


_FUTURE_TOLERANCE_MS = 10 * 60 * 1000


def _problem(item: object, now_ms: int) -> str | None:
    if not isinstance(item, Sample):
        return f"not a Sample: {type(item).__name__}"
    name, labels, ts, value = item
    if not isinstance(name, str) or not is_valid_metric_name(name):
        return f"invalid metric name {name!r}"
    if not isinstance(labels, Labels):
        return f"{name}: labels must be Labels, got {type(labels).__name__}"
    for key, val in labels:
        if not isinstance(key, str) or not is_valid_label_name(key):
            return f"{name}: invalid label name {key!r}"
        if not isinstance(val, str):
            return f"{name}: label {key} value must be a string"
    if isinstance(ts, bool) or not isinstance(ts, int):
        return f"{name}: timestamp must be an int of milliseconds"
    if ts <= 0 or ts > now_ms + _FUTURE_TOLERANCE_MS:
        return f"{name}: timestamp {ts} is out of range"
    if isinstance(value, bool) or not isinstance(value, float | int):
        return f"{name}: value must be a number, got {type(value).__name__}"
    return None
